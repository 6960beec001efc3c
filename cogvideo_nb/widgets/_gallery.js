// The gallery: every job of the output folder as posters, a page at a time. Everything from the
// kernel goes through textContent: no markup from a prompt or a server string becomes HTML here.
//
// The kernel sends one page; filters, sort and paging are asked of it. A poster plays its video
// from the Jupyter server while hovered (nothing is loaded before). A click opens the job's card;
// ticked tiles open below as a comparison grid, or are stitched or tiled, in the order ticked.
// What a notebook saves of the gallery is the page it shows, as static HTML (the kernel's
// snapshot, posters filled in from this page): never a widget a reopened notebook cannot draw.

const GALLERY_SLOT = (id) => `\u0000poster:${id}\u0000`; // _gallery.py's POSTER_SLOT
const NO_POSTER = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
const galleries = (window.__cvnbSaved ||= new Map()); // key -> what to save of its outputs (cvnbHookSave)

// A file under the Jupyter server's root (the kernel gives its path there), as the server serves it.
function galleryUrl(rel) {
  const cfgEl = document.getElementById("jupyter-config-data");
  if (!cfgEl || !rel) return null;
  let cfg;
  try { cfg = JSON.parse(cfgEl.textContent); } catch (e) { return null; }
  const base = String(cfg.baseUrl || "/").replace(/\/?$/, "/");
  return base + "files/" + rel.split("/").map(encodeURIComponent).join("/");
}

// The page as static HTML, each poster slot filled with the poster this page holds.
function gallerySaved(model, T) {
  let html = model.get("snapshot") || "";
  for (const item of model.get("items") || []) html = html.split(GALLERY_SLOT(item.id)).join(item.poster || NO_POSTER);
  html = html.replace(/\u0000poster:[^\u0000]*\u0000/g, NO_POSTER);
  return { "text/html": html, "text/plain": `${T("Gallery")}: ${model.get("total")}` };
}

