"""Gallery bench: an output folder of 1000 jobs, its first page, kernel time.

The folder is made directly (ledger rows as the engine writes them, a video file and a cover per
finished job; covers are the emulator's own first frames, 426x240 PNG). Each scenario runs in a
fresh Python process, as a new kernel would, with the package and the engine already loaded (as
they are once ``%load_ext`` ran): only what ``%cogvideo gallery`` costs is timed.

* first page: ``Gallery(engine)`` (the ledger's query, the page, the posters already made, the
  saved page), then its widget state serialized and its display bundle built: everything the
  kernel's main thread does before the cell's output leaves. Cold: no poster made yet (they follow
  on the UI thread, timed as "posters of the page"); thumbnails on disk: a kernel opening a
  gallery of this folder again; warm: the same kernel a second time.
* a filter, another page, sort by rating, a card: the page's ask, until answered on the UI thread
  (which may first finish a batch of posters it was making: that is what the page waits for).
* naive baseline: what a gallery without paging would do: every job loaded as a Job
  (``history(1000)``) and every poster made (the card's ``make_poster``), as static HTML.

Wall time on the measuring thread and process CPU; median of the runs. Another process on the
machine (a second engineer's tests) shows up in both.
Last line: ``gallery: jobs=N first_page_ms=X warm_ms=Y naive_ms=Z speedup=S``. Goal: < 200 ms.

    python bench/gallery.py [--quick] [--jobs N] [--runs R]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from _common import table

HERE = Path(__file__).resolve().parent
PROMPTS = [
    "a red fox trots through deep snow in a birch forest, golden hour",
    "a hot-air balloon rises over misty hills at dawn",
    "a paper boat drifts down a rain-filled gutter, close-up",
    "一只熊猫在竹林里弹吉他，电影感",
    "a lighthouse beam sweeps across a stormy sea at night",
    "timelapse of clouds over a mountain lake, soft light",
    "neon city at night, flying cars, rain, reflections",
    "a heron lifts off a pond in slow motion",
]


def build(folder: Path, jobs: int) -> None:
    """``jobs`` ledger rows over 60 days: 3 models, 80 % succeeded, a third rated, repeats, a
    chain every 50 jobs, a rewritten prompt every 20."""
    from cogvideo_nb._jobs import Job, JobStatus, move
    from cogvideo_nb._ledger import Ledger
    from cogvideo_nb._request import build_request
    from cogvideo_nb.emulator import render_clip

    folder.mkdir(parents=True)
    covers = []
    for i, prompt in enumerate(PROMPTS):
        cover = folder / f".seed-{i}.png"
        render_clip(prompt, out_video=folder / f".seed-{i}.mp4", out_cover=cover)
        covers.append(cover.read_bytes())
    ledger = Ledger(folder / "ledger.sqlite")
    start = time.time() - 60 * 86400
    models = ["cogvideox-flash", "cogvideox-flash", "cogvideox-3", "viduq1-text"]
    previous = None
    for i in range(jobs):
        prompt = f"{PROMPTS[i % len(PROMPTS)]} #{i // 3}"  # three runs of each request
        request = build_request(prompt, model=models[(i // 3) % len(models)])
        job = Job(request=request, created_at=start + i * 60 * 86400 / jobs, label=f"run {i % 3 + 1}/3")
        if i % 20 == 0:
            job.original_prompt, job.rewrite = prompt.split(",")[0], "enhance"
        if i % 50 == 1 and previous is not None:
            job.continues = previous.id
        if i % 5 == 4:
            move(job, JobStatus.SUBMITTING)
            move(job, JobStatus.FAILED, error="the server reported FAIL", finished_at=job.created_at + 5)
        else:
            for step in (JobStatus.SUBMITTING, JobStatus.RUNNING, JobStatus.DOWNLOADING):
                move(job, step)
            video, cover = folder / f"{job.short_id}.mp4", folder / f"{job.short_id}.png"
            video.write_bytes(b"\0" * 1024)  # never read by the gallery
            cover.write_bytes(covers[i % len(covers)])
            move(job, JobStatus.SUCCEEDED, video_path=video, cover_path=cover, task_id=f"task-{i}",
                 finished_at=job.created_at + 40)  # fmt: skip
        ledger.record(job, journal=False)
        if i % 3 == 0 and job.status is JobStatus.SUCCEEDED:
            ledger.rate(job.id, i % 5 + 1, "kept for the bench")
        previous = job
    ledger.close()


# -- one scenario, in a process of its own ------------------------------------------------------------
def child(folder: Path, mode: str) -> dict[str, Any]:
    import os

    from cogvideo_nb._config import resolve_settings
    from cogvideo_nb._engine import Engine
    from cogvideo_nb.widgets._bridge import BRIDGE
    from cogvideo_nb.widgets._gallery import Gallery

    # No request is made: a key and an address so no emulator starts; the engine as a kernel has it.
    engine = Engine(resolve_settings(api_key="sk-bench", base_url="http://127.0.0.1:9", output_dir=folder))
    os.chdir(folder.parent)
    out: dict[str, Any] = {}

    def first_page() -> tuple[float, float, Gallery]:
        wall, cpu = time.perf_counter(), time.process_time()
        g = Gallery(engine)
        json.dumps(g.get_state(), default=str)  # the widget's state, as its comm sends it
        g._repr_mimebundle_()  # the display bundle: widget view + the saved page
        return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, g

    if mode == "naive":
        from cogvideo_nb._html import job_html

        wall, cpu = time.perf_counter(), time.process_time()
        jobs = engine.history(10_000)
        page = "".join(job_html(j) for j in jobs)  # every poster made (make_poster), every row a Job
        out["naive"] = ((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
        out["naive_bytes"] = len(page)
    else:
        wall, cpu, g = first_page()
        out["first"] = (wall, cpu)
        out["pending"] = sum(d["poster_pending"] for d in g.items)
        t0 = time.perf_counter()
        while any(d["poster_pending"] for d in g.items):
            BRIDGE.flush()
            if time.perf_counter() - t0 > 60:
                break
        out["posters"] = (time.perf_counter() - t0) * 1000
        out["state_kb"] = len(json.dumps(g.get_state(), default=str)) / 1024
        if mode == "disk":
            wall, cpu, _ = first_page()
            out["warm"] = (wall, cpu)
            for name, ask in (
                ("next page", ({}, 2)),
                ("filter: text", ({"text": "balloon #1"}, 1)),
                ("filter: model + rating 3+", ({"model": "cogvideox-3", "rating": "3"}, 1)),
                ("sort by rating", ({"sort": "rating"}, 1)),
            ):
                g._wanted = ask
                wall, cpu = time.perf_counter(), time.process_time()
                BRIDGE.call(g._query)
                out[name] = ((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
            wall = time.perf_counter()
            BRIDGE.call(lambda: g.open_card(g.items[0]["id"]))
            out["open a card"] = ((time.perf_counter() - wall) * 1000, None)
    engine.close()
    return out


def run_child(folder: Path, mode: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(HERE / "gallery.py"), "--child", mode, str(folder)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    if proc.returncode:
        raise SystemExit(f"child {mode} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def big_covers_ms(folder: Path) -> float:
    """Making one page of posters from 1920x1080 PNG covers (the real service's size) in this
    process: what follows the first page there, on the UI thread."""
    from PIL import Image

    from cogvideo_nb import _gallery

    big = folder.parent / "big"
    big.mkdir()
    with Image.open(folder / ".seed-0.png") as img:
        seed = img.convert("RGB").resize((1920, 1080))
    paths = []
    for i in range(_gallery.PAGE_SIZE):
        path = big / f"{i}.png"
        seed.save(path)
        paths.append(path)
    wall = time.perf_counter()
    for path in paths:
        _gallery.poster(path, big)
    return (time.perf_counter() - wall) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="one run of each (smoke test)")
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--child", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child[1]), args.child[0])))
        return 0
    runs = 1 if args.quick else args.runs
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cogvideo_outputs"
        t0 = time.perf_counter()
        build(folder, args.jobs)
        print(f"built {args.jobs} jobs in {time.perf_counter() - t0:.1f} s: {folder}")
        cold, disk, naive = [], [], []
        for _ in range(runs):
            shutil.rmtree(folder / ".cogvideo-thumbs", ignore_errors=True)
            cold.append(run_child(folder, "cold"))  # makes the thumbnails the next ones read
            disk.append(run_child(folder, "disk"))
            naive.append(run_child(folder, "naive"))

        def med(results: list[dict[str, Any]], key: str, i: int) -> float | None:
            values = [r[key][i] for r in results if r.get(key) and r[key][i] is not None]
            return median(values) if values else None

        rows: list[list[object]] = [
            ["first page, no poster made yet (cold)", med(cold, "first", 0), med(cold, "first", 1)],
            ["first page, posters on disk (new kernel)", med(disk, "first", 0), med(disk, "first", 1)],
            ["first page, same kernel again", med(disk, "warm", 0), med(disk, "warm", 1)],
            ["  posters of the page, cold (UI thread, after)", median(r["posters"] for r in cold), None],
        ]
        asks = ("next page", "filter: text", "filter: model + rating 3+", "sort by rating", "open a card")
        for name in asks:
            rows.append([f"  {name} (UI thread)", med(disk, name, 0), med(disk, name, 1)])
        rows.append(["naive: every job + every poster", med(naive, "naive", 0), med(naive, "naive", 1)])
        rows.append(["  posters of a page from 1080p covers (UI thread)", big_covers_ms(folder), None])
        print(table(["scenario (median of runs)", "kernel ms", "CPU ms"], rows))
        print(
            f"page: 48 tiles, {cold[0]['pending']} posters to make when cold; widget state "
            f"{disk[0]['state_kb']:.0f} kB with posters; naive page {naive[0]['naive_bytes'] / 1e6:.1f} MB; "
            f"runs: {runs}"
        )
        first = max(v for v in (med(cold, "first", 0), med(disk, "first", 0)) if v is not None)
        warm = med(disk, "warm", 0) or 0.0
        slow = med(naive, "naive", 0) or 0.0
        print(
            f"gallery: jobs={args.jobs} first_page_ms={first:.1f} warm_ms={warm:.1f} "
            f"naive_ms={slow:.1f} speedup={slow / first:.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
