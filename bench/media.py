"""Media bench: real-size 1080p results landing in a real kernel, six at a time, through the cards.

A real IPython kernel (``jupyter_client``) runs 30 ``%%cogvideo --size 1920x1080`` cells, the
path a notebook uses: each cell shows a live card, the engine downloads the result, the UI
thread makes its poster and switches the card to the player. The emulator runs in real-size
mode (``media="real"``: 1920x1080, 30 fps, 150 frames, 12 Mbit/s, 7.5 MB a clip) in its own
process, niced and with one render worker, so the CPU its renders take stays out of our figures
as far as a 2-core machine allows; the kernel reaches it as a custom base URL with a key (the
same card path as the emulated one). Tasks take ``--task-seconds`` (8 s); the engine's caps are
6 (total and per model), so the 30 jobs run as 5 waves of 6 that finish together.

Measured while they land (the 30 cells have returned by then): the worst stall of the kernel's
asyncio loop and of the engine's loop (5 ms sleep probes, the ``StallProbe`` of _common.py), an
idle loop in this process as the machine's floor, and the kernel's resident memory (``VmRSS``):
before the first cell, its peak while the results land, and after all 30 cards show their
player (UI thread flushed, ``gc.collect()``). Last line: ``media: stall_ms=X rss_growth_mb=Y``,
X the worse of the two loops, Y the growth after all 30. Goals: stall < 20 ms, growth < 64 MB.

    python bench/media.py [--quick] [--jobs N] [--task-seconds S]
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _common import StallProbe, idle_loop_probe, table, unshared
from kernel import _KEY_VARS, WATCH, Kernel

from cogvideo_nb.emulator import EmulatorConfig, start_background

WAVE = 6

SETUP = """\
from __future__ import annotations
import asyncio, gc, json, os, threading, time
from cogvideo_nb._config import resolve_settings
from cogvideo_nb._engine import Engine, _engines, get_engine
{probe}

def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

# The engine a notebook gets, but with room for {wave} tasks of one model at once (the
# catalogue's cap for cogvideox-flash is 5) and a short gap between submits: a wave lands together.
_settings = resolve_settings()
_engines[str(_settings.output_dir.expanduser().resolve())] = Engine(
    _settings, submit_gap=0.02, model_concurrency={{"cogvideox-flash": {wave}}}
)
_engine = get_engine()
_kprobe = StallProbe(0.005)
_kprobe.start()
_eprobe = StallProbe(0.005)
_efuture = asyncio.run_coroutine_threadsafe(_eprobe.run(), _engine._loop)
_peak = [0]
def _sample() -> None:
    while True:
        _peak[0] = max(_peak[0], _rss())
        time.sleep(0.05)
threading.Thread(target=_sample, daemon=True).start()
_gc = {{"start": 0.0, "worst": 0.0, "gen": -1}}  # the longest garbage collection: it stops every thread
def _gc_watch(phase: str, info: dict) -> None:
    if phase == "start":
        _gc["start"] = time.perf_counter()
    elif (took := time.perf_counter() - _gc["start"]) > _gc["worst"]:
        _gc["worst"], _gc["gen"] = took, info["generation"]
gc.callbacks.append(_gc_watch)
"""

CELL = "get_ipython().run_cell_magic('cogvideo', '--size 1920x1080', {prompt!r})"

BEFORE = """\
gc.collect(); _rss0 = _rss(); _peak[0] = _rss0; _gc["worst"] = 0.0
print(json.dumps({"rss": _rss0}))
"""

AFTER = """\
from collections import Counter
from cogvideo_nb.widgets._bridge import BRIDGE
BRIDGE.flush()
# The stall figures are read here, before this cell's own gc.collect() (which stops every thread)
# and its other work: stalls the measurement causes are not the product's.
_stalls = dict(kernel=_kprobe.worst, engine=_eprobe.worst, kernel_spikes=list(_kprobe.spikes),
               engine_spikes=list(_eprobe.spikes), gc=dict(_gc))
