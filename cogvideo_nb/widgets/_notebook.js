// The notebook's side of "a job ended": prepended to the ESM of each widget that needs it.
//
// The kernel replaces an output by its display id, but a page forgets display ids on a reload, a
// second tab never had them, and a new kernel (after a restart) has other ones. So the page does
// it too: a view that sees its job (or grid, or the form's results) end rewrites, in the notebook
// model it belongs to, every output the kernel marked as showing the same thing, to the static
// HTML the kernel sent. What is saved then is that HTML, whichever page, tab or kernel saw the end.
// Outputs are found by their metadata (`cogvideo_nb.shows`), which the notebook keeps.
//
// Where a page has no notebook model (Voila, a console, nbconvert's HTML), this does nothing.

// The words a page module shows, each as T(message, placeholders): the translations come
// from the kernel's catalogue in the widget's `text` trait (widgets/_words.py); `current` gives
// the model to read (a card follows a new one after a restart).
function cvnbWords(current) {
  return (message, values = {}) => {
    let said = (current().get("text") || {})[message] || message;
    for (const [k, v] of Object.entries(values)) said = said.split(`{${k}}`).join(String(v));
    return said;
  };
}

// An element with a class and, if given, its text (a word from T(): page code says none of its own).
function cvnbNode(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

// The language the page is shown in (JupyterLab and Notebook 7 set <html lang> from Settings >
// Language), told to the kernel once per widget manager (one kernel in one page): what the kernel
// says next is in it. Only in a page with a notebook model: Voila's template says "en" regardless.
const cvnbTold = new WeakSet();
function cvnbTellLanguage(model) {
  const manager = model.widget_manager;
  const lang = document.documentElement.lang;
  if (!lang || !manager || cvnbTold.has(manager) || !cvnbNotebook(manager)) return;
  cvnbTold.add(manager);
  try { model.send({ page_language: lang }); } catch (e) { /* its kernel is gone */ }
}

function cvnbNotebook(manager) {
  try {
    const model = manager && manager.context && manager.context.model;
    return model && model.cells && typeof model.toJSON === "function" ? model : null;
  } catch (e) {
    return null;
  }
}

function cvnbOutputs(nb) {
  const found = [];
  const cells = nb.cells;
  for (let i = 0; i < cells.length; i++) {
    const outputs = cells.get(i).outputs;
    if (!outputs) continue;
    for (let j = 0; j < outputs.length; j++) found.push([outputs, j, outputs.get(j)]);
  }
  return found;
}

const cvnbMark = (out) => (out && out.metadata && out.metadata.cogvideo_nb) || null;

// Every output showing `key` becomes `bundle`, unless it already is (a rating changes a static
// card again). Deferred: the caller may be a view of one of those outputs, which this disposes.
function cvnbEnd(manager, key, bundle) {
  if (!key || !bundle || !bundle["text/html"]) return;
  const nb = cvnbNotebook(manager);
  if (!nb) return;
  setTimeout(() => {
    for (const [outputs, j, out] of cvnbOutputs(nb)) {
      const mark = cvnbMark(out);
      if (!mark || mark.shows !== key) continue;
      if (mark.final && out.data && out.data["text/html"] === bundle["text/html"]) continue;
      outputs.set(j, {
        output_type: "display_data",
        data: bundle,
        metadata: { cogvideo_nb: { shows: key, final: true } },
      });
    }
  }, 0);
}

// What is saved of a marked output: what a live view says it is now (the gallery: its current
// page), registered by the key the output shows in `window.__cvnbSaved`; else the `saved` bundle
// the kernel marked it with (the form: a note instead of a widget no reopened notebook can draw).
// Only the saved copy changes; the live page keeps its widget.
function cvnbHookSave(manager) {
  const nb = cvnbNotebook(manager);
  if (!nb || nb.__cvnbSave) return;
  const toJSON = nb.toJSON.bind(nb);
  const live = (window.__cvnbSaved ||= new Map());
  nb.__cvnbSave = true;
  nb.toJSON = () => {
    const json = toJSON();
    for (const cell of json.cells || []) {
      if (!cell.outputs) continue;
      cell.outputs = cell.outputs.map((out) => {
        const mark = out.metadata && out.metadata.cogvideo_nb;
        const now = mark && live.get(mark.shows);
        const data = now ? now() : mark && mark.saved;
        if (!data) return out;
        const metadata = { cogvideo_nb: { shows: mark.shows, final: true } };
        return now ? { output_type: "display_data", data, metadata } : { ...out, data, metadata };
      });
    }
    return json;
  };
}

// A grid's bar sticks to the top of the notebook while its grid scrolls under it; position:
// sticky holds only if nothing between the bar and the notebook's scroller clips (the widget
// box and the output area do: overflow auto). Those of this output stop clipping.
function cvnbUnclip(el) {
  for (let n = el.parentElement; n && !n.classList.contains("jp-Cell"); n = n.parentElement) {
    const style = getComputedStyle(n);
    if (style.overflowX !== "visible" || style.overflowY !== "visible") n.style.overflow = "visible";
  }
}

// Page-wide: live cards by job id, grid bars by group, one observer that adopts them into the
// static HTML that replaces their outputs, and one sweep that releases what is gone. Started by
// the first card or grid of the page (a blind grid has no cards: its bar starts it).
function cvnbPage() {
  const page = (window.__cvnb ||= { cards: new Set(), grids: new Map(), started: false });
  if (page.started) return page;
  page.started = true;
  const CARD = ".cvnb-static[data-cvnb-job]";
  const GRID = ".cvnb-static-grid[data-cvnb-group]";
  const within = (el, sel) => [...(el.matches(sel) ? [el] : []), ...el.querySelectorAll(sel)];
  const adopt = (added) => {
    for (const s of within(added, CARD)) {
      const entry = [...page.cards].find((e) => e.jobId() === s.dataset.cvnbJob && !e.root.isConnected);
      if (!entry) continue;
      s.replaceChildren(entry.root);
      s.removeAttribute("style");
      s.classList.add("cvnb-adopted");
      entry.goneAt = null;
      if (entry.wasPlaying && entry.video) entry.video.play().catch(() => {});
      entry.wasPlaying = false;
    }
    for (const g of within(added, GRID)) {
      const controls = page.grids.get(g.dataset.cvnbGroup);
      if (controls && !controls.isConnected) {
        g.querySelector(".cvnb-static-title")?.remove();
        g.querySelector(".cvnb-static-controls")?.remove(); // the live bar takes its place
        g.prepend(controls);
        cvnbUnclip(controls);
      }
      // What the bar shows depends on the grid it is in (Export needs the kernel that made the
      // grid: none after a restart or a reopen; a blind grid's cells get their stars).
      if (controls && controls.cvnbRedraw) controls.cvnbRedraw();
    }
  };
  new MutationObserver((records) => {
    // A card whose output is rendered again (the same static HTML) keeps playing in the new one.
    for (const r of records) for (const n of r.removedNodes) {
      if (n.nodeType !== 1) continue;
      for (const e of page.cards) if (n.contains(e.root) && e.video && !e.video.paused) e.wasPlaying = true;
    }
    for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) adopt(n);
  }).observe(document.body, { childList: true, subtree: true });
  setInterval(() => {
    const now = Date.now();
    for (const e of [...page.cards]) {
      // Only a card whose view was disposed and that nothing adopted since (a cell cleared or
      // run again); a cell a windowed notebook detached for a moment keeps its view.
      if (!e.viewGone || e.root.isConnected) { e.goneAt = null; continue; }
      e.goneAt ??= now;
      if (now - e.goneAt > 30000) e.release();
    }
  }, 5000);
  return page;
}
