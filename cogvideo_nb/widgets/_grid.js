// Play, pause and restart every video of one comparison grid together.
function render({ model, el }) {
  const bar = document.createElement("div");
  bar.className = "cvnb-grid-controls";
  const status = document.createElement("span");
  const videos = () =>
    Array.from(document.querySelectorAll("video.cvnb-video")).filter(
      (v) => v.dataset.cvnbGroup === model.get("group"),
    );
  const actions = {
    "Play all": (v) => v.play().catch(() => {}),
    "Pause all": (v) => v.pause(),
    "Restart all": (v) => { v.currentTime = 0; v.play().catch(() => {}); },
  };
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
  const title = document.createElement("b");
  title.textContent = model.get("title");
  bar.prepend(title);
  bar.append(status);
  el.append(bar);
}
export default { render };
