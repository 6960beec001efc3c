"""A blind comparison in a real JupyterLab: ``%%cogvideo --blind`` -> star the lettered clips,
name the rater, pick a winner -> the notebook saved meanwhile holds no prompt -> Reveal shows the
prompts and records the ratings as blind -> *Blind again* hides them for the next rater.

Screenshots: test-artifacts/blind-1-rated.png, blind-2-revealed.png, blind-3-next-rater.png.
"""

from __future__ import annotations

import json
import time
import urllib.error
from typing import Any

import pytest

from .conftest import ARTIFACTS, BROWSER_2, Notebook
from .test_saved import _saved

pytestmark = [pytest.mark.browser, BROWSER_2]

PROMPTS = (
    "A red fox trots through deep snow in a birch forest, golden hour glow",
    "A red fox trots through deep snow in a birch forest, cold blue dusk",
    "A red fox trots through deep snow in a birch forest, flat overcast noon",
)
CELL = '%%cogvideo --blind --title "which light?"\n' + "\n---\n".join(PROMPTS)

# The cell's static blind grid, with the live bar moved into it and stars on its playable cells.
_BLIND_READY_JS = """([i, n]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const grid = cell && cell.querySelector('.cvnb-static-grid.cvnb-blind');
  if (!grid || !grid.querySelector('.cvnb-grid-controls .cvnb-reveal')) return false;
  const vs = Array.from(grid.querySelectorAll('.cvnb-blind-cell video.cvnb-static-video'));
  return vs.length === n && vs.every((v) => v.readyState >= 1)
    && grid.querySelectorAll('.cvnb-blind-cell > .cvnb-blind-rate').length === n;
}"""


