"""Notebook 7 as its users meet it: a /notebooks/ page first (no JupyterLab page served before
it on this server), a live card playing its video from the Jupyter server, not through the kernel."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import _RAN_JS, ARTIFACTS, BROWSER_2, VIEWPORT, Lab, Notebook, serve_lab
from .test_saved import reopened_everywhere, save_until_static

# a server of its own starts and stops inside these tests' time: more than the default 120 s
pytestmark = [pytest.mark.browser, BROWSER_2, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A server of its own: no JupyterLab page served before the Notebook 7 one."""
    with serve_lab(tmp_path_factory.mktemp("nb7")) as server:
        yield server


_IDLE_JS = """() => {
  const e = document.querySelector('.jp-Notebook-ExecutionIndicator');
  return !!e && e.dataset.status === 'idle';
}"""
_VIDEO_JS = """() => {
  const v = document.querySelector('video.cvnb-video');
  return v && v.readyState >= 1 ? v.currentSrc : null;
}"""


def _open_nb7(browser: Any, lab: Lab, name: str, *sources: str) -> Any:
    import nbformat  # here, not at collection: with jsonschema it takes seconds to import

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    (lab.root / name).mkdir(exist_ok=True)
    nbformat.write(nb, lab.root / name / f"{name}.ipynb")
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(f"{lab.origin}/notebooks/{name}/{name}.ipynb?token={lab.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function(_IDLE_JS, timeout=60_000, polling=100)
    # The page says idle before its kernel exists (Notebook 7 has no status bar to tell): ask the server.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        mine = [s for s in lab.api("GET", "sessions") if s["path"] == f"{name}/{name}.ipynb"]
        if mine and mine[0]["kernel"]["execution_state"] == "idle":
            return page
        time.sleep(0.3)
    raise AssertionError("Notebook 7 started no kernel")


def _run(page: Any, i: int, timeout: float = 60) -> None:
    page.locator(".jp-Notebook .jp-Cell").nth(i).locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(_RAN_JS, arg=[i], timeout=timeout * 1000, polling=100)


def test_a_notebook7_card_plays_its_video_from_the_server(browser: Any, lab: Lab) -> None:
    name = f"nb7-{uuid.uuid4().hex[:6]}"
    page = _open_nb7(browser, lab, name, "%load_ext cogvideo_nb", "%%cogvideo\na paper boat on a canal")
    try:
        served = page.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data').textContent)")
        assert "serverRoot" not in served or not served["serverRoot"], "not the page the issue meets"
        _run(page, 0)
        _run(page, 1)
        page.wait_for_function(_VIDEO_JS, timeout=60_000, polling=200)
        src = page.evaluate(_VIDEO_JS)
        assert src.startswith(f"{lab.origin}/files/{name}/cogvideo_outputs/"), src  # no blob: transfer
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "notebook7-live-card.png"))
    finally:
        page.context.close()


_STATIC_JS = """() => {
  const v = document.querySelectorAll('.jp-Notebook .jp-Cell')[1]?.querySelector('.cvnb-static video');
  return !!v && v.readyState >= 1;
}"""


def test_a_notebook7_page_reloaded_mid_job_ends_its_output_and_saves_it(browser: Any, lab: Lab) -> None:
    """The reload path of test_every_path.py, in Notebook 7 (its own page, the same widget manager)."""
    name = f"nb7-reload-{uuid.uuid4().hex[:6]}"
    page = _open_nb7(
        browser, lab, name, "%load_ext cogvideo_nb", "%%cogvideo\na ferry leaving port #seconds=6"
    )
    nb = Notebook(lab=lab, page=page, scenario=name, path=f"{name}/{name}.ipynb")
    try:
        _run(page, 0)
        _run(page, 1)
        page.locator(".cvnb-card[data-status='running']").wait_for(timeout=30_000)
        page.keyboard.press("Control+s")
        page.wait_for_timeout(1500)
        page.reload()
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_function(_STATIC_JS, timeout=60_000, polling=200)
        nb.shot("notebook7-reloaded")
        save_until_static(nb, videos=1)
        reopened_everywhere(browser, nb, videos=1, apps=("notebook",))
    finally:
        page.context.close()


def _static_videos(page: Any, cell: int, n: int, timeout: float = 60) -> None:
    page.wait_for_function(
        """([i, n]) => {
          const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
          const vs = c ? [...c.querySelectorAll('.cvnb-static video')] : [];
          return vs.length >= n && vs.every((v) => v.readyState >= 1);
        }""",
        arg=[cell, n],
        timeout=timeout * 1000,
        polling=200,
    )


def test_a_notebook7_restart_mid_job_resumes_and_both_outputs_are_saved(browser: Any, lab: Lab) -> None:
    """The restart path of test_saved.py, in Notebook 7: Resume in the new kernel ends the old
    kernel's card and its own output as the video."""
    name = f"nb7-restart-{uuid.uuid4().hex[:6]}"
    page = _open_nb7(
        browser, lab, name, "%load_ext cogvideo_nb", "%%cogvideo\na crane over the docks #seconds=8",
        "%load_ext cogvideo_nb",
    )  # fmt: skip
    nb = Notebook(lab=lab, page=page, scenario=name, path=f"{name}/{name}.ipynb")
    try:
        _run(page, 0)
        _run(page, 1)
        page.locator(".cvnb-card[data-status='running']").wait_for(timeout=30_000)
        # Kernel -> Restart Kernel…, then confirm, as a user would (the same menu as JupyterLab's)
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
        page.locator('.lm-Menu-item[data-command="kernelmenu:restart"]').click()
        page.locator(".jp-Dialog .jp-mod-accept").click()
        page.locator(".cvnb-card[data-kernel='gone']").wait_for(timeout=30_000)
        page.wait_for_function(_IDLE_JS, timeout=60_000, polling=100)
        _run(page, 2)
        page.get_by_role("button", name="Resume 1").click()
        _static_videos(page, 1, 1)
        _static_videos(page, 2, 1)
        nb.shot("notebook7-resumed")
        save_until_static(nb, videos=2)
        reopened_everywhere(browser, nb, videos=2, apps=("notebook",))
    finally:
        page.context.close()


def test_the_form_in_notebook7_saves_its_result_and_a_note(browser: Any, lab: Lab) -> None:
    name = f"nb7-form-{uuid.uuid4().hex[:6]}"
    page = _open_nb7(
        browser,
        lab,
        name,
        "%load_ext cogvideo_nb",
        "from cogvideo_nb.widgets import PromptForm\nPromptForm()",
    )
    nb = Notebook(lab=lab, page=page, scenario=name, path=f"{name}/{name}.ipynb")
    try:
        _run(page, 0)
        _run(page, 1)
        form = page.locator(".jp-Notebook .jp-Cell").nth(1)
        form.locator("textarea").first.fill("a paper crane unfolding")
        form.get_by_role("button", name="Generate").click()
        _static_videos(page, 1, 1)
        nb.shot("notebook7-form")
        saved = save_until_static(nb, videos=1)
        assert "run this cell to open it" in saved["cells"][1]["outputs"][0]["data"]["text/html"]
        reopened_everywhere(browser, nb, videos=1, apps=("notebook",))
    finally:
        page.context.close()
