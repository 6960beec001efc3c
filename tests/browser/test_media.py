"""Real-size results in the page: from a job's SUCCESS on the emulator to its video's metadata.

The kernel's emulator runs in real-size mode (``COGVIDEO_EMULATOR_MEDIA=real``: 1920x1080,
30 fps, 150 frames, 7.5 MB a clip). For one clip and then a grid of six, the page records when
each video first reaches ``readyState >= 1`` (``loadedmetadata``), and the test prints that time
minus the moment the emulator made the task SUCCESS (its task record). The figures are reported,
never asserted (a shared machine would make them flaky); what is asserted is that every video
is the real 1080p file and gets ready.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from .conftest import BROWSER_1, Notebook

pytestmark = [pytest.mark.browser, BROWSER_1]

# Before any page script: the first moment each video source has its metadata, by URL.
_RECORD_JS = """
window.__cvnbReady = {};
document.addEventListener('loadedmetadata', (e) => {
  const v = e.target;
  if (v && v.tagName === 'VIDEO' && v.currentSrc && !(v.currentSrc in window.__cvnbReady)) {
    window.__cvnbReady[v.currentSrc] = {at: Date.now(), width: v.videoWidth, height: v.videoHeight};
  }
}, true);
"""

_READY_JS = """([i, n]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const vs = cell ? Array.from(cell.querySelectorAll('video.cvnb-video')) : [];
  return vs.length === n && vs.every((v) => v.readyState >= 1);
}"""

GRID = [f"scene {i}: a lighthouse in rolling fog, wide shot" for i in range(6)]


def _success_to_ready(nb: Notebook, lab_base: Path) -> dict[str, tuple[float, int, int, int]]:
    """Per video file name: (seconds from SUCCESS to metadata, width, height, bytes)."""
    ready: dict[str, Any] = nb.page.evaluate("() => window.__cvnbReady")
    folder = nb.lab.root / nb.scenario / "cogvideo_outputs"
    with sqlite3.connect(folder / "ledger.sqlite") as db:
        rows = db.execute("SELECT task_id, video_path FROM jobs WHERE video_path IS NOT NULL").fetchall()
    cwd = nb.lab.root / nb.scenario  # the kernel's; the ledger keeps paths as it was given them
    by_name = {Path(path).name: (task_id, cwd / path) for task_id, path in rows}
    out = {}
    for src, seen in ready.items():
        name = urllib.parse.unquote(urllib.parse.urlsplit(src).path).rsplit("/", 1)[-1]
        if name not in by_name:
            continue
        task_id, path = by_name[name]
        record = json.loads((lab_base / "emulator-state" / "tasks" / f"{task_id}.json").read_text("utf-8"))
        latency = seen["at"] / 1000 - float(record["finished_at"])
        out[name] = (latency, seen["width"], seen["height"], path.stat().st_size)
    return out


def test_real_size_success_to_playable(notebook: Notebook) -> None:
    notebook.page.add_init_script(_RECORD_JS)
    nb = notebook.open(
        'import os\nos.environ["COGVIDEO_EMULATOR_MEDIA"] = "real"\n%load_ext cogvideo_nb',
        "%%cogvideo --size 1920x1080\na lighthouse in a storm at night, one clip",
        "%%cogvideo --size 1920x1080\n" + "\n---\n".join(GRID),
    )
    nb.run(0)
    nb.wait_ran(0)
    report = []
    for cell, n in ((1, 1), (2, 6)):
        before = set(_success_to_ready(nb, nb.lab.base)) if cell == 2 else set()
        nb.run(cell)
        nb.wait_ran(cell)
        nb.page.wait_for_function(_READY_JS, arg=[cell, n], timeout=150_000, polling=200)
        nb.page.wait_for_timeout(300)  # the recorder's last event
        found = {k: v for k, v in _success_to_ready(nb, nb.lab.base).items() if k not in before}
        assert len(found) == n, found
        for latency, width, height, size in found.values():
            assert (width, height) == (1920, 1080)
            assert size > 5_000_000  # the real size, not the small mode's few hundred KB
            assert latency > 0
        lat = sorted(v[0] for v in found.values())
        label = "one 1080p clip" if n == 1 else "grid of 6 1080p clips"
        report.append(
            f"{label}: SUCCESS on the emulator -> readyState >= 1 in the page: "
            f"median {statistics.median(lat):.2f} s, max {lat[-1]:.2f} s "
            f"({', '.join(f'{x:.2f}' for x in lat)}; {found[next(iter(found))][3] / 1e6:.1f} MB each)"
        )
    print("\n" + "\n".join(report))
