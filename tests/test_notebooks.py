"""The shipped notebooks run headless (nbclient) on the emulator and leave real results."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import nbformat

ROOT = Path(__file__).resolve().parents[1]

# (notebook, videos its `%cogvideo wait` cell must show)
CASES = [("quickstart", 3), ("prompt_design", 8), ("comparison_grid", 11), ("prompt_lab", 6)]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "videos"), CASES)
def test_notebook_runs_and_shows_videos(
    name: str, videos: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COGVIDEO_EMULATOR_SECONDS", "1")
    monkeypatch.setenv("COGVIDEO_EMULATOR_RENDER_FPS", "8")
    monkeypatch.setenv("COGVIDEO_EMULATOR_STATE", str(tmp_path / "emu"))
    monkeypatch.setenv("COGVIDEO_CONCURRENCY", "5")
    import nbformat  # here, not at collection: with jsonschema it takes seconds to import
    from nbclient import NotebookClient

    path = tmp_path / f"{name}.ipynb"
    shutil.copy(ROOT / "cogvideo_nb" / "notebooks" / f"{name}.ipynb", path)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    def html_of(cell: nbformat.NotebookNode) -> str:
        return "".join(o.get("data", {}).get("text/html", "") for o in cell.get("outputs", []))

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    [wait_cell] = [c for c in nb.cells if c.source.strip() == "%cogvideo wait"]
    final = html_of(wait_cell)
    assert final.count("<video") == videos and final.count("EMULATED") == videos
    assert 'poster="data:image/jpeg;base64,' in final
    mp4s = sorted((tmp_path / "cogvideo_outputs").glob("*.mp4"))
    assert len(mp4s) >= videos and all(p.stat().st_size > 1000 for p in mp4s)
    cards = [c for c in nb.cells if c.source.startswith("%%cogvideo")]
    for cell in cards:  # every ended job's output is static HTML: no widget view left to fail
        datas = [o["data"] for o in cell.outputs if "data" in o]
        assert all("application/vnd.jupyter.widget-view+json" not in d for d in datas), cell.source
        # (an --enhance cell shows the two prompts first, then the job)
        data = next(d for d in datas if "cvnb-static" in d.get("text/html", ""))
        assert "<video" in data["text/html"]
    # nbconvert, which has no widget state at all, shows every magic cell's videos.
    from nbconvert import HTMLExporter

    page, _ = HTMLExporter().from_notebook_node(nb)
    shown = sum(html_of(c).count("<video") for c in cards)
    assert shown >= videos and page.count('class="cvnb-static-video"') >= shown
    assert os.environ.get("ZHIPUAI_API_KEY") is None
