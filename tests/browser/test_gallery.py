"""The gallery in a real JupyterLab: posters of the folder's jobs, a filter typed in, a poster that
plays while hovered, a job's card with its lineage and stars, two ticked jobs opened below as a
comparison grid, and the saved notebook holding the filtered page as static HTML."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from .conftest import ARTIFACTS, BROWSER_1, VIEWPORT, Notebook

pytestmark = [pytest.mark.browser, BROWSER_1]

WIDGET = "application/vnd.jupyter.widget-view+json"

_TILES_JS = """([n]) => {
  const tiles = Array.from(document.querySelectorAll('.cvnb-gallery .cvnb-tile'));
  return tiles.length === n && tiles.every((t) => t.querySelector('img').src.startsWith('data:image/jpeg'));
}"""


def _saved(nb: Notebook) -> Any:
    auth = {"Authorization": f"token {nb.lab.token}"}
    req = urllib.request.Request(f"{nb.lab.origin}/api/contents/{nb.path}?content=1", headers=auth)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())["content"]


def _reopen(browser: Any, nb: Notebook) -> str:
    """The saved notebook in a new page: its gallery's page, scrolled to; the page's text."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(f"{nb.lab.origin}/lab/workspaces/re-gallery/tree/{nb.path}?reset&token={nb.lab.token}")
        shown = page.locator(".cvnb-static-gallery")
        shown.wait_for(state="attached", timeout=60_000)
        shown.scroll_into_view_if_needed()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.cvnb-static-gallery img')].every((i) => i.complete)",
            timeout=15_000,
        )
        time.sleep(1.0)  # any widget error would have rendered by now
        page.screenshot(path=str(ARTIFACTS / "gallery-reopened.png"))
        text: str = page.evaluate("() => document.body.innerText")
        return text
    finally:
        context.close()


def _tile(nb: Notebook, prompt: str, label: str) -> Any:
    return nb.page.locator(".cvnb-gallery .cvnb-tile").filter(has_text=prompt).filter(has_text=label)


