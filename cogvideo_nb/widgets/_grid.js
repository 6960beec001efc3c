// Play, pause and restart every video of one comparison grid together. The bar outlives its
// view: when the grid's output becomes static HTML, the page moves the bar into it.
//
// Blind: the bar offers Blind on a finished grid, then a rater's name, Reveal, and stars and a
// winner on each lettered cell of the static blind grid. The page only ever knows letters: each
// click sends one to the kernel, which alone knows which job it is, and which sends the output's
// next HTML (`ended`) when the grid turns blind or is revealed.
async function render({ model: proxy, el }) {
  // Listen on the model itself, not the view's proxy: the bar outlives its view.
  const model = (await proxy.widget_manager.get_model(proxy.get("mid")).catch(() => null)) || proxy;
  const group = model.get("group");
  const T = cvnbWords(() => model); // every word from the kernel's catalogue
  cvnbTellLanguage(model);
  const page = cvnbPage();
  let bar = page.grids.get(group);
  if (!bar || bar.isConnected) {
    bar = document.createElement("div");
    bar.className = "cvnb-grid-controls";
    const status = document.createElement("span");
    const send = (msg) => {
      try { model.send(msg); return true; } catch (e) { return false; } // its kernel is gone
    };
    // Live cards' videos and, once the grid is static HTML, its videos (a reopened page has only
    // those): a bar that finds none would be a dead control.
    const videos = () =>
      Array.from(document.querySelectorAll("video.cvnb-video, video.cvnb-static-video"))
        .filter((v) => v.dataset.cvnbGroup === group);
    const actions = {
      play: [T("Play all"), (v) => v.play().catch(() => {})],
      pause: [T("Pause all"), (v) => v.pause()],
      restart: [T("Restart all"), (v) => { v.currentTime = 0; v.play().catch(() => {}); }],
    };
    const title = document.createElement("b");
    title.textContent = model.get("title");
    bar.append(title);
    for (const [name, [label, act]] of Object.entries(actions)) {
      const b = document.createElement("button");
      b.textContent = label;
      b.className = `cvnb-${name}-all`;
      b.addEventListener("click", () => {
        const vs = videos();
        vs.forEach(act);
        status.textContent = T("{n} video(s)", { n: vs.length });
      });
      bar.append(b);
    }
    // Export: one labelled MP4 of the finished clips plus a contact sheet, made by the kernel.
    const exp = document.createElement("button");
    exp.textContent = T("Export");
    exp.className = "cvnb-export";
    exp.title = T("one MP4 of the finished clips side by side, labelled, plus a contact-sheet PNG");
    let live = true;
    exp.addEventListener("click", () => { live = send({ action: "export" }); redraw(); });
    const exported = document.createElement("a");
    exported.className = "cvnb-exported";
    exported.target = "_blank";
    const drawExport = () => {
      exported.textContent = model.get("export_status") || "";
      const url = model.get("export_url");
      if (url) exported.href = url; else exported.removeAttribute("href");
    };
    model.on("change:export_status", drawExport);
    model.on("change:export_url", drawExport);
    drawExport();

    // -- blind comparison --
    const blind = document.createElement("button");
    blind.className = "cvnb-blind";
    blind.title = T("shuffle the cells and hide prompts, parameters and file names: rate the clips blind");
    blind.addEventListener("click", () => { live = send({ action: "blind" }); redraw(); });
    const rater = document.createElement("input");
    rater.className = "cvnb-rater";
    rater.placeholder = T("your name (optional)");
    rater.maxLength = 80;
    const reveal = document.createElement("button");
    reveal.className = "cvnb-reveal";
    reveal.textContent = T("Reveal");
    reveal.title = T("show which prompt each letter was, and record these ratings as blind");
    reveal.addEventListener("click", () => { live = send({ action: "reveal", rater: rater.value }); redraw(); });
    const said = document.createElement("span");
    said.className = "cvnb-blind-status";

    // The lettered cells of this grid's static blind HTML (the bar sits inside it).
    const cells = () =>
      Array.from(document.querySelectorAll(".cvnb-static-grid .cvnb-blind-cell[data-cvnb-letter]"))
        .filter((c) => c.closest(".cvnb-static-grid").dataset.cvnbGroup === group);
    const starsOf = (cell) => {
      const letter = cell.dataset.cvnbLetter;
      const box = document.createElement("div");
      box.className = "cvnb-blind-rate";
      for (const i of [1, 2, 3, 4, 5]) {
        const b = document.createElement("button");
        b.className = "cvnb-star";
        b.title = T("{i} of 5", { i });
        b.addEventListener("click", () => {
          const given = (model.get("blind_stars") || {})[letter] || 0;
          live = send({ action: "blind_rate", letter, stars: i === given ? 0 : i }); // again clears
          redraw();
        });
        box.append(b);
      }
      const win = document.createElement("button");
      win.className = "cvnb-winner";
      win.addEventListener("click", () => { live = send({ action: "blind_win", letter }); redraw(); });
      box.append(win);
      return box;
    };
    const decorate = (open) => {
      const stars = model.get("blind_stars") || {};
      const winner = model.get("blind_winner") || "";
      for (const cell of cells()) {
        let box = cell.querySelector(":scope > .cvnb-blind-rate");
        // Stars on a playable clip of a grid still blind, while its kernel can hear them.
        if (!open || cell.classList.contains("cvnb-revealed") || !cell.querySelector("video")) {
          box?.remove();
          continue;
        }
        if (!box) cell.append((box = starsOf(cell)));
        const letter = cell.dataset.cvnbLetter;
        const r = stars[letter] || 0;
        box.querySelectorAll(".cvnb-star").forEach((b, i) => { b.textContent = i < r ? "★" : "☆"; });
        const win = box.querySelector(".cvnb-winner");
        const won = winner === letter;
        win.textContent = won ? T("winner") : T("Pick as winner");
        win.classList.toggle("cvnb-won", won);
        cell.classList.toggle("cvnb-blind-winner", won);
      }
    };
    let shownMode = model.get("blind_mode");
    const redraw = () => {
      live = live && model.comm_live !== false;
      const mode = model.get("blind_mode");
      if (mode !== shownMode && mode === "blind") rater.value = ""; // a new pass: the next rater
      shownMode = mode;
      const finished = model.get("finished");
      const open = mode === "blind" && finished && live;
      blind.textContent = mode === "revealed" ? T("Blind again (next rater)") : T("Blind");
      blind.hidden = !finished || mode === "blind" || !live;
      rater.hidden = reveal.hidden = !open;
      said.textContent = mode ? model.get("blind_status") || "" : "";
      said.hidden = !mode;
      exp.hidden = mode === "blind" || !live; // its labels would tell; it needs the grid's kernel
      decorate(open);
    };
    for (const name of ["finished", "blind_mode", "blind_stars", "blind_winner", "blind_status"]) {
      model.on(`change:${name}`, redraw);
    }
    // The output after a Blind or a Reveal, in every page that shows the bar: the grid's own view
    // (and its Ending's) went with its first end; the bar outlived them.
    const end = () => {
      const html = model.get("ended");
      if (html) cvnbEnd(proxy.widget_manager, model.get("shows"), { "text/html": html, "text/plain": model.get("ended_plain") });
    };
    model.on("change:ended", end);
    bar.cvnbRedraw = redraw;
    bar.append(status, exp, exported, blind, rater, reveal, said);
    redraw();
    page.grids.set(group, bar);
  }
  el.append(bar);
  el.style.position = "sticky"; // the view's element, whose parent is the whole grid
  el.style.top = "0";
  el.style.zIndex = "2";
  requestAnimationFrame(() => cvnbUnclip(el));
}
export default { render };
