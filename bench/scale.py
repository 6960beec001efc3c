"""Scale bench: 1000 jobs through the engine against the emulator, cap 5, short tasks.

The emulator runs in its own process (``start_background``), so this process's CPU is the
engine's own: its loop thread, its ledger I/O thread and the caller's ``submit`` calls. Tasks
take ``--task-seconds`` (0.3 s) and render tiny clips; the poll policy's time constants are
scaled like ``bench/polling.py`` does (x0.1: first look 0.2 s, then at least 0.1 s apart), so a
thousand jobs fit in about two minutes. What is measured does not depend on the task length:

* engine CPU per job: process CPU (all threads) over the run / jobs; the engine loop thread's
  own CPU is shown too;
* ledger size per job: ``ledger.sqlite`` with its WAL and the journal folder, / jobs;
* ``history(50)`` latency with every row in the ledger: 30 calls, p50 and p95 (the summary);
* lost jobs: jobs not SUCCEEDED, or whose video is missing or fails its sha256, plus ledger rows
  missing, plus tasks the emulator made beyond one per job (a duplicate is a lost guarantee).

Last line: ``scale: jobs=N cpu_ms_per_job=X history_ms=Y ledger_kb_per_job=Z lost=N``.
Goals: CPU < 20 ms per job, history < 20 ms, lost = 0.

    python bench/scale.py [--quick] [--jobs N] [--task-seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from _common import percentile, table

from cogvideo_nb._config import resolve_settings
from cogvideo_nb._downloads import verify
from cogvideo_nb._engine import Engine
from cogvideo_nb._jobs import JobStatus
from cogvideo_nb._polling import PollPolicy
from cogvideo_nb.emulator import EmulatorConfig, start_background

CAP = 5
SCALE = 0.1  # the poll policy's time constants, as in bench/polling.py


def scaled_policy() -> PollPolicy:
    d = PollPolicy()
    return PollPolicy(
        min_interval=d.min_interval * SCALE, first_poll=d.first_poll * SCALE,
        max_interval=d.max_interval * SCALE, poll_cost=d.poll_cost * SCALE,
    )  # fmt: skip


def folder_bytes(out: Path) -> int:
    files = [out / "ledger.sqlite", out / "ledger.sqlite-wal", out / "ledger.sqlite-shm"]
    journal = [p for d in out.iterdir() if d.is_dir() and "journal" in d.name for p in d.rglob("*")]
    return sum(p.stat().st_size for p in [*files, *journal] if p.is_file())


async def loop_cpu() -> float:
    return time.thread_time()  # runs on the engine loop: that thread's CPU seconds


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="60 jobs, same code path (smoke test)")
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--task-seconds", type=float, default=0.3)
    args = ap.parse_args(argv)
    n = 60 if args.quick else args.jobs
    started = time.perf_counter()
    config = EmulatorConfig(
        seconds=args.task_seconds, render_fps=2, duration_scale=0.1, max_in_flight=CAP, seed=1,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        emu = start_background(Path(tmp) / "emu", config=config)
        out = Path(tmp) / "out"
        try:
            settings = resolve_settings(
                api_key="bench-scale", base_url=emu.base_url, output_dir=out, concurrency=CAP, timeout=900
            )
            engine = Engine(settings, policy=scaled_policy(), submit_gap=0.01)
            cpu0, loop0, wall0 = time.process_time(), engine.call(loop_cpu()), time.perf_counter()
            jobs = [engine.submit(f"scene {i}: a red kite over the dunes", label=f"s{i}") for i in range(n)]
            submit_s = time.perf_counter() - wall0
            engine.wait(jobs, timeout=600)
            wall = time.perf_counter() - wall0
            cpu, loop = time.process_time() - cpu0, engine.call(loop_cpu()) - loop0
            engine.history(50)  # warm: the first call pays for the statement cache
            hist = []
            for _ in range(30):
                t0 = time.perf_counter()
                rows = engine.history(50)
                hist.append((time.perf_counter() - t0) * 1000)
            assert len(rows) == min(50, n), len(rows)
            ledger_rows = engine.ledger.count()
            ledger_bytes = folder_bytes(out)
            states = Counter(j.status.value for j in jobs)
            ok = JobStatus.SUCCEEDED
            bad = [j for j in jobs if j.status is not ok or not verify(j.video_path, j.video_sha256)]
            with urllib.request.urlopen(emu.base_url.split("/api/")[0] + "/_emulator/stats", timeout=10) as r:
                stats = json.loads(r.read())
            tasks, requests = len(stats["tasks"]), stats["requests"]
            engine.close()
            asyncio.set_event_loop(None)
        finally:
            emu.stop()
    duplicates = max(0, tasks - n)
    lost = len(bad) + max(0, n - ledger_rows) + duplicates
    print(f"{n} jobs, cap {CAP}, emulator tasks of {args.task_seconds:g} s in its own process, "
          f"poll policy x{SCALE:g}")  # fmt: skip
    print(f"job states: {dict(states)}; emulator tasks made: {tasks}; ledger rows: {ledger_rows}")
    print(f"submitting all {n} took {submit_s:.2f} s on the caller's thread; the batch took {wall:.1f} s")
    print()
    print(
        table(
            ["measure", "value", "per job"],
            [
                ["engine CPU, all threads, ms", cpu * 1000, cpu * 1000 / n],
                ["  of which the engine loop thread, ms", loop * 1000, loop * 1000 / n],
                ["requests: submit + polls", requests["submit"] + requests["poll"],
                 (requests["submit"] + requests["poll"]) / n],
                ["requests: file downloads", requests["file"], requests["file"] / n],
                ["ledger on disk, kB", ledger_bytes / 1024, ledger_bytes / 1024 / n],
                ["history(50) p50, ms", percentile(hist, 50), None],
                ["history(50) p95, ms", percentile(hist, 95), None],
                ["lost (not succeeded, bad file, missing row, duplicate task)", lost, None],
            ],
        )
    )
    print(f"wall time {time.perf_counter() - started:.0f} s")
    print(
        f"scale: jobs={n} cpu_ms_per_job={cpu * 1000 / n:.2f} history_ms={percentile(hist, 95):.2f} "
        f"ledger_kb_per_job={ledger_bytes / 1024 / n:.2f} lost={lost}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