def test_gallery_filter_card_and_open_as_grid(notebook: Notebook, browser: Any) -> None:
    nb = notebook.open(
        "%load_ext cogvideo_nb",
        "%%cogvideo --n 2 --wait\na red kite over the dunes\n---\na blue kite over the sea",
        "%%cogvideo --wait\na paper boat on a pond",
        "%cogvideo gallery",
    )
    for i in range(3):
        nb.run(i)
        nb.wait_ran(i, timeout=120)
    nb.run(3)
    nb.wait_ran(3)
    nb.page.wait_for_function(_TILES_JS, arg=[5], timeout=30_000, polling=200)
    assert nb.page.locator(".cvnb-gallery-summary").inner_text() == "1-5 of 5 jobs"
    newest = nb.page.locator(".cvnb-gallery .cvnb-tile-prompt").first.inner_text()
    assert newest == "a paper boat on a pond"  # newest first

    # filter: words typed as a person types them (no notebook shortcut may take the keys), asked
    # of the kernel, answered from the ledger
    nb.page.locator(".cvnb-gallery-text").click()
    nb.page.keyboard.type("kite", delay=60)
    nb.page.wait_for_function(_TILES_JS, arg=[4], timeout=15_000, polling=100)
    assert nb.page.locator(".cvnb-gallery-summary").inner_text() == "1-4 of 4 jobs"

    # hovered, a poster plays its video from the Jupyter server
    red2 = _tile(nb, "a red kite", "run 2/2")
    red2.hover()
    nb.page.wait_for_function(
        "() => { const v = document.querySelector('.cvnb-tile-video'); return !!v && v.currentTime > 0; }",
        timeout=15_000,
    )
    assert "/files/" in nb.page.locator(".cvnb-tile-video").get_attribute("src")
    nb.page.mouse.move(5, 5)
    assert nb.page.locator(".cvnb-tile-video").count() == 0  # let go when the pointer leaves

    # a click opens its card: parameters, lineage, stars (into the ledger)
    red2.click()
    card = nb.page.locator("dialog.cvnb-gallery-card[open]")
    card.wait_for(state="visible", timeout=15_000)
    assert card.locator(".cvnb-prompt").inner_text() == "a red kite over the dunes"
    assert "model=cogvideox-flash" in card.locator(".cvnb-params").inner_text()
    lineage = card.locator(".cvnb-card-lineage").inner_text()
    assert "repeat of" in lineage and "(run 2 of 2)" in lineage, lineage
    card.locator(".cvnb-star").nth(3).click()
    nb.page.wait_for_function(
        "() => document.querySelectorAll('dialog.cvnb-gallery-card .cvnb-star')[3].textContent === '★'",
        timeout=15_000,
    )
    nb.page.wait_for_function(
        "() => [...document.querySelectorAll('.cvnb-tile-stars')].some((s) => s.textContent === '★★★★')",
        timeout=15_000,
    )
    card.locator(".cvnb-card-video").evaluate("(v) => { v.muted = true; return v.play(); }")
    nb.page.wait_for_function(
        "() => document.querySelector('dialog.cvnb-gallery-card video').currentTime > 0", timeout=15_000
    )
    nb.shot("gallery-card")
    # the lineage link opens the first run's card
    card.locator(".cvnb-card-lineage a").first.click()
    nb.page.wait_for_function(
        "() => { const d = document.querySelector('dialog.cvnb-gallery-card[open]');"
        " return !!d && /run 1\\/2/.test(d.querySelector('.cvnb-head').textContent); }",
        timeout=15_000,
    )
    nb.page.keyboard.press("Escape")
    card.wait_for(state="hidden", timeout=5_000)

    # tick two (blue first), open them below as a comparison grid, in the order ticked
    _tile(nb, "a blue kite", "run 1/2").locator(".cvnb-tile-pick").check()
    _tile(nb, "a red kite", "run 1/2").locator(".cvnb-tile-pick").check()
    assert nb.page.locator(".cvnb-gallery-picked").inner_text() == "2 ticked"
    assert nb.page.locator(".cvnb-tile-order").all_inner_texts().count("1") == 1
    nb.shot("gallery-filtered")
    nb.page.locator(".cvnb-gallery-grid").click()
    below = nb.cell(3).locator(".cvnb-static-grid, .cvnb-grid").first
    below.wait_for(state="attached", timeout=20_000)
    nb.page.wait_for_function(
        "() => { const g = document.querySelector('.jp-Cell:nth-child(4) .cvnb-static-grid');"
        " return !!g && g.querySelectorAll('video').length === 2; }",
        timeout=20_000,
    )
    text = nb.cell(3).locator(".cvnb-static-grid").inner_text()
    assert text.index("a blue kite") < text.index("a red kite")
    assert "2 jobs opened below as a grid" in nb.page.locator(".cvnb-gallery-message").inner_text()
    nb.cell(3).locator(".cvnb-static-grid").scroll_into_view_if_needed()
    nb.shot("gallery-grid")

    # saved: the filtered page as static HTML (posters inline), and the grid, with no widget view
    deadline = time.monotonic() + 20
    while True:
        nb.cell(0).locator(".jp-InputPrompt").click()
        nb.page.keyboard.press("Control+s")
        time.sleep(1.0)
        try:
            outputs = _saved(nb)["cells"][3]["outputs"]
        except urllib.error.HTTPError:
            outputs = []
        if len(outputs) >= 2 and not any(WIDGET in o.get("data", {}) for o in outputs):
            break
        assert time.monotonic() < deadline, outputs
    page_html = outputs[0]["data"]["text/html"]
    assert "cvnb-static-gallery" in page_html and page_html.count('class="cvnb-static-tile"') == 4
    assert page_html.count("data:image/jpeg;base64,") == 4 and "\x00" not in page_html
    assert "with “kite”" in page_html and "a paper boat" not in page_html
    assert "cvnb-static-grid" in outputs[1]["data"]["text/html"]
    assert "[pageerror]" not in nb.console_text(), nb.console_text()
    # reopened: the page it showed and the grid below it, drawn with no widget state
    shown = _reopen(browser, nb)
    assert "1-4 of 4 jobs" in shown and "Error displaying widget" not in shown, shown
