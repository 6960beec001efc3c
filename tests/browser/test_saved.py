"""Notebooks that survive: saved outputs, reopened with no widget state, in JupyterLab and
Notebook 7; a kernel restart mid-job; stop then Resume; the id from history.

Run only these: ``python -m pytest tests/browser/test_saved.py -m browser -q``.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .conftest import ARTIFACTS, BROWSER_2, VIEWPORT, Lab, Notebook
from .test_lab import _restart_kernel, _wait_cards

pytestmark = [pytest.mark.browser, BROWSER_2]

WIDGET = "application/vnd.jupyter.widget-view+json"

_ADOPTED_JS = """([i, n]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const cards = cell ? Array.from(cell.querySelectorAll('.cvnb-static.cvnb-adopted > .cvnb-card')) : [];
  return cards.length === n;
}"""

_SAVED_VIEW_JS = """() => ({
  text: document.body.innerText,
  bars: [...document.querySelectorAll('.cvnb-static-controls')].filter((b) => b.offsetParent).length,
  videos: Array.from(document.querySelectorAll('video.cvnb-static-video')).map((v) => ({
    ready: v.readyState, poster: (v.getAttribute('poster') || '').slice(0, 22), src: v.currentSrc,
  })),
})"""


def _saved(lab: Lab, path: str) -> Any:
    req = urllib.request.Request(
        f"{lab.origin}/api/contents/{path}?content=1", headers={"Authorization": f"token {lab.token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())["content"]


def _save(nb: Notebook) -> None:
    nb.cell(0).locator(".jp-InputPrompt").click()
    nb.page.keyboard.press("Control+s")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            cells = _saved(nb.lab, nb.path)["cells"]
        except urllib.error.HTTPError as exc:  # read while the save is writing: ask again
            if exc.code != 400:
                raise
            time.sleep(0.3)
            continue
        if cells[1].get("outputs") and cells[2].get("outputs"):
            return
        time.sleep(0.3)
    raise AssertionError("the notebook was not saved with its outputs")


def _reopen(browser: Any, lab: Lab, path: str, app: str, name: str, videos: int = 3) -> dict[str, Any]:
    """Open the saved notebook in a new page (JupyterLab or Notebook 7); what it shows."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        if app == "lab":
            url = f"{lab.origin}/lab/workspaces/re-{uuid.uuid4().hex[:8]}/tree/{path}?reset&token={lab.token}"
        else:
            url = f"{lab.origin}/notebooks/{path}?token={lab.token}"
        page.goto(url)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_function(
            "(n) => document.querySelectorAll('video.cvnb-static-video').length >= n",
            arg=videos,
            timeout=30_000,
        )
        with contextlib.suppress(PlaywrightTimeoutError):  # reported below, with each video's state
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('video.cvnb-static-video'))"
                ".every((v) => v.readyState >= 1)",
                timeout=20_000,
            )
        time.sleep(1.0)  # any widget error would have rendered by now
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-reopened-{app}.png"), full_page=True)
        result: dict[str, Any] = page.evaluate(_SAVED_VIEW_JS)
        play = page.locator(".cvnb-static-controls button[data-cvnb-act=play]")
        if play.count() and play.first.is_visible():  # a saved grid's bar: does it work?
            play.first.click()
            page.wait_for_timeout(1000)
            result["grid_playing"] = page.evaluate(
                "() => [...document.querySelectorAll('.cvnb-static-grid video')]"
                ".map((v) => !v.paused && v.currentTime > 0)"
            )
        return result
    finally:
        context.close()


def save_until_static(nb: Notebook, videos: int, timeout: float = 30) -> Any:
    """Save (Ctrl+S) until the saved notebook holds no widget view and ``videos`` videos: what
    every path must end with. Returns the saved notebook."""
    deadline = time.monotonic() + timeout
    while True:
        nb.cell(0).locator(".jp-InputPrompt").click()
        nb.page.keyboard.press("Control+s")
        time.sleep(1.0)
        with contextlib.suppress(urllib.error.HTTPError):  # read while the save writes: again
            saved = _saved(nb.lab, nb.path)
            outputs = [o for c in saved["cells"] for o in c.get("outputs", [])]
            widgets = [o for o in outputs if WIDGET in o.get("data", {})]
            found = sum(o.get("data", {}).get("text/html", "").count("<video") for o in outputs)
            if not widgets and found == videos:
                return saved
        if time.monotonic() > deadline:
            raise AssertionError(f"saved with {len(widgets)} widget view(s) and {found} video(s): {outputs}")


def reopened_everywhere(
    browser: Any, nb: Notebook, videos: int, apps: tuple[str, ...] = ("lab", "notebook")
) -> None:
    """Shut the kernel down, reopen the saved notebook in JupyterLab and Notebook 7 (``apps``):
    every video loads, and no output says "Error displaying widget"."""
    nb.lab.close_sessions(nb.path)
    for app in apps:
        seen = _reopen(browser, nb.lab, nb.path, app, nb.scenario, videos)
        assert "Error displaying widget" not in seen["text"] and "model not found" not in seen["text"], app
        assert len(seen["videos"]) == videos, (app, seen["videos"])
        assert all(v["ready"] >= 1 for v in seen["videos"]), (app, seen["videos"])


