// A job's live card. Everything shown from the kernel goes through textContent: no markup
// from a prompt or a server string can ever become HTML here.
//
// When a job ends, the kernel replaces the card's output with static HTML (what a saved notebook
// shows without widget state), and so does every page that draws the card (cvnbEnd, for pages
// that do not know the output's display id). In the live page the card outlives its view: the
// page moves the running card (and its playing video) into that HTML, and releases cards that are
// gone for good.
const STATUS_COLOR = {
  queued: "#6e7781", submitting: "#0969da", running: "#0969da", downloading: "#8250df",
  succeeded: "#1a7f37", failed: "#cf222e", detached: "#9a6700", unknown: "#9a6700",
};
const POSTER = "\u0000poster\u0000"; // static_html carries this where the poster goes (_card.py)
const ACTIVE = ["queued", "submitting", "running", "downloading"];
// The word a person reads for each status (a message of the catalogue); "detached" is code.
const STATUS_WORD = { detached: "stopped waiting" };

function fmt(seconds, T) {
  if (seconds == null || !isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return T("{s} s", { s });
  return T("{m} min {s} s", { m: Math.floor(s / 60), s: String(s % 60).padStart(2, "0") });
}

// The Jupyter server serves files under its root: play from there, so the kernel sends no bytes.
// `rel`: the path under the root as the kernel read it from its server (real paths compared, so a
// symlinked root works); else the page's own idea of the root.
function serverUrl(path, rel) {
  const cfgEl = document.getElementById("jupyter-config-data");
  if (!cfgEl || !path) return null;
  let cfg;
  try { cfg = JSON.parse(cfgEl.textContent); } catch (e) { return null; }
  const base = String(cfg.baseUrl || "/").replace(/\/?$/, "/");
  if (rel) return base + "files/" + rel.split("/").map(encodeURIComponent).join("/");
  // Lab pages carry serverRoot; Notebook 7's /notebooks/ pages only rootUri (file:///...).
  let root = String(cfg.serverRoot || "");
  if (!root && String(cfg.rootUri || "").startsWith("file://")) {
    try { root = decodeURIComponent(new URL(cfg.rootUri).pathname); } catch (e) { root = ""; }
  }
  root = root.replace(/\/+$/, "");
  if (!root || root.startsWith("~") || !path.startsWith(root + "/")) return null;
  return base + "files/" + path.slice(root.length + 1).split("/").map(encodeURIComponent).join("/");
}

const page = cvnbPage(); // page-wide: live cards, grid bars, the observer that adopts them

async function render({ model: proxy, el }) {
  // The proxy's listeners die with this view; the model itself lives as long as the kernel's
  // widget, so the card listens on it and can keep going after being adopted.
  let model = (await proxy.widget_manager.get_model(proxy.get("mid")).catch(() => null)) || proxy;
  const T = cvnbWords(() => model); // every word from the kernel's catalogue
  cvnbTellLanguage(model);
  const root = cvnbNode("div", "cvnb-card");
  const head = cvnbNode("div", "cvnb-head");
  const label = cvnbNode("span", "cvnb-label");
  const badge = cvnbNode("span", "cvnb-badge");
  const emu = cvnbNode("span", "cvnb-emulated", T("EMULATED"));
  emu.title = T("made by the bundled local emulator, not the real service");
  const params = cvnbNode("span", "cvnb-params");
  const ident = cvnbNode("code", "cvnb-id");
  ident.title = T("this job's id: %cogvideo show / resume / stop take it");
  head.append(label, badge, emu, params, ident);
  const prompt = cvnbNode("div", "cvnb-prompt");
  const progress = cvnbNode("div", "cvnb-progress");
  const bar = cvnbNode("div", "cvnb-bar");
  progress.append(bar);
  const line = cvnbNode("div", "cvnb-line");
  const times = cvnbNode("span", "cvnb-times");
  const note = cvnbNode("span", "cvnb-note");
  line.append(times, note);
  const error = cvnbNode("div", "cvnb-error");
  const gone = cvnbNode("div", "cvnb-gone",
    T("The kernel that ran this job is gone. In the new kernel, %load_ext cogvideo_nb offers Resume."));
  const media = cvnbNode("div", "cvnb-media");
  const meta = cvnbNode("div", "cvnb-meta");
  const link = cvnbNode("div", "cvnb-continues");
  const linkA = cvnbNode("a");
  link.append(T("continues") + " ", linkA);
  // A rating: five stars and a short note, saved in the ledger (what %cogvideo report shows).
  const rate = cvnbNode("div", "cvnb-rate");
  const stars = [1, 2, 3, 4, 5].map((i) => {
    const b = cvnbNode("button", "cvnb-star", "☆");
    b.title = T("{i} of 5", { i });
    b.dataset.value = String(i);
    return b;
  });
  const noteIn = cvnbNode("input", "cvnb-note-input");
  noteIn.placeholder = T("a short note: what works, what does not");
  noteIn.maxLength = 500;
  const saveNote = cvnbNode("button", "cvnb-note-save", T("Save note"));
  const rateMsg = cvnbNode("span", "cvnb-rate-msg");
  rate.append(...stars, noteIn, saveNote, rateMsg);
  const buttons = cvnbNode("div", "cvnb-buttons");
  const stop = cvnbNode("button", "cvnb-stop", T("Stop waiting"));
  stop.title = T("CogVideoX cannot cancel a task: this stops waiting; Resume picks the same task up again");
  const resume = cvnbNode("button", "cvnb-resume", T("Resume"));
  resume.title = T("wait for the same task again (no new task, no new cost)");
  const retry = cvnbNode("button", "cvnb-retry", T("Retry (new task)"));
  retry.title = T("send the request again: a new task, generated (and paid) again");
  const ask = cvnbNode("span", "cvnb-ask");
  buttons.append(stop, resume, retry, ask);
  root.append(head, link, prompt, progress, line, error, gone, media, meta, rate, buttons);
  el.append(root);

  let kernelGone = false;
  cvnbHookSave(proxy.widget_manager);
  const entry = { root, video: null, wasPlaying: false, goneAt: null, blob: null, name: null, viewGone: false,
                  jobId: () => model.get("job_id") };
  function markGone() { kernelGone = true; draw(); }
  function send(msg) {
    try { model.send(msg); } catch (e) { markGone(); }
  }
  stop.addEventListener("click", () => send({ action: "stop" }));
  resume.addEventListener("click", () => send({ action: "resume" }));
  retry.addEventListener("click", () => send({ action: "retry" }));
  const sendRating = (value) => send({ action: "rate", rating: value, note: noteIn.value });
  for (const b of stars) b.addEventListener("click", () => {
    const value = Number(b.dataset.value);
    sendRating(value === model.get("rating") ? 0 : value); // the same star again clears
  });
  saveNote.addEventListener("click", () => sendRating(model.get("rating")));
  noteIn.addEventListener("keydown", (e) => { if (e.key === "Enter") sendRating(model.get("rating")); });

  // A restarted or shut down kernel has lost this job's card: say so, offer nothing dead.
  const kernel = proxy.widget_manager && proxy.widget_manager.kernel;
  const onStatus = (_, s) => { if (["restarting", "autorestarting", "dead"].includes(s)) markGone(); };
  if (kernel && kernel.statusChanged) kernel.statusChanged.connect(onStatus);
  if (kernel && kernel.disposed) kernel.disposed.connect(markGone);

  let offset = 0; // the kernel's clock and this browser's may differ

  function drawPrompt() {
    prompt.replaceChildren();
    const parts = model.get("prompt_parts");
    if (parts && parts.length) {
      for (const [text, differs] of parts) prompt.append(cvnbNode(differs ? "mark" : "span", null, text));
    } else {
      prompt.textContent = model.get("prompt");
    }
    prompt.title = model.get("prompt");
  }

  function drawTimes() {
    const status = model.get("status");
    const created = model.get("created_at");
    const finished = model.get("finished_at");
    const now = Date.now() / 1000 - offset;
    const elapsed = (finished || now) - created;
    const expected = model.get("expected_at");
    let text = T("elapsed {time}", { time: fmt(elapsed, T) });
    let frac = null;
    if (kernelGone && !finished) {
      text = T("no longer followed");
    } else if (expected && !finished) {
      const left = expected - now;
      text += " · " + (left > 0 ? T("ETA {time}", { time: fmt(left, T) }) : T("any moment now"));
      const start = model.get("submitted_at") || created;
      frac = Math.min(0.97, (now - start) / Math.max(0.1, expected - start));
    }
    times.textContent = text;
    if (status === "succeeded") frac = 1;
    progress.classList.toggle("cvnb-indeterminate", frac == null && !finished);
    bar.style.width = frac == null ? "" : `${Math.max(2, frac * 100)}%`;
  }

  function setVideo(src) {
    const v = entry.video;
    v.src = src;
    const save = media.querySelector(".cvnb-save");
    if (save) save.href = src;
  }

  function drawMedia() {
    const name = model.get("video_name");
    if (!name) {
      if (entry.name) media.replaceChildren();
      entry.name = null;
      return;
    }
    if (entry.name === name) return;
    entry.name = name;
    if (entry.blob) { URL.revokeObjectURL(entry.blob); entry.blob = null; } // a retry's new video
    const v = document.createElement("video");
    v.controls = true; v.muted = true; v.playsInline = true; v.preload = "metadata";
    v.setAttribute("playsinline", ""); v.setAttribute("muted", "");
    v.className = "cvnb-video";
    v.dataset.cvnbGroup = model.get("group");
    if (model.get("poster")) v.poster = model.get("poster");
    // At most twice the clip's own width: a small clip is not blown up to fill a wide page.
    v.addEventListener("loadedmetadata", () => { if (v.videoWidth) v.style.maxWidth = `${2 * v.videoWidth}px`; });
    entry.video = v;
    const save = cvnbNode("a", "cvnb-save", T("save {name}", { name }));
    save.download = name;
    media.replaceChildren(v, save);
    const url = serverUrl(model.get("video_path"), model.get("video_rel"));
    let fellBack = false;
    const fallback = () => { if (!fellBack) { fellBack = true; send({ action: "fetch" }); } };
    if (url) {
      v.addEventListener("error", fallback, { once: true });
      setVideo(url);
    } else {
      fallback();
    }
  }

  function onMsg(msg, buffers) {
    if (!msg || msg.kind !== "video" || msg.name !== entry.name || !entry.video) return;
    if (!msg.ok || !buffers || !buffers.length) {
      meta.textContent = `${model.get("meta_text")} · ${T("too large to play here: open the file")}`;
      return;
    }
    if (entry.blob) URL.revokeObjectURL(entry.blob);
    entry.blob = URL.createObjectURL(new Blob([buffers[0]], { type: "video/mp4" }));
    setVideo(entry.blob);
  }

  function draw() {
    const status = model.get("status");
    offset = Date.now() / 1000 - model.get("kernel_now");
    root.dataset.status = status;
    root.dataset.kernel = kernelGone ? "gone" : "live";
    label.textContent = model.get("label") || "";
    label.hidden = !model.get("label");
    badge.textContent = T(STATUS_WORD[status] || status);
    badge.style.background = STATUS_COLOR[status] || "#6e7781";
    emu.hidden = !model.get("emulated");
    params.textContent = model.get("params_text");
    ident.textContent = model.get("short_id");
    drawPrompt();
    note.textContent = model.get("note") || "";
    error.textContent = model.get("error") || "";
    error.hidden = !model.get("error");
    meta.textContent = model.get("meta_text") || "";
    const active = ACTIVE.includes(status);
    progress.hidden = !active || kernelGone;
    const open = ["detached", "failed", "unknown"].includes(status);  // ended, yet not for good
    gone.hidden = !kernelGone || !active && !open;
    stop.hidden = !active || kernelGone;
    // unknown: the server may have the task; Resume asks again with the same request id.
    resume.hidden = !(status === "detached" || status === "unknown") || kernelGone;
    retry.hidden = !open || kernelGone;
    const asking = model.get("retry_ask") || "";
    retry.textContent = asking ? T("Confirm: retry (paid)") : T("Retry (new task)");
    ask.textContent = asking;
    ask.hidden = !asking || retry.hidden;
    const from = model.get("continues");
    link.hidden = !from;
    linkA.textContent = model.get("continues_text") || from;
    linkA.href = `#cvnb-card-${from}`;
    root.id = `cvnb-card-${model.get("job_id")}`;
    rate.hidden = status !== "succeeded" || kernelGone;
    const r = model.get("rating");
    stars.forEach((b, i) => { b.textContent = i < r ? "★" : "☆"; });
    if (document.activeElement !== noteIn) noteIn.value = model.get("rating_note") || "";
    rateMsg.textContent = model.get("rating_error") || "";
    drawTimes();
    drawMedia();
    const ended = model.get("static_html");
    if (ended && ended !== entry.ended) {
      entry.ended = ended;
      const plain = `${status}: ${model.get("prompt")}`;
      const html = ended.split(POSTER).join(model.get("poster") || "");
      cvnbEnd(proxy.widget_manager, model.get("shows"), { "text/html": html, "text/plain": plain });
    }
  }

  const timer = setInterval(drawTimes, 500);
  const listen = (on) => { model[on]("change", draw); model[on]("msg:custom", onMsg); };
  listen("on");
  // After a restart, a resumed job's new card brings its card from the dead kernel back to life.
  entry.dead = () => kernelGone;
  entry.rebind = (live) => {
    listen("off");
    model = live;
    kernelGone = false;
    entry.name = null;
    listen("on");
    draw();
  };
  entry.release = () => {
    clearInterval(timer);
    listen("off");
    if (kernel && kernel.statusChanged) kernel.statusChanged.disconnect(onStatus);
    if (kernel && kernel.disposed) kernel.disposed.disconnect(markGone);
    if (entry.blob) {
      URL.revokeObjectURL(entry.blob);
      entry.video.removeAttribute("src");
    }
    page.cards.delete(entry);
  };
  page.cards.add(entry);
  draw();
  for (const e of page.cards) if (e !== entry && e.dead() && e.jobId() === model.get("job_id")) e.rebind(model);
  return () => {
    // The view is going; the card may be adopted by the static HTML that replaces it.
    entry.wasPlaying = !!entry.video && !entry.video.paused;
    entry.viewGone = true;
  };
}

export default { render };