_cards = [w for w in __import__("ipywidgets").Widget.widgets.values() if type(w).__name__ == "JobCard"]
gc.collect()
_jobs = list(get_engine().scheduler.jobs.values())
print(json.dumps({
    **_stalls, "rss": _rss(), "peak": _peak[0],
    "status": Counter(j.status.value for j in _jobs),
    "bytes": [j.video_path.stat().st_size for j in _jobs if j.video_path is not None],
    "players": sum(bool(c.video_path) for c in _cards), "cards": len(_cards),
}))
"""


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="12 jobs (2 waves), same code path (smoke test)")
    ap.add_argument("--jobs", type=int, default=30)
    ap.add_argument("--task-seconds", type=float, default=8.0)
    ap.add_argument("--wait", type=float, default=180.0, help="seconds to wait for the jobs to end")
    args = ap.parse_args(argv)
    jobs = 12 if args.quick else args.jobs
    started = time.perf_counter()
    config = EmulatorConfig(
        media="real", seconds=args.task_seconds, max_in_flight=WAVE, render_workers=1, seed=1
    )
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        emu = start_background(Path(tmp) / "emu", config=config)
        # Nice every thread the emulator has (Linux nices threads, not processes; threads it
        # starts later inherit from these): its renders and its serving yield to the kernel.
        for tid in os.listdir(f"/proc/{emu.pid}/task"):
            os.setpriority(os.PRIO_PROCESS, int(tid), 10)
        env = {k: v for k, v in os.environ.items() if k not in _KEY_VARS}
        env.update(
            ZHIPUAI_API_KEY="bench-media", ZHIPUAI_BASE_URL=emu.base_url, COGVIDEO_CONCURRENCY=str(WAVE),
            COGVIDEO_OUTPUT_DIR=str(Path(tmp) / "out"),
        )  # fmt: skip
        kernel = Kernel(Path(tmp), env)
        try:
            kernel.run(SETUP.format(probe=inspect.getsource(StallProbe), wave=WAVE))
            kernel.run("%load_ext cogvideo_nb")
            before = kernel.json(BEFORE)
            for i in range(jobs):
                kernel.run(CELL.format(prompt=f"scene {i}: a red kite over the dunes at dusk, wide shot"))
            done = Path(tmp) / "done"
            with idle_loop_probe() as control:
                # the end comes as a file (kernel.WATCH): a polling cell would stall the loop measured
                kernel.run(WATCH.format(expect=jobs, path=str(done)) + "_kprobe.reset(); _eprobe.reset()")
                control.reset()
                t0 = time.monotonic()
                while not done.exists():
                    if time.monotonic() - t0 > args.wait:
                        raise RuntimeError(f"jobs still pending after {args.wait:g} s")
                    time.sleep(0.25)
                landing = time.monotonic() - t0
                after = kernel.json(AFTER, timeout=120)
                floor, floor_spikes = control.worst, list(control.spikes)
        finally:
            kernel.close()
            emu.stop()

    mb = 1 << 20
    sizes = after["bytes"]
    print(f"{jobs} %%cogvideo cells (1920x1080) in a real kernel; emulator in real-size mode, tasks of "
          f"{args.task_seconds:g} s, {WAVE} in flight: {-(-jobs // WAVE)} waves")  # fmt: skip
    print(f"job states: {after['status']}; cards {after['cards']}, showing the player: {after['players']}")
    if sizes:
        print(f"videos: {len(sizes)}, {min(sizes) / mb:.1f}-{max(sizes) / mb:.1f} MB each, "
              f"{sum(sizes) / mb:.0f} MB in all; the results landed over {landing:.1f} s")  # fmt: skip
    print()
    print(
        table(
            ["largest stall while results land (5 ms probe)", "ms", "not seen by the control, ms"],
            [
                [
                    "kernel loop",
                    after["kernel"] * 1000,
                    unshared(after["kernel_spikes"], floor_spikes) * 1000,
                ],
                [
                    "engine loop",
                    after["engine"] * 1000,
                    unshared(after["engine_spikes"], floor_spikes) * 1000,
                ],
                ["control: idle loop, bench process", floor * 1000, None],
                [f"longest garbage collection in the kernel (gen {after['gc']['gen']})",
                 after["gc"]["worst"] * 1000, None],
            ],
        )
    )
    print("The control shares nothing with the kernel: a stall it sees at the same moment is the machine's")
    print("(CPU taken by other processes); the last column is the worst stall it did not see.")
    print()
    growth = (after["rss"] - before["rss"]) / mb
    print(
        table(
            ["kernel resident memory", "MB", "growth MB"],
            [
                ["before the first cell", before["rss"] / mb, 0.0],
                ["peak while landing", after["peak"] / mb, (after["peak"] - before["rss"]) / mb],
                [f"after all {jobs} cards show the player", after["rss"] / mb, growth],
            ],
        )
    )
    print(f"wall time {time.perf_counter() - started:.0f} s")
    stall = max(after["kernel"], after["engine"]) * 1000
    print(f"media: stall_ms={stall:.1f} rss_growth_mb={growth:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