def _shot(nb: Notebook, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    nb.cell(1).scroll_into_view_if_needed()
    nb.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _saved_outputs(nb: Notebook, until: str, timeout: float = 20) -> tuple[str, str]:
    """Save (Ctrl+S) until the saved blind cell's outputs hold ``until`` (the grid's class: blind
    or revealed); (those outputs, the whole file but for the cells' sources, which hold the prompts
    by nature), as JSON text."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        nb.cell(0).locator(".jp-InputPrompt").click()
        nb.page.keyboard.press("Control+s")
        time.sleep(1.0)
        try:
            saved: dict[str, Any] = _saved(nb.lab, nb.path)
        except urllib.error.HTTPError:  # read while the save writes: ask again
            continue
        seen = json.dumps(saved["cells"][1].get("outputs", []), ensure_ascii=False)
        if until in seen:
            for cell in saved["cells"]:
                cell["source"] = ""
            return seen, json.dumps(saved, ensure_ascii=False)
    raise AssertionError(f"the saved cell never held {until!r}: {seen[:3000]}")


def _stars(cell: Any) -> str:
    return str(
        cell.locator(".cvnb-blind-rate .cvnb-star").evaluate_all("bs => bs.map(b => b.textContent).join('')")
    )


def test_blind_grid_rate_then_reveal(notebook: Notebook) -> None:
    nb = notebook.open(
        "%load_ext cogvideo_nb",
        CELL,
        "import cogvideo_nb as cv\n"
        "rows = cv.get_engine().ratings()\n"
        "print(sorted((r.letter, r.stars, r.rater, r.won) for r in rows if r.stars or r.won))",
    )
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    out = nb.cell(1).locator(".jp-OutputArea")
    nb.page.wait_for_function(_BLIND_READY_JS, arg=[1, 3], timeout=90_000, polling=200)
    grid = out.locator(".cvnb-static-grid.cvnb-blind")
    shown = out.inner_html()
    assert "fox" not in shown and "snow" not in shown and ".mp4" in shown  # the neutral links
    assert all("/blind/" in s for s in grid.locator("video").evaluate_all("vs => vs.map(v => v.currentSrc)"))
    assert grid.locator(".cvnb-blind-letter").all_inner_texts() == ["A", "B", "C"]
    assert grid.locator(".cvnb-export").is_hidden()  # its labels would tell

    cells = {c: grid.locator(f'.cvnb-blind-cell[data-cvnb-letter="{c}"]') for c in "ABC"}
    grid.locator(".cvnb-rater").fill("Ana")
    cells["A"].locator(".cvnb-star").nth(3).click()  # four stars
    cells["B"].locator(".cvnb-star").nth(1).click()  # two
    cells["A"].locator(".cvnb-winner").click()
    nb.page.wait_for_function(
        "(g) => g.querySelector('[data-cvnb-letter=A]').classList.contains('cvnb-blind-winner')",
        arg=grid.element_handle(), timeout=15_000,
    )  # fmt: skip
    assert _stars(cells["A"]) == "★★★★☆" and _stars(cells["B"]) == "★★☆☆☆" and _stars(cells["C"]) == "☆☆☆☆☆"
    _shot(nb, "blind-1-rated")

    # A notebook saved now keeps the secret: letters, posters, neutral names; no prompt anywhere.
    blind_saved, whole = _saved_outputs(nb, 'cvnb-static-grid cvnb-blind\\"')
    assert "fox" not in whole and "snow" not in whole, whole[:3000]
    assert "/blind/" in blind_saved and 'poster=\\"data:image/jpeg;base64,' in blind_saved

    grid.locator(".cvnb-reveal").click()
    revealed = out.locator(".cvnb-static-grid.cvnb-revealed")
    revealed.wait_for(timeout=20_000)
    said = revealed.inner_text()
    assert all(p in said for p in PROMPTS) and "Ana" in said, said
    assert revealed.locator("mark").count() >= 3  # what differs, highlighted
    heads = revealed.locator(".cvnb-blind-head").all_inner_texts()
    assert heads[0].startswith("A") and "★★★★☆" in heads[0] and "winner" in heads[0], heads
    assert heads[1].startswith("B") and "★★☆☆☆" in heads[1] and heads[2].strip() == "C", heads
    assert revealed.locator(".cvnb-blind-rate").count() == 0  # a pass ended: no more stars
    assert "2 ratings recorded as blind" in out.locator(".cvnb-blind-status").inner_text()
    _shot(nb, "blind-2-revealed")
    revealed_saved, _ = _saved_outputs(nb, 'cvnb-static-grid cvnb-revealed\\"')
    assert PROMPTS[0] in revealed_saved and "by Ana" in revealed_saved

    nb.run(2)
    nb.wait_ran(2)
    printed = nb.cell(2).locator(".jp-OutputArea-output").inner_text()
    assert "('A', 4, 'Ana', True)" in printed and "('B', 2, 'Ana', False)" in printed, printed
    assert "'C'" not in printed  # seen, not rated: kept without stars

    # The next rater: shuffled again, nothing given, nothing shown.
    out.locator(".cvnb-blind").click()
    nb.page.wait_for_function(_BLIND_READY_JS, arg=[1, 3], timeout=20_000, polling=200)
    assert "fox" not in out.inner_html() and _stars(out.locator(".cvnb-blind-cell").first) == "☆☆☆☆☆"
    assert out.locator(".cvnb-rater").input_value() == ""  # the last rater's name is not the next one's
    _shot(nb, "blind-3-next-rater")
    again, whole = _saved_outputs(nb, 'cvnb-static-grid cvnb-blind\\"')
    assert "fox" not in whole and "cvnb-revealed" not in again


def test_blind_on_a_finished_sighted_grid(notebook: Notebook) -> None:
    """Any finished grid: its bar's Blind hides what the grid showed, in the page and in what is
    saved, until Reveal."""
    nb = notebook.open("%load_ext cogvideo_nb", "%%cogvideo --title kites\n" + "\n---\n".join(PROMPTS[:2]))
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    out = nb.cell(1).locator(".jp-OutputArea")
    nb.page.wait_for_function(
        "(o) => o.querySelectorAll('.cvnb-static.cvnb-adopted > .cvnb-card').length === 2",
        arg=out.element_handle(), timeout=90_000,
    )  # fmt: skip
    assert "golden hour glow" in out.inner_text()
    out.locator(".cvnb-blind").click()
    nb.page.wait_for_function(_BLIND_READY_JS, arg=[1, 2], timeout=20_000, polling=200)
    assert "fox" not in out.inner_text() and out.locator(".cvnb-card:visible").count() == 0
    _, whole = _saved_outputs(nb, 'cvnb-static-grid cvnb-blind\\"')
    assert "fox" not in whole
    out.locator('.cvnb-blind-cell[data-cvnb-letter="B"] .cvnb-winner').click()
    nb.page.wait_for_function(
        "(o) => o.querySelector('[data-cvnb-letter=B]').classList.contains('cvnb-blind-winner')",
        arg=out.element_handle(), timeout=15_000,
    )  # fmt: skip
    out.locator(".cvnb-reveal").click()
    out.locator(".cvnb-static-grid.cvnb-revealed").wait_for(timeout=20_000)
    assert all(p in out.inner_text() for p in PROMPTS[:2])
    assert "winner" in out.locator(".cvnb-blind-head").nth(1).inner_text()
    assert "nothing was recorded" not in out.inner_text()  # a pick alone is a pass worth keeping
