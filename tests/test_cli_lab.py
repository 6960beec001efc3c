"""``cogvideo lab``: the notebooks come from the installed package, user edits survive, root works."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cogvideo_nb._cli_lab import NOTEBOOKS, copy_notebooks

TOKEN = "lab-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_copy_keeps_the_users_edits(tmp_path: Path) -> None:
    import nbformat  # here, not at collection: with jsonschema it takes seconds to import

    copied, kept = copy_notebooks(tmp_path / "nbs")
    assert [p.name for p in copied] == list(NOTEBOOKS) and kept == []
    for path in copied:  # real notebooks, not placeholders
        assert nbformat.read(path, as_version=4).cells
    mine = tmp_path / "nbs" / "quickstart.ipynb"
    mine.write_text("my own work")
    copied, kept = copy_notebooks(tmp_path / "nbs")
    assert copied == [] and len(kept) == len(NOTEBOOKS)
    assert mine.read_text() == "my own work"


def start_lab(folder: Path, tmp_path: Path) -> tuple[subprocess.Popen[str], int, Path]:
    """Run the real command; a recording 'browser' tells which page JupyterLab opened."""
    port = free_port()
    opened = tmp_path / f"opened-{port}.txt"
    recorder = tmp_path / "browser.py"
    recorder.write_text(f"import sys\nopen({str(opened)!r}, 'a').write(sys.argv[1] + '\\n')\n")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
    }
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "cogvideo_nb", "lab", "--dir", str(folder), "--port", str(port),
            f"--IdentityProvider.token={TOKEN}", "--ServerApp.use_redirect_file=False",
            f"--ServerApp.browser={sys.executable} {recorder} %s",
        ],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return proc, port, opened


def wait_for(check: object, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if callable(check) and check():
            return
        time.sleep(0.25)
    raise AssertionError("timed out")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_lab_opens_the_copied_quickstart_and_keeps_edits_across_runs(tmp_path: Path) -> None:
    """CI runs as root: JupyterLab refuses root unless the command adds --allow-root."""
    import nbformat

    folder = tmp_path / "my notebooks"
    for run in (1, 2):
        proc, port, opened = start_lab(folder, tmp_path)
        try:
            wait_for(lambda: opened.exists() and opened.read_text().strip())  # noqa: B023
            url = opened.read_text().strip()
            assert url.startswith(f"http://localhost:{port}/lab/tree/quickstart.ipynb"), url
            r = httpx.get(
                f"http://127.0.0.1:{port}/api/contents/quickstart.ipynb", params={"token": TOKEN}, timeout=10
            )
            r.raise_for_status()
            served = r.json()["content"]
            if run == 1:
                assert served["cells"][0]["source"].startswith("# ")  # the shipped quickstart
                nb = nbformat.read(folder / "quickstart.ipynb", as_version=4)
                nb.cells.insert(0, nbformat.v4.new_markdown_cell("my note, keep me"))
                nbformat.write(nb, folder / "quickstart.ipynb")
            else:
                assert served["cells"][0]["source"] == "my note, keep me"
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
        assert ("kept" in out) is (run == 2), out
