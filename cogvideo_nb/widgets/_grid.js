// Play, pause and restart every video of one comparison grid together. The bar outlives its
// view: when the grid's output becomes static HTML, the page moves the bar into it.
function render({ model, el }) {
  const group = model.get("group");
  const page = (window.__cvnb ||= { cards: new Set(), grids: new Map(), started: false });
  let bar = page.grids.get(group);
  if (!bar || bar.isConnected) {
    bar = document.createElement("div");
    bar.className = "cvnb-grid-controls";
    const status = document.createElement("span");
    const videos = () =>
      Array.from(document.querySelectorAll("video.cvnb-video")).filter((v) => v.dataset.cvnbGroup === group);
    const actions = {
      "Play all": (v) => v.play().catch(() => {}),
      "Pause all": (v) => v.pause(),
      "Restart all": (v) => { v.currentTime = 0; v.play().catch(() => {}); },
    };
    const title = document.createElement("b");
    title.textContent = model.get("title");
    bar.append(title);
    for (const [name, act] of Object.entries(actions)) {
      const b = document.createElement("button");
      b.textContent = name;
      b.className = "cvnb-" + name.split(" ")[0].toLowerCase() + "-all";
      b.addEventListener("click", () => {
        const vs = videos();
        vs.forEach(act);
        status.textContent = `${vs.length} video(s)`;
      });
      bar.append(b);
    }
    bar.append(status);
    page.grids.set(group, bar);
  }
  el.append(bar);
}
export default { render };
