"""The study controls in a real JupyterLab: rate a finished card (stars + note, into the ledger)
and export a grid (one labelled MP4 + contact sheet) with the grid's Export button."""

from __future__ import annotations

import pytest

from .conftest import BROWSER_2, Notebook
from .test_lab import _CARD_STATUS_JS

pytestmark = [pytest.mark.browser, BROWSER_2]


def test_rate_a_card_and_export_the_grid(notebook: Notebook) -> None:
    nb = notebook.open(
        "%load_ext cogvideo_nb",
        "%%cogvideo --n 2 --title runs\na kite rises over the dunes",
        "import cogvideo_nb as cv\n"
        "print(sorted((j.label, j.rating, j.rating_note) for j in cv.get_engine().history(2)))",
    )
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    nb.page.wait_for_function(_CARD_STATUS_JS, arg=[1, ["succeeded"]], timeout=60_000, polling=200)
    cards = nb.cell(1).locator(".cvnb-card")
    assert cards.count() == 2
    first = cards.nth(0)
    first.locator(".cvnb-rate").wait_for(state="visible", timeout=15_000)
    first.locator(".cvnb-note-input").fill("lift <b>too</b> slow")
    first.locator(".cvnb-star").nth(3).click()  # four stars, and the note with them
    nb.page.wait_for_function(
        "(card) => card.querySelectorAll('.cvnb-star')[3].textContent === '★' "
        "&& card.querySelectorAll('.cvnb-star')[4].textContent === '☆'",
        arg=first.element_handle(), timeout=15_000,
    )  # fmt: skip
    nb.run(2)
    nb.wait_ran(2)
    text = nb.cell(2).locator(".jp-OutputArea-output").inner_text()
    assert "('run 1/2', 4, 'lift <b>too</b> slow')" in text, text
    assert "('run 2/2', None, None)" in text, text

    nb.cell(1).locator(".cvnb-export").click()
    exported = nb.cell(1).locator(".cvnb-exported")
    nb.page.wait_for_function(
        "(a) => a.textContent.endsWith('.png') && a.getAttribute('href')",
        arg=exported.element_handle(), timeout=60_000,
    )  # fmt: skip
    assert exported.inner_text().startswith("grid-") and ".mp4 + grid-" in exported.inner_text()
    nb.shot()
