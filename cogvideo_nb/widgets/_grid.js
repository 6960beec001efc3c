// Play, pause and restart every video of one comparison grid together. The bar outlives its
// view: when the grid's output becomes static HTML, the page moves the bar into it.
async function render({ model: proxy, el }) {
  // Listen on the model itself, not the view's proxy: the bar outlives its view.
  const model = (await proxy.widget_manager.get_model(proxy.get("mid")).catch(() => null)) || proxy;
  const group = model.get("group");
  const T = cvnbWords(() => model); // every word from the kernel's catalogue
  cvnbTellLanguage(model);
  const page = (window.__cvnb ||= { cards: new Set(), grids: new Map(), started: false });
  let bar = page.grids.get(group);
  if (!bar || bar.isConnected) {
    bar = document.createElement("div");
    bar.className = "cvnb-grid-controls";
    const status = document.createElement("span");
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
    exp.addEventListener("click", () => {
      try { model.send({ action: "export" }); } catch (e) { exp.hidden = true; } // its kernel is gone
    });
    bar.cvnbLive = () => model.comm_live !== false;
    bar.cvnbExport = exp;
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
    bar.append(status, exp, exported);
    page.grids.set(group, bar);
  }
  el.append(bar);
  el.style.position = "sticky"; // the view's element, whose parent is the whole grid
  el.style.top = "0";
  el.style.zIndex = "2";
  requestAnimationFrame(() => cvnbUnclip(el));
}
export default { render };
