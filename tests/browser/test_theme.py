"""Both themes in a real JupyterLab: every text of a live card, a grid and a saved card reads
at a contrast of at least 4.5:1 against what is behind it (WCAG AA), from computed styles."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from .conftest import BROWSER_1, Lab, Notebook, serve_lab
from .test_lab import _CARD_STATUS_JS

# a server of its own starts and stops inside these tests' time: more than the default 120 s
pytestmark = [pytest.mark.browser, BROWSER_1, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A server of its own: the theme is a server-wide setting no other test should see."""
    with serve_lab(tmp_path_factory.mktemp("theme")) as server:
        yield server


# For every element with text of its own: its colour over the first opaque background behind it.
_CONTRAST_JS = """(root) => {
  const rgba = (s) => {
    const m = s.match(/[\\d.]+/g).map(Number);
    return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1];
  };
  const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const lum = (c) => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  function behind(el) {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const bg = rgba(getComputedStyle(e).backgroundColor);
      if (bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
    }
    let color = [255, 255, 255, 1];
    for (const layer of layers.reverse()) color = over(layer, color);
    return color;
  }
  const bad = [];
  let checked = 0;
  for (const el of root.querySelectorAll('*')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
    if (['BUTTON', 'INPUT', 'OPTION', 'VIDEO'].includes(el.tagName)) continue;  // the browser's own controls
    const bg = behind(el);
    const fg = over(rgba(getComputedStyle(el).color), bg);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    checked += 1;
    const what = `${el.className || el.tagName} "${el.textContent.trim().slice(0, 30)}"`;
    if (ratio < 4.5) bad.push(`${what} ${ratio.toFixed(2)}`);
  }
  return { checked, bad };
}"""


def _theme(lab: Lab, theme: str) -> None:
    req = urllib.request.Request(
        f"{lab.origin}/lab/api/settings/@jupyterlab/apputils-extension:themes",
        method="PUT",
        data=json.dumps({"raw": json.dumps({"theme": theme})}).encode(),
        headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=10).close()


@pytest.mark.parametrize("theme", ["JupyterLab Dark", "JupyterLab Light"])
def test_every_text_in_live_and_saved_cards_reads_on_the_theme(notebook: Notebook, theme: str) -> None:
    _theme(notebook.lab, theme)
    nb = notebook.open(
        "%load_ext cogvideo_nb",
        "%%cogvideo\na lantern drifts over a dark lake",
        "%%cogvideo --title pair\na red kite over dunes\n---\na blue kite over dunes",
        "%%cogvideo\na storm #fail",
        "from IPython.display import HTML\nimport cogvideo_nb as cv\nfrom cogvideo_nb._html import job_html\n"
        "HTML(''.join(job_html(j) for j in cv.get_engine().history(4)))",
    )
    light = nb.page.evaluate("() => document.body.dataset.jpThemeLight")
    assert light == ("false" if "Dark" in theme else "true")  # the theme asked for is in force
    for i in range(4):
        nb.run(i)
        nb.wait_ran(i, timeout=60)
    for i in (1, 2, 3):
        nb.page.wait_for_function(
            _CARD_STATUS_JS, arg=[i, ["succeeded", "failed"]], timeout=60_000, polling=200
        )
    nb.run(4)
    nb.wait_ran(4)
    nb.page.wait_for_timeout(500)  # the cards' last draw
    for i in (1, 2, 3, 4):
        found = nb.page.evaluate(_CONTRAST_JS, nb.cell(i).locator(".jp-Cell-outputArea").element_handle())
        assert found["checked"] >= 3 and found["bad"] == [], (i, found)
    nb.cell(2).scroll_into_view_if_needed()
    nb.shot()