def test_saved_notebook_reopens_with_videos_and_no_widget_errors(notebook: Notebook, browser: Any) -> None:
    nb = notebook.open(
        "%load_ext cogvideo_nb",
        "%%cogvideo\na kite over a windy beach",
        "%%cogvideo\na heron in the reeds, watercolor\n---\na heron in the reeds, claymation",
    )
    for i in range(3):
        nb.run(i)
        nb.wait_ran(i)
    _wait_cards(nb, 1, ("succeeded",), timeout=60)
    _wait_cards(nb, 2, ("succeeded",), timeout=60)
    # Live: the outputs became static HTML, and the page moved the live cards into it.
    nb.page.wait_for_function(_ADOPTED_JS, arg=[1, 1], timeout=15_000)
    nb.page.wait_for_function(_ADOPTED_JS, arg=[2, 2], timeout=15_000)
    assert nb.cell(2).locator(".cvnb-grid-controls").count() == 1, "the grid lost its play controls"
    _save(nb)
    import nbformat  # here, not at collection: with jsonschema it takes seconds to import

    saved = nbformat.from_dict(_saved(nb.lab, nb.path))
    for i in (1, 2):
        [output] = saved.cells[i].outputs
        assert WIDGET not in output["data"], f"cell {i} still holds a widget view"
        assert output["data"]["text/html"].count("<video") == i
    nb.lab.close_sessions(nb.path)  # the kernel is gone

    for app in ("lab", "notebook"):
        seen = _reopen(browser, nb.lab, nb.path, app, nb.scenario)
        assert "Error displaying widget" not in seen["text"] and "model not found" not in seen["text"]
        videos = seen["videos"]
        assert len(videos) == 3, videos
        assert all(v["ready"] >= 1 and v["poster"] == "data:image/jpeg;base64" for v in videos), videos
        # the saved grid's own bar, shown by its script in this trusted notebook (you saved it)
        assert seen["bars"] == 1, seen["bars"]
        assert seen["grid_playing"] == [True, True], seen["grid_playing"]


_STATS = (
    "import json, urllib.parse, urllib.request\n"
    "from cogvideo_nb import get_engine\n"
    "u = urllib.parse.urlsplit(get_engine().scheduler.client.base_url)\n"
    "tasks = json.load(urllib.request.urlopen(f'{u.scheme}://{u.netloc}/_emulator/stats'))['tasks']\n"
    "print('TASKS', sum(t['prompt'] == PROMPT for t in tasks))"
)


def _text(nb: Notebook, i: int) -> str:
    return str(nb.cell(i).locator(".jp-OutputArea").first.inner_text(timeout=5000))


def test_restart_mid_job_offers_resume_and_the_video_arrives(notebook: Notebook, browser: Any) -> None:
    prompt = "a lighthouse beam sweeping over a stormy sea #seconds=12"
    nb = notebook.open("%load_ext cogvideo_nb", "%%cogvideo\n" + prompt, "%load_ext cogvideo_nb")
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    _wait_cards(nb, 1, ("running",), timeout=20)
    old = nb.cell(1).locator(".cvnb-card")

    _restart_kernel(nb)
    # The old card says its kernel is gone and offers nothing that cannot work.
    nb.page.wait_for_function("(c) => c.dataset.kernel === 'gone'", arg=old.element_handle(), timeout=10_000)
    assert old.locator(".cvnb-gone").is_visible()
    assert "any moment now" not in old.inner_text()
    assert not any(old.locator(f".cvnb-{b}").is_visible() for b in ("stop", "resume", "retry"))

    nb.run(2)
    assert nb.wait_ran(2) == "[1]:", "the kernel did not restart (execution count did not reset)"
    offer = nb.cell(2).locator(".jp-OutputArea")
    offer.get_by_text("1 job(s)").wait_for(timeout=10_000)
    offer.get_by_role("button", name="Resume 1").click()
    card = nb.cell(2).locator(".cvnb-card")
    card.wait_for(timeout=15_000)
    assert card.locator(".cvnb-prompt").inner_text().strip() == prompt
    _wait_cards(nb, 2, ("succeeded",), timeout=40)
    # The card the user was looking at follows the resumed job too.
    assert old.get_attribute("data-kernel") == "live" and old.get_attribute("data-status") == "succeeded"
    for c in (old, card):
        video = c.locator("video.cvnb-video")
        nb.page.wait_for_function("(v) => v.readyState >= 1", arg=video.element_handle(), timeout=15_000)
    old.scroll_into_view_if_needed()
    nb.shot()
    # Both outputs end as static HTML though this kernel never displayed the old one: the
    # resumed card's view ends every output marked as showing its job; the notice saves as text.
    saved = save_until_static(nb, videos=2)
    assert "still in flight" in str(saved["cells"][2]["outputs"])
    reopened_everywhere(browser, nb, videos=2)


