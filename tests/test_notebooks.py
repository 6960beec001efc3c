"""The shipped notebooks, English and Chinese, run headless (nbclient) on the emulator and leave
real results; the Chinese ones are twins of the English ones."""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cogvideo_nb._cli_lab import NOTEBOOKS
from cogvideo_nb._i18n import t

if TYPE_CHECKING:
    import nbformat

ROOT = Path(__file__).resolve().parents[1]

SHIPPED = ROOT / "cogvideo_nb" / "notebooks"
FOLDERS = {"en": SHIPPED, "zh": SHIPPED / "zh"}  # the same names in each
# (notebook, how many videos its %%cogvideo cells show at least), in each language
VIDEOS = [("quickstart", 3), ("prompt_design", 8), ("comparison_grid", 11), ("prompt_lab", 9)]
CASES = [(name, videos, lang) for lang in FOLDERS for name, videos in VIDEOS]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "videos", "lang"), CASES, ids=[f"{lang}-{n}" for n, _, lang in CASES])
def test_notebook_runs_and_shows_videos(
    name: str, videos: int, lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As `cogvideo lab` starts them: the toolkit speaks the notebooks' language.
    monkeypatch.setenv("COGVIDEO_LANG", lang)
    monkeypatch.setenv("COGVIDEO_EMULATOR_SECONDS", "1")
    monkeypatch.setenv("COGVIDEO_EMULATOR_RENDER_FPS", "8")
    monkeypatch.setenv("COGVIDEO_EMULATOR_STATE", str(tmp_path / "emu"))
    monkeypatch.setenv("COGVIDEO_CONCURRENCY", "5")
    import nbformat  # here, not at collection: with jsonschema it takes seconds to import
    from nbclient import NotebookClient

    path = tmp_path / f"{name}.ipynb"
    shutil.copy(FOLDERS[lang] / f"{name}.ipynb", path)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    def html_of(cell: nbformat.NotebookNode) -> str:
        return "".join(o.get("data", {}).get("text/html", "") for o in cell.get("outputs", []))

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    [wait_cell] = [c for c in nb.cells if c.source.strip() == "%cogvideo wait"]
    # Headless, each %%cogvideo cell waits for its own jobs: the wait cell finds nothing left,
    # and each result is shown once, in its own cell's output.
    assert "<video" not in html_of(wait_cell)
    said = "".join(o.get("text", "") for o in wait_cell.outputs if o.get("output_type") == "stream")
    assert t("nothing in flight: every job shown here has ended", lang) in said, said
    mp4s = sorted((tmp_path / "cogvideo_outputs").glob("*.mp4"))
    assert len(mp4s) >= videos and all(p.stat().st_size > 1000 for p in mp4s)
    magic = [c for c in nb.cells if c.source.startswith("%%cogvideo")]
    plans = [c for c in magic if "--dry-run" in c.source.splitlines()[0]]
    cards = [c for c in magic if c not in plans]
    for cell in plans:  # a plan sends nothing: the jobs as they would go, no video
        assert "cvnb-dry-run" in html_of(cell) and "<video" not in html_of(cell), cell.source
    for cell in cards:
        if "--blind" in cell.source.splitlines()[0]:  # saved before anyone revealed: no prompt in it
            outputs = json.dumps(cell.outputs, ensure_ascii=False)
            prompts = [p.strip() for p in cell.source.split("\n", 1)[1].split("\n---\n")]
            assert all(p not in outputs for p in prompts) and "blind/" in outputs, outputs[:2000]
        # every ended job's output is static HTML: no widget view left to fail
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
    assert sum(html_of(c).count(t("EMULATED", lang)) for c in cards) >= videos
    assert any('poster="data:image/jpeg;base64,' in html_of(c) for c in cards)
    assert os.environ.get("ZHIPUAI_API_KEY") is None


def _cells(path: Path) -> list[dict[str, object]]:
    cells: list[dict[str, object]] = json.loads(path.read_text("utf-8"))["cells"]
    return cells


def _source(cell: dict[str, object]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else str(source)


def _chinese(text: str) -> bool:
    return any(unicodedata.east_asian_width(c) == "W" for c in text)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_chinese_notebooks_are_twins_of_the_english_ones(name: str) -> None:
    """Same cells in the same order, same kinds and ids, the same magics and code; only words differ:
    every markdown cell and every prompt is Chinese. Shipped without outputs."""
    en, zh = _cells(FOLDERS["en"] / name), _cells(FOLDERS["zh"] / name)
    assert [(c["cell_type"], c["id"]) for c in zh] == [(c["cell_type"], c["id"]) for c in en]
    for a, b in zip(en, zh, strict=True):
        said, twin = _source(a), _source(b)
        assert not b.get("outputs") and b.get("execution_count") is None, twin
        if b["cell_type"] == "markdown":
            assert _chinese(twin), twin
        elif said.startswith("%%cogvideo"):  # same options, Chinese prompts
            words = re.compile(r'"[^"]*"|(?<=--title )\S+')  # a title, a --vary of prompt words
            options = [words.sub("W", s.splitlines()[0]) for s in (said, twin)]
            assert options[0] == options[1], twin
            assert said.count("\n---\n") == twin.count("\n---\n")
            assert all(_chinese(p) for p in twin.split("\n", 1)[1].split("\n---\n")), twin
        else:  # code: the same but for its strings and comments
            strip = re.compile(r'"[^"\n]*"|#[^\n]*')
            assert strip.sub("S", said) == strip.sub("S", twin), twin


@pytest.mark.slow
def test_a_headless_run_without_wait_finishes_its_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nbconvert --execute / papermill: no page will update outputs later and the kernel stops at
    the last cell, so a plain %%cogvideo cell waits; the saved notebook holds playable results
    and the ledger no job without a task."""
    import nbformat  # here, not at collection: with jsonschema it takes seconds to import
    from nbclient import NotebookClient

    from cogvideo_nb._ledger import Ledger

    monkeypatch.setenv("COGVIDEO_EMULATOR_SECONDS", "1")
    monkeypatch.setenv("COGVIDEO_EMULATOR_STATE", str(tmp_path / "emu"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext cogvideo_nb"),
        nbformat.v4.new_code_cell("%%cogvideo\na heron lifts off a misty pond"),
        nbformat.v4.new_code_cell("%%cogvideo\na red kite\n---\na blue kite"),
    ]
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    for cell in nb.cells[1:]:
        datas = [o["data"] for o in cell.outputs if "data" in o]
        assert datas and all("application/vnd.jupyter.widget-view+json" not in d for d in datas), cell.source
        html = "".join(d.get("text/html", "") for d in datas)
        assert html.count("<video") == cell.source.count("---") + 1, cell.source
        said = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        assert "a headless run" in said
    ledger = Ledger(tmp_path / "cogvideo_outputs" / "ledger.sqlite")
    try:
        rows = ledger.history(10)
    finally:
        ledger.close()
    assert len(rows) == 3 and all(j.status.value == "succeeded" and j.task_id for j in rows)
