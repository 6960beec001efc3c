// A job's live card. Everything shown from the kernel goes through textContent: no markup
// from a prompt or a server string can ever become HTML here.
const STATUS_COLOR = {
  queued: "#6e7781", submitting: "#0969da", running: "#0969da", downloading: "#8250df",
  succeeded: "#1a7f37", failed: "#cf222e", detached: "#9a6700", unknown: "#9a6700",
};

function node(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

function fmt(seconds) {
  if (seconds == null || !isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

function blobUrl(view, mime) {
  if (!view || !view.byteLength) return null;
  return URL.createObjectURL(new Blob([view], { type: mime }));
}

function render({ model, el }) {
  const root = node("div", "cvnb-card");
  const head = node("div", "cvnb-head");
  const label = node("span", "cvnb-label");
  const badge = node("span", "cvnb-badge");
  const emu = node("span", "cvnb-emulated", "EMULATED");
  emu.title = "made by the bundled local emulator, not the real service";
  const params = node("span", "cvnb-params");
  head.append(label, badge, emu, params);
  const prompt = node("div", "cvnb-prompt");
  const progress = node("div", "cvnb-progress");
  const bar = node("div", "cvnb-bar");
  progress.append(bar);
  const line = node("div", "cvnb-line");
  const times = node("span", "cvnb-times");
  const note = node("span", "cvnb-note");
  line.append(times, note);
  const error = node("div", "cvnb-error");
  const media = node("div", "cvnb-media");
  const meta = node("div", "cvnb-meta");
  const buttons = node("div", "cvnb-buttons");
  const stop = node("button", "cvnb-stop", "Stop waiting");
  stop.title = "CogVideoX cannot cancel a task: this stops waiting; %cogvideo resume picks it up";
  const retry = node("button", "cvnb-retry", "Retry");
  buttons.append(stop, retry);
  root.append(head, prompt, progress, line, error, media, meta, buttons);
  el.append(root);

  stop.addEventListener("click", () => model.send({ action: "stop" }));
  retry.addEventListener("click", () => model.send({ action: "retry" }));

  // The kernel's clock and this browser's may differ: measure the offset at each update.
  let offset = 0;

  function drawPrompt() {
    prompt.replaceChildren();
    const parts = model.get("prompt_parts");
    if (parts && parts.length) {
      for (const [text, differs] of parts) prompt.append(node(differs ? "mark" : "span", null, text));
    } else {
      prompt.textContent = model.get("prompt");
    }
  }

  function drawTimes() {
    const status = model.get("status");
    const created = model.get("created_at");
    const finished = model.get("finished_at");
    const now = Date.now() / 1000 - offset;
    const elapsed = (finished || now) - created;
    const expected = model.get("expected_at");
    let text = `elapsed ${fmt(elapsed)}`;
    let frac = null;
    if (expected && !finished) {
      const left = expected - now;
      text += left > 0 ? ` · ETA ${fmt(left)}` : " · any moment now";
      const start = model.get("submitted_at") || created;
      frac = Math.min(0.97, (now - start) / Math.max(0.1, expected - start));
    }
    times.textContent = text;
    if (status === "succeeded") frac = 1;
    progress.classList.toggle("cvnb-indeterminate", frac == null && !finished);
    bar.style.width = frac == null ? "" : `${Math.max(2, frac * 100)}%`;
  }

  // The player outlives the view: when JupyterLab rebuilds the output (a display update when
  // a job ends), the new view adopts the same <video>, still playing. Views get separate model
  // proxies, so players are kept page-wide, by file name (unique per job).
  const players = (window.__cvnbPlayers ||= new Map());
  let current = null;

  function player(name, video) {
    let p = players.get(name);
    if (p && p.bytes === video.byteLength) return p;
    if (p) p.urls.forEach((u) => URL.revokeObjectURL(u));
    const src = blobUrl(video, "video/mp4");
    const poster = blobUrl(model.get("cover"), "image/png");
    const v = document.createElement("video");
    v.controls = true; v.muted = true; v.playsInline = true; v.preload = "auto";
    v.setAttribute("playsinline", ""); v.setAttribute("muted", "");
    if (poster) v.poster = poster;
    v.src = src;
    v.className = "cvnb-video";
    const save = node("a", "cvnb-save", `save ${name}`);
    save.href = src;
    save.download = name;
    p = { video: v, save, bytes: video.byteLength, urls: poster ? [src, poster] : [src], playing: null };
    players.set(name, p);
    return p;
  }

  function drawMedia() {
    const video = model.get("video");
    const name = model.get("video_name");
    current = video && video.byteLength && name ? player(name, video) : null;
    if (!current) {
      media.replaceChildren();
      return;
    }
    current.video.dataset.cvnbGroup = model.get("group");
    if (current.video.parentNode !== media) {
      const resume = current.playing ?? !current.video.paused;
      media.replaceChildren(current.video, current.save);
      current.playing = null;
      if (resume) current.video.play().catch(() => {});
    }
  }

  function draw() {
    const status = model.get("status");
    offset = Date.now() / 1000 - model.get("kernel_now");
    root.dataset.status = status;
    label.textContent = model.get("label") || "";
    label.hidden = !model.get("label");
    badge.textContent = status;
    badge.style.background = STATUS_COLOR[status] || "#6e7781";
    emu.hidden = !model.get("emulated");
    params.textContent = model.get("params_text");
    drawPrompt();
    note.textContent = model.get("note") || "";
    error.textContent = model.get("error") || "";
    error.hidden = !model.get("error");
    meta.textContent = model.get("meta_text") || "";
    const done = ["succeeded", "failed", "detached", "unknown"].includes(status);
    progress.hidden = done;
    stop.hidden = done;
    retry.hidden = !(status === "failed" || status === "detached" || status === "unknown");
    drawTimes();
    drawMedia();
  }

  const timer = setInterval(drawTimes, 500);
  model.on("change", draw);
  draw();
  return () => {
    clearInterval(timer);
    model.off("change", draw);  // a removed view must never pull the player back
    if (current && media.contains(current.video)) current.playing = !current.video.paused;
  };
}

export default { render };