def test_stop_then_resume_uses_the_same_task(notebook: Notebook) -> None:
    prompt = "a snail crossing a garden path #seconds=8"
    stats = _STATS.replace("PROMPT", repr(prompt))
    nb = notebook.open("%load_ext cogvideo_nb", "%%cogvideo\n" + prompt, stats)
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    _wait_cards(nb, 1, ("running",), timeout=20)
    card = nb.cell(1).locator(".cvnb-card")
    card.locator(".cvnb-stop").click()
    _wait_cards(nb, 1, ("detached",), timeout=10)
    assert card.locator(".cvnb-resume").is_visible()
    assert card.locator(".cvnb-retry").inner_text() == "Retry (new task)"
    card.locator(".cvnb-resume").click()
    _wait_cards(nb, 1, ("succeeded",), timeout=40)
    nb.page.wait_for_function(
        "(c) => { const v = c.querySelector('video.cvnb-video'); return !!v && v.readyState >= 1; }",
        arg=card.element_handle(),
        timeout=15_000,
    )
    nb.run(2)
    nb.wait_ran(2)
    assert "TASKS 1" in _text(nb, 2), _text(nb, 2)


def test_the_id_history_shows_works_with_show(notebook: Notebook) -> None:
    cells = ("%load_ext cogvideo_nb", "%%cogvideo --wait\na moth at a lamp", "%cogvideo history 1", "")
    nb = notebook.open(*cells)
    for i in range(3):
        nb.run(i)
        nb.wait_ran(i, timeout=60)
    ident = nb.cell(2).locator(".jp-OutputArea code").first.inner_text().strip()
    assert len(ident) == 8, ident
    # One click on the row's "show" shows the job right there.
    nb.cell(2).locator("summary", has_text="show").first.click()
    row_video = nb.cell(2).locator("details video.cvnb-static-video")
    row_video.wait_for(state="visible", timeout=5_000)
    width = row_video.evaluate("(v) => v.getBoundingClientRect().width")
    assert width >= 400, f"the card is squeezed into the result column: video {width:.0f} px wide"
    nb.page.wait_for_function("(v) => v.readyState >= 1", arg=row_video.element_handle(), timeout=15_000)
    editor = nb.cell(3).locator(".cm-content")
    editor.click()
    nb.page.keyboard.type(f"%cogvideo show {ident}")
    nb.page.keyboard.press("Shift+Enter")
    nb.wait_ran(3)
    video = nb.cell(3).locator("video.cvnb-static-video")
    video.wait_for(timeout=10_000)
    nb.page.wait_for_function("(v) => v.readyState >= 1", arg=video.element_handle(), timeout=15_000)


def test_a_video_outside_the_server_root_plays_from_one_transfer(notebook: Notebook, tmp_path: Any) -> None:
    outside = tmp_path / "elsewhere"
    nb = notebook.open("%load_ext cogvideo_nb", f"%%cogvideo --out {outside}\na gull over the harbour")
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    _wait_cards(nb, 1, ("succeeded",), timeout=60)
    video = nb.cell(1).locator("video.cvnb-video")
    nb.page.wait_for_function("(v) => v.readyState >= 1", arg=video.element_handle(), timeout=15_000)
    assert (video.get_attribute("src") or "").startswith("blob:")
    # The card says where the video is (the static HTML does too: tests/test_html.py).
    static = nb.cell(1).locator(".cvnb-static").first
    assert str(outside) in static.inner_text()
    # and why a reopened notebook will not play it (the server named its root to the kernel)
    assert "outside the Jupyter server" in static.inner_text()  # the live card, adopted here
    saved = save_until_static(nb, videos=1)
    assert "outside the Jupyter server" in saved["cells"][1]["outputs"][0]["data"]["text/html"]


def test_a_saved_grid_someone_else_sent_shows_no_dead_controls(browser: Any, lab: Lab) -> None:
    """An untrusted notebook (written, not saved by you here): its grid's script is dropped, so
    its bar stays hidden; the videos still play from their own controls."""
    import os

    import nbformat  # here, not at collection: with jsonschema it takes seconds to import

    from cogvideo_nb._html import grid_html
    from tests.test_report import finished

    folder = lab.root / "sent"
    jobs = [finished(folder, f"a heron in the reeds, {style}") for style in ("watercolor", "clay")]
    here = os.getcwd()
    os.chdir(folder)  # the links are relative to the notebook's folder
    try:
        page_html = grid_html(jobs, title="2 to compare", group="g1")
    finally:
        os.chdir(here)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("%%cogvideo\n...")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": page_html, "text/plain": "2"})]
    nb.cells = [cell]
    nbformat.write(nb, folder / "sent.ipynb")
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(
            f"{lab.origin}/lab/workspaces/sent-{uuid.uuid4().hex[:6]}/tree/sent/sent.ipynb?reset&token={lab.token}"
        )
        page.wait_for_function(
            "() => [...document.querySelectorAll('.cvnb-static-grid video')]"
            ".filter((v) => v.readyState >= 1).length === 2",
            timeout=30_000,
        )
        assert page.locator(".cvnb-static-controls").count() == 1  # in the page, not shown
        assert not page.locator(".cvnb-static-controls").is_visible()
        assert page.locator(".cvnb-static-controls button").first.is_hidden()
    finally:
        context.close()
