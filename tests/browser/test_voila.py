"""Voila as its users meet it: a dashboard page of a notebook with a %%cogvideo cell. The kernel
and the page stay alive there, so the card stays live and ends as one playable video (Voila serves
no mp4 by default, so the card plays it through one transfer), shown once, never a dead player."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import _DROP_PREFIXES, _DROP_VARS, ARTIFACTS, BROWSER_1, REPO, VIEWPORT, _free_port, _tail

# a server of its own starts and stops inside these tests' time: more than the default 120 s
pytestmark = [pytest.mark.browser, BROWSER_1, pytest.mark.timeout(300)]

_PLAYING_JS = """() => {
  const vs = Array.from(document.querySelectorAll('video'));
  return vs.length > 0 && vs.every((v) => v.readyState >= 1);
}"""


def test_a_voila_dashboard_ends_with_one_playable_video(browser: Any, tmp_path: Path) -> None:
    import nbformat  # here, not at collection: with jsonschema it takes seconds to import

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext cogvideo_nb"),
        nbformat.v4.new_code_cell("%%cogvideo\na paper boat on a canal"),
    ]
    nbformat.write(nb, tmp_path / "board.ipynb")
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES) and k not in _DROP_VARS}
    env.update(
        COGVIDEO_EMULATOR_STATE=str(tmp_path / "emu"),
        COGVIDEO_EMULATOR_SECONDS="2",
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    )
    port = _free_port()
    log = tmp_path / "voila.log"
    cmd = [
        sys.executable,
        "-m",
        "voila",
        "board.ipynb",
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    context = browser.new_context(viewport=VIEWPORT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/static/voila.js", timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, _tail(log)
                time.sleep(0.3)
        page = context.new_page()
        failed: list[str] = []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
        page.wait_for_function(_PLAYING_JS, timeout=60_000, polling=200)
        page.wait_for_timeout(1000)  # any second showing or failed load would be there by now
        shown = page.evaluate(
            "() => Array.from(document.querySelectorAll('video')).map((v) => [v.readyState, v.currentSrc])"
        )
        assert len(shown) == 1 and shown[0][0] >= 1, shown  # one result, playing
        assert page.locator(".cvnb-card").count() == 1
        assert "EMULATED" in page.inner_text("body")
        assert not [f for f in failed if ".mp4" in f], failed  # no dead player behind a 403
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "voila-dashboard.png"))
    finally:
        context.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
