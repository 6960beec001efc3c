"""The form in a real JupyterLab: its jobs live in an output of their own below it, which ends as
static HTML with the video, so the saved notebook keeps the form's results."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import BROWSER_2, Notebook
from .test_lab import _CARD_STATUS_JS
from .test_saved import reopened_everywhere, save_until_static

pytestmark = [pytest.mark.browser, BROWSER_2]

_WIDER_JS = """(o) => {
  const edge = o.getBoundingClientRect().right + 0.5;
  return [...o.querySelectorAll('*')].filter((e) => e.getBoundingClientRect().right > edge)
    .map((e) => `${e.tagName}.${e.className} +${(e.getBoundingClientRect().right - edge).toFixed(0)}px`);
}"""


def test_the_forms_jobs_end_as_saved_static_html(notebook: Notebook, browser: Any) -> None:
    nb = notebook.open("%load_ext cogvideo_nb", "from cogvideo_nb.widgets import PromptForm\nPromptForm()")
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    nb.wait_ran(1)
    form = nb.cell(1)
    # nothing wider than the output area: no horizontal scrollbar, no label cut off
    overflow = form.locator(".jp-OutputArea-output").first.evaluate(_WIDER_JS)
    assert overflow == [], f"wider than the form's output: {overflow}"
    form.locator("textarea").first.fill("a paper lantern drifting up")
    form.get_by_role("button", name="Generate").click()
    nb.page.wait_for_function(_CARD_STATUS_JS, arg=[1, ["succeeded"]], timeout=60_000, polling=200)
    # the results output became static HTML; the live card was moved into it and plays
    nb.page.wait_for_function(
        "() => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[1];"
        " const s = c && c.querySelector('.cvnb-static'); const v = s && s.querySelector('video');"
        " return !!v && v.readyState >= 1; }",
        timeout=30_000,
        polling=200,
    )
    nb.cell(1).scroll_into_view_if_needed()
    nb.shot()
    # Saved: the results output as static HTML, the form itself as a note (a reopened notebook
    # has no kernel to draw a form with), and the live page keeps its form.
    saved = save_until_static(nb, videos=1)
    outputs = saved["cells"][1]["outputs"]
    assert "run this cell to open it" in outputs[0]["data"]["text/html"], outputs[0]
    assert form.locator("textarea").count() >= 1
    reopened_everywhere(browser, nb, videos=1)
