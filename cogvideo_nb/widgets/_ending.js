
// An output's end, carried to every page that shows it: invisible; on every page it also makes
// what is saved of a marked output (the form) a note instead of a widget.
function render({ model, el }) {
  el.style.display = "none";
  const manager = model.widget_manager;
  cvnbHookSave(manager);
  const end = () => {
    const html = model.get("html");
    if (html) cvnbEnd(manager, model.get("key"), { "text/html": html, "text/plain": model.get("plain") });
  };
  model.on("change:html", end);
  end();
  return () => model.off("change:html", end);
}

export default { render };