async function render({ model: proxy, el }) {
  const model = (await proxy.widget_manager.get_model(proxy.get("mid")).catch(() => null)) || proxy;
  const T = cvnbWords(() => model); // every word from the kernel's catalogue
  cvnbTellLanguage(model);
  cvnbHookSave(proxy.widget_manager);
  galleries.set(model.get("key"), () => gallerySaved(model, T));

  const root = cvnbNode("div", "cvnb-gallery");
  const bar = cvnbNode("div", "cvnb-gallery-bar");
  const search = cvnbNode("input", "cvnb-gallery-text");
  search.type = "search";
  search.placeholder = T("words of a prompt, a note or an id");
  const selects = {};
  for (const name of ["model", "status", "rating", "sort"]) {
    selects[name] = cvnbNode("select", `cvnb-gallery-${name}`);
    selects[name].title = { model: T("model"), status: T("status"), rating: T("rating"), sort: T("order") }[name];
  }
  const since = cvnbNode("input", "cvnb-gallery-since");
  since.type = "date";
  since.title = T("created on or after");
  const until = cvnbNode("input", "cvnb-gallery-until");
  until.type = "date";
  until.title = T("created on or before");
  const refresh = cvnbNode("button", "cvnb-gallery-refresh", T("Refresh"));
  refresh.title = T("read the ledger again: new jobs, new ratings");
  bar.append(search, selects.model, selects.status, selects.rating, since, cvnbNode("span", null, "–"), until,
             selects.sort, refresh);
  const pager = cvnbNode("div", "cvnb-gallery-pager");
  const summary = cvnbNode("span", "cvnb-gallery-summary");
  const prev = cvnbNode("button", "cvnb-gallery-prev", "‹ " + T("Previous"));
  const next = cvnbNode("button", "cvnb-gallery-next", T("Next") + " ›");
  pager.append(prev, summary, next);
  const picks = cvnbNode("div", "cvnb-gallery-picks");
  const picked = cvnbNode("span", "cvnb-gallery-picked");
  const asGrid = cvnbNode("button", "cvnb-gallery-grid", T("Open as grid"));
  asGrid.title = T("the ticked jobs side by side, in the order ticked, below the gallery");
  const stitch = cvnbNode("button", "cvnb-gallery-stitch", T("Stitch"));
  stitch.title = T("join the ticked clips, in the order ticked, into one MP4");
  const tile = cvnbNode("button", "cvnb-gallery-tile", T("Tile"));
  tile.title = T("the ticked clips side by side in one labelled MP4, plus a contact sheet");
  const clear = cvnbNode("button", "cvnb-gallery-clear", T("Clear"));
  picks.append(picked, asGrid, stitch, tile, clear);
  const message = cvnbNode("div", "cvnb-gallery-message");
  const tiles = cvnbNode("div", "cvnb-gallery-tiles");
  const dialog = cvnbNode("dialog", "cvnb-gallery-card");
  root.append(bar, pager, picks, message, tiles, dialog);
  el.append(root);

  let gone = false;
  const markGone = () => { gone = true; drawMessage(); };
  function send(msg) {
    try { model.send(msg); } catch (e) { markGone(); }
  }
  // A restarted or shut down kernel has lost this gallery: say so (its page stays to look at).
  const kernel = proxy.widget_manager && proxy.widget_manager.kernel;
  const onStatus = (_, s) => { if (["restarting", "autorestarting", "dead"].includes(s)) markGone(); };
  if (kernel && kernel.statusChanged) kernel.statusChanged.connect(onStatus);
  const selected = []; // ids, in the order ticked (kept across pages and filters)
  const shown = new Map(); // id -> its tile on this page

  // -- filters and pages: asked of the kernel --------------------------------------------------
  const wanted = () => ({
    text: search.value, model: selects.model.value, status: selects.status.value,
    rating: selects.rating.value, since: since.value, until: until.value, sort: selects.sort.value,
  });
  const ask = (page) => send({ action: "query", page, filters: wanted() });
  let typing = null;
  search.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => ask(1), 300); });
  for (const s of Object.values(selects)) s.addEventListener("change", () => ask(1));
  for (const d of [since, until]) d.addEventListener("change", () => ask(1));
  refresh.addEventListener("click", () => ask(model.get("number")));
  prev.addEventListener("click", () => ask(model.get("number") - 1));
  next.addEventListener("click", () => ask(model.get("number") + 1));

  function drawChoices() {
    const offered = model.get("choices") || {};
    const filters = model.get("filters") || {};
    for (const [name, select] of Object.entries(selects)) {
      select.replaceChildren(...(offered[name] || []).map(([value, words]) => {
        const o = cvnbNode("option", null, words);
        o.value = value;
        return o;
      }));
      select.value = filters[name] || (name === "sort" ? "newest" : "");
    }
  }

  function drawFilters() {
    const filters = model.get("filters") || {};
    if (document.activeElement !== search) search.value = filters.text || "";
    since.value = filters.since || "";
    until.value = filters.until || "";
    for (const [name, select] of Object.entries(selects)) select.value = filters[name] || (name === "sort" ? "newest" : "");
  }

  function drawSummary() {
    const total = model.get("total");
    const n = (model.get("items") || []).length;
    const first = model.get("first");
    const pages = model.get("pages");
    summary.textContent = !total
      ? T("no jobs match")
      : T("{first}-{last} of {total} jobs", { first, last: first + n - 1, total })
        + (pages > 1 ? " · " + T("page {n} of {pages}", { n: model.get("number"), pages }) : "");
    prev.disabled = model.get("number") <= 1;
    next.disabled = model.get("number") >= model.get("pages");
  }

  function drawMessage() {
    message.textContent = gone
      ? T("The kernel behind this gallery is gone: run its cell again.")
      : model.get("message") || "";
    message.hidden = !message.textContent;
  }

  // -- the selection ------------------------------------------------------------------------
  function drawPicks() {
    picked.textContent = T("{n} ticked", { n: selected.length });
    picks.classList.toggle("cvnb-gallery-picks-on", selected.length > 0);
    for (const b of [asGrid, stitch, tile]) b.disabled = selected.length < 2;
    for (const [id, t] of shown) {
      const at = selected.indexOf(id);
      t.classList.toggle("cvnb-ticked", at >= 0);
      t.querySelector(".cvnb-tile-pick").checked = at >= 0;
      t.querySelector(".cvnb-tile-order").textContent = at >= 0 ? String(at + 1) : "";
    }
  }
  const act = (action) => send({ action, ids: [...selected] });
  asGrid.addEventListener("click", () => act("grid"));
  stitch.addEventListener("click", () => act("stitch"));
  tile.addEventListener("click", () => act("tile"));
  clear.addEventListener("click", () => { selected.length = 0; drawPicks(); });

  // -- tiles ----------------------------------------------------------------------------------
  function stars(n) { return n ? "★".repeat(n) : ""; }

  function makeTile(item) {
    const t = cvnbNode("div", "cvnb-tile");
    t.dataset.job = item.id;
    t.dataset.status = item.status;
    const pic = cvnbNode("div", "cvnb-tile-pic");
    const img = cvnbNode("img", "cvnb-tile-poster");
    img.alt = "";
    img.loading = "lazy";
    const pick = cvnbNode("input", "cvnb-tile-pick");
    pick.type = "checkbox";
    pick.title = T("tick to compare, stitch or tile");
    const order = cvnbNode("span", "cvnb-tile-order");
    const status = cvnbNode("span", "cvnb-tile-status");
    pic.append(img, pick, order, status);
    const head = cvnbNode("div", "cvnb-tile-head");
    const ident = cvnbNode("code", "cvnb-tile-id", item.short_id);
    const rated = cvnbNode("span", "cvnb-tile-stars");
    const label = cvnbNode("span", "cvnb-tile-label");
    head.append(ident, rated, label);
    const prompt = cvnbNode("div", "cvnb-tile-prompt");
    const meta = cvnbNode("div", "cvnb-tile-meta");
    t.append(pic, head, prompt, meta);
    t.cvnbDraw = (it) => {
      t.cvnbItem = it;
      img.src = it.poster || NO_POSTER;
      pic.classList.toggle("cvnb-pending", !it.poster && it.poster_pending);
      status.textContent = it.status === "succeeded" ? "" : it.status_word;
      status.hidden = it.status === "succeeded";
      rated.textContent = stars(it.rating);
      rated.title = it.rating_note || "";
      label.textContent = it.label || "";
      prompt.textContent = it.prompt;
      prompt.title = it.prompt;
      meta.textContent = `${it.model} · ${it.created}`;
      meta.title = it.params;
    };
    t.cvnbDraw(item);
    pick.addEventListener("click", (e) => e.stopPropagation());
    pick.addEventListener("change", () => {
      const at = selected.indexOf(item.id);
      if (pick.checked && at < 0) selected.push(item.id);
      if (!pick.checked && at >= 0) selected.splice(at, 1);
      drawPicks();
    });
    t.addEventListener("click", () => send({ action: "open", id: item.id }));
    // Hovered a moment, the poster plays its video from the server; nothing loads before.
    let timer = null;
    let video = null;
    t.addEventListener("mouseenter", () => {
      const url = galleryUrl(t.cvnbItem.video_rel);
      if (!url) return;
      timer = setTimeout(() => {
        video = cvnbNode("video", "cvnb-tile-video");
        video.muted = true; video.loop = true; video.playsInline = true; video.autoplay = true;
        video.setAttribute("muted", ""); video.setAttribute("playsinline", "");
        video.src = url;
        pic.append(video);
        video.play().catch(() => {});
      }, 150);
    });
    t.addEventListener("mouseleave", () => {
      clearTimeout(timer);
      if (video) { video.pause(); video.removeAttribute("src"); video.load(); video.remove(); video = null; }
    });
    return t;
  }

  function drawTiles() {
    const items = model.get("items") || [];
    const same = items.length === shown.size && items.every((it) => shown.has(it.id));
    if (same) {
      for (const it of items) shown.get(it.id).cvnbDraw(it); // posters arriving, a rating
    } else {
      shown.clear();
      for (const it of items) shown.set(it.id, makeTile(it));
      tiles.replaceChildren(...shown.values());
    }
    drawPicks();
    drawSummary();
  }

  // -- one job's card -------------------------------------------------------------------------
  let blob = null;
  function releaseVideo() {
    const v = dialog.querySelector("video");
    if (v) { v.pause(); v.removeAttribute("src"); v.load(); }
    if (blob) { URL.revokeObjectURL(blob); blob = null; }
  }
  dialog.addEventListener("close", releaseVideo);
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); }); // the backdrop

  function drawCard() {
    const d = model.get("detail") || {};
    if (!d.id) { if (dialog.open) dialog.close(); return; }
    const same = dialog.dataset.job === d.id && dialog.dataset.seq === String(d.seq);
    if (same && dialog.open) { drawRating(d); return; }
    releaseVideo();
    dialog.dataset.job = d.id;
    dialog.dataset.seq = String(d.seq);
    const close = cvnbNode("button", "cvnb-card-close", "×");
    close.title = T("Close");
    close.addEventListener("click", () => dialog.close());
    const head = cvnbNode("div", "cvnb-head");
    if (d.label) head.append(cvnbNode("span", "cvnb-label", d.label));
    const badge = cvnbNode("span", "cvnb-badge", d.status_word);
    badge.dataset.status = d.status;
    head.append(badge);
    if (d.emulated) head.append(cvnbNode("span", "cvnb-emulated", T("EMULATED")));
    head.append(cvnbNode("span", "cvnb-params", d.params), cvnbNode("code", "cvnb-id", d.short_id), close);
    const media = cvnbNode("div", "cvnb-card-media");
    if (d.video_name) {
      const v = cvnbNode("video", "cvnb-card-video");
      v.controls = true; v.muted = true; v.playsInline = true; v.preload = "metadata";
      if (d.poster) v.poster = d.poster;
      const url = galleryUrl(d.video_rel);
      const fallback = () => send({ action: "fetch", id: d.id });
      if (url) { v.addEventListener("error", fallback, { once: true }); v.src = url; } else fallback();
      media.append(v);
    } else if (d.poster) {
      media.append(Object.assign(cvnbNode("img", "cvnb-card-poster"), { src: d.poster, alt: "" }));
    }
    const prompt = cvnbNode("div", "cvnb-prompt", d.prompt);
    const lineage = cvnbNode("ul", "cvnb-card-lineage");
    for (const link of d.lineage || []) {
      const li = cvnbNode("li");
      if (link.job) {
        const a = cvnbNode("a", null, link.said);
        a.href = "#";
        a.addEventListener("click", (e) => { e.preventDefault(); send({ action: "open", id: link.job }); });
        li.append(a);
      } else {
        li.textContent = link.said;
      }
      lineage.append(li);
    }
    lineage.hidden = !(d.lineage || []).length;
    const error = cvnbNode("div", "cvnb-error", d.error || "");
    error.hidden = !d.error;
    const when = cvnbNode("div", "cvnb-meta",
      [T("created {when}", { when: d.created }), d.took ? T("took {time}", { time: d.took }) : "", d.meta]
        .filter(Boolean).join(" · "));
    const rate = cvnbNode("div", "cvnb-rate");
    const starButtons = [1, 2, 3, 4, 5].map((i) => {
      const b = cvnbNode("button", "cvnb-star", "☆");
      b.title = T("{i} of 5", { i });
      b.addEventListener("click", () => {
        const current = (model.get("detail") || {}).rating || 0;
        send({ action: "rate", id: d.id, rating: i === current ? 0 : i, note: noteIn.value });
      });
      return b;
    });
    const noteIn = cvnbNode("input", "cvnb-note-input");
    noteIn.placeholder = T("a short note: what works, what does not");
    noteIn.maxLength = 500;
    const save = cvnbNode("button", "cvnb-note-save", T("Save note"));
    const sendNote = () => send({ action: "rate", id: d.id, rating: (model.get("detail") || {}).rating || 0, note: noteIn.value });
    save.addEventListener("click", sendNote);
    noteIn.addEventListener("keydown", (e) => { if (e.key === "Enter") sendNote(); });
    const rateMsg = cvnbNode("span", "cvnb-rate-msg");
    rate.append(...starButtons, noteIn, save, rateMsg);
    rate.hidden = d.status !== "succeeded";
    dialog.cvnbRating = { starButtons, noteIn, rateMsg };
    dialog.replaceChildren(head, media, prompt, lineage, error, when, rate);
    drawRating(d);
    if (!dialog.open) dialog.showModal();
  }

  function drawRating(d) {
    const r = dialog.cvnbRating;
    if (!r) return;
    r.starButtons.forEach((b, i) => { b.textContent = i < (d.rating || 0) ? "★" : "☆"; });
    if (document.activeElement !== r.noteIn) r.noteIn.value = d.rating_note || "";
    r.rateMsg.textContent = d.rating_error || "";
  }

  function onMsg(msg, buffers) {
    const v = dialog.querySelector("video");
    if (!msg || msg.kind !== "video" || msg.id !== dialog.dataset.job || !v) return;
    if (!msg.ok || !buffers || !buffers.length) return;
    if (blob) URL.revokeObjectURL(blob);
    blob = URL.createObjectURL(new Blob([buffers[0]], { type: "video/mp4" }));
    v.src = blob;
  }

  const handlers = {
    "change:items": drawTiles, "change:total": drawSummary, "change:number": drawSummary,
    "change:choices": drawChoices, "change:filters": drawFilters, "change:detail": drawCard,
    "change:message": drawMessage, "msg:custom": onMsg,
  };
  for (const [event, fn] of Object.entries(handlers)) model.on(event, fn);
  drawChoices();
  drawFilters();
  drawTiles();
  drawMessage();
  return () => {
    for (const [event, fn] of Object.entries(handlers)) model.off(event, fn);
    if (kernel && kernel.statusChanged) kernel.statusChanged.disconnect(onStatus);
    releaseVideo();
    if (dialog.open) dialog.close();
  };
}

export default { render };
