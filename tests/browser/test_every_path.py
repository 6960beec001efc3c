"""Every way back to a running job ends as a saved, playable result: a page reloaded mid-job, a
second tab on the same notebook. Each ends with save -> kernel shut down -> reopen (JupyterLab for
one, Notebook 7 for the other): every video loads, no "Error displaying widget".

Neither page knows the output's display id (a reload forgets it, a second tab never had it): the
card's own view ends its output in the page's notebook (``widgets/_notebook.js``).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import BROWSER_1, VIEWPORT, Notebook
from .test_lab import _wait_cards
from .test_saved import reopened_everywhere, save_until_static

pytestmark = [pytest.mark.browser, BROWSER_1, pytest.mark.timeout(240)]

_STATIC_JS = """([i]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const v = cell && cell.querySelector('.cvnb-static video');
  return !!v && v.readyState >= 1;
}"""


def _saved_while_running(notebook: Notebook, prompt: str) -> Notebook:
    """A job's cell run, and the notebook saved with its running card in it."""
    nb = notebook.open("%load_ext cogvideo_nb", "%%cogvideo\n" + prompt)
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    _wait_cards(nb, 1, ("running",), timeout=20)
    nb.cell(0).locator(".jp-InputPrompt").click()
    nb.page.keyboard.press("Control+s")
    nb.page.wait_for_timeout(1500)
    return nb


def _ends_and_saves(nb: Notebook) -> None:
    """In a page just (re)loaded: the job's output ends as the video, and is saved so."""
    nb.page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    nb.wait_kernel_ready()
    _wait_cards(nb, 1, ("succeeded",), timeout=60)
    nb.page.wait_for_function(_STATIC_JS, arg=[1], timeout=30_000, polling=200)
    nb.shot()
    save_until_static(nb, videos=1)


def test_a_page_reloaded_mid_job_ends_its_output_and_saves_it(notebook: Notebook, browser: Any) -> None:
    nb = _saved_while_running(notebook, "a tram climbing a hill at dusk #seconds=6")
    nb.page.reload()
    # the same kernel draws the card again, which ends its output when the job ends
    _ends_and_saves(nb)
    reopened_everywhere(browser, nb, videos=1, apps=("lab",))  # NB7: test_nb7.py reloads there


def test_a_second_tab_saves_the_result_not_a_stale_widget(notebook: Notebook, browser: Any) -> None:
    nb = _saved_while_running(notebook, "a kettle steaming on a stove #seconds=8")
    # A second tab opens the saved notebook on the same kernel while the job runs.
    context = browser.new_context(viewport=VIEWPORT)
    try:
        second = Notebook(lab=nb.lab, page=context.new_page(), scenario=f"{nb.scenario}-tab2", path=nb.path)
        second.page.goto(nb.lab.url(nb.path, f"tab2-{uuid.uuid4().hex[:8]}"))
        # Saving from the second tab used to write its widget and stale snapshot over the result.
        _ends_and_saves(second)
    finally:
        context.close()
    reopened_everywhere(browser, nb, videos=1, apps=("notebook",))  # saved in Lab, opened in NB7
