"""Kernel bench: how long ``%%cogvideo`` blocks a real IPython kernel, and how smooth its loops stay.

A real kernel (``jupyter_client.KernelManager``) with no API key, so jobs go to the bundled
emulator (5 s tasks, private state dir, cwd a temp dir). In the kernel we start a stall probe
(sleep 5 ms, keep the worst overshoot; the same ``StallProbe`` as bench/_common.py) on the
kernel's own asyncio loop and another on the engine's loop, then run 50 ``%%cogvideo`` cells one
after another, each timed inside the kernel, then wait for every job to end.

Reported: the magic's time to return (p50, p95, max) and the worst stall of each loop in two
phases: while the 50 cells run (the kernel loop is then busy running the cells by definition,
so its figure there is shown but not used) and afterwards, while the jobs are still in flight.
Last line: ``kernel: magic_p95_ms=X stall_ms=Y``, Y the worse of the engine loop (both phases)
and the kernel loop (in-flight phase). Goals: p95 < 50 ms, stall < 20 ms.

With ``--light-emulator`` the emulator renders tiny clips (4 fps, a tenth of the length): a
diagnostic that separates our stalls from the CPU the emulator's renders take on a small machine.

    python bench/kernel.py [--quick] [--jobs N] [--light-emulator]
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import StallProbe, idle_loop_probe, percentile, table

_KEY_VARS = ("ZHIPUAI_API_KEY", "ZAI_API_KEY", "ZHIPUAI_BASE_URL", "ZAI_BASE_URL")

SETUP = """\
from __future__ import annotations
import asyncio, json, time
from cogvideo_nb._engine import get_engine
{probe}
_times: list[float] = []
_kprobe = StallProbe(0.005)
_kprobe.start()
_engine = get_engine()
_eprobe = StallProbe(0.005)
_efuture = asyncio.run_coroutine_threadsafe(_eprobe.run(), _engine._loop)
"""

CELL = (
    "_t0 = time.perf_counter(); get_ipython().run_cell_magic('cogvideo', '', {prompt!r}); "
    "_times.append(time.perf_counter() - _t0)"
)

SNAPSHOT = """\
print(json.dumps({"kernel": _kprobe.worst, "engine": _eprobe.worst,
                  "kernel_at": _kprobe.worst_at, "engine_at": _eprobe.worst_at}))
_kprobe.reset(); _eprobe.reset()
"""

# The bench learns that the jobs ended from a file, not by running cells while they are in
# flight: a cell runs on the kernel's loop and would stall the very loop being measured.
WATCH = """\
import threading
def _watch(expect: int, path: str) -> None:
    while True:
        _jobs = list(_engine.scheduler.jobs.values())
        if len(_jobs) >= expect and all(j.done for j in _jobs):
            with open(path, "w") as f:
                f.write(json.dumps({{"total": len(_jobs)}}))
            return
        time.sleep(0.25)
threading.Thread(target=_watch, args=({expect}, {path!r}), daemon=True).start()
"""

RESULTS = """\
from collections import Counter
_jobs = list(get_engine().scheduler.jobs.values())
print(json.dumps({"times": _times, "status": Counter(j.status.value for j in _jobs)}))
"""


class Kernel:
    """A started kernel and a way to run code in it and read back what it printed."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 60) -> str:
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                out.append(content["text"])
            elif kind == "error":
                out.append("\n".join(content.get("traceback", [])))

        reply = self.kc.execute_interactive(code, output_hook=hook, timeout=timeout)
        if reply["content"]["status"] != "ok":
            c = reply["content"]
            raise RuntimeError(
                f"cell failed: {c.get('ename')}: {c.get('evalue')}\n{''.join(out)}\n--- code:\n{code}"
            )
        return "".join(out)

    def json(self, code: str, timeout: float = 60) -> Any:
        return json.loads(self.run(code, timeout).strip().splitlines()[-1])

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)  # graceful: the emulator child exits with the kernel


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--jobs", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="5 jobs, same code path (smoke test)")
    ap.add_argument("--light-emulator", action="store_true", help="tiny emulator renders (diagnostic)")
    ap.add_argument("--wait", type=float, default=150.0, help="seconds to wait for the jobs to end")
    args = ap.parse_args(argv)
    jobs = 5 if args.quick else args.jobs
    if importlib.util.find_spec("cogvideo_nb.magic") is None:
        print(
            "bench/kernel.py: cogvideo_nb.magic does not exist yet, so there is no %%cogvideo to "
            "measure; this bench runs once the magic module lands.",
            file=sys.stderr,
        )
        return 2

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-kernel-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in _KEY_VARS}
        env.update(COGVIDEO_EMULATOR_SECONDS="5", COGVIDEO_EMULATOR_STATE=str(Path(tmp) / "emulator"))
        if args.light_emulator:
            env.update(COGVIDEO_EMULATOR_RENDER_FPS="4", COGVIDEO_EMULATOR_DURATION_SCALE="0.1")
        kernel = Kernel(Path(tmp), env)
        try:
            kernel.run("%load_ext cogvideo_nb")
            kernel.run(SETUP.format(probe=inspect.getsource(StallProbe)))
            time.sleep(0.2)
            with idle_loop_probe() as control:  # the same probe, idle, in this process: the control
                kernel.run("_kprobe.reset(); _eprobe.reset()")
                t0 = time.time()
                for i in range(jobs):
                    kernel.run(CELL.format(prompt=f"scene {i}: a red kite over the dunes at dusk, wide shot"))
                done = Path(tmp) / "done"
                kernel.run(WATCH.format(expect=jobs, path=str(done)))
                during = kernel.json(SNAPSHOT)
                during.update(control=control.worst, control_at=control.worst_at)
                control.reset()
                deadline = time.monotonic() + args.wait
                while not done.exists():
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"jobs still pending after {args.wait:g} s")
                    time.sleep(0.25)
                state = json.loads(done.read_text())
                after = kernel.json(SNAPSHOT)
                after.update(control=control.worst, control_at=control.worst_at)
            results = kernel.json(RESULTS)
        finally:
            kernel.close()

    times_ms = [t * 1000 for t in results["times"]]
    if state["total"] != jobs:
        print(f"warning: the engine ran {state['total']} jobs for {jobs} cells", file=sys.stderr)
    light = ", light emulator renders" if args.light_emulator else ""
    print(f"{jobs} %%cogvideo cells in a real kernel, emulator tasks of 5 s{light}")
    print(f"job states at the end: {results['status']}")
    print()
    print(
        table(
            ["magic time to return", "p50 ms", "p95 ms", "max ms"],
            [["%%cogvideo", percentile(times_ms, 50), percentile(times_ms, 95), max(times_ms)]],
        )
    )
    print()

    def row(name: str, key: str) -> list[object]:
        return [
            name,
            during[key] * 1000,
            during[key + "_at"] - t0,
            after[key] * 1000,
            after[key + "_at"] - t0,
        ]

    print(
        table(
            [
                "largest stall (5 ms probe)",
                "while the cells ran, ms",
                "at s",
                "jobs in flight after, ms",
                "at s",
            ],
            [
                row("kernel loop", "kernel"),
                row("engine loop", "engine"),
                row("control: idle loop, bench process", "control"),
            ],
        )
    )
    print("The kernel loop runs the cells themselves, so its first figure is the cells' own time.")
    print("The control shares nothing with the kernel: a stall it sees too, at the same moment, is the")
    print("machine's (CPU taken by other processes), not the kernel's. 'at': seconds after the first cell.")
    print(f"wall time {time.perf_counter() - started:.0f} s")
    stall = max(during["engine"], after["engine"], after["kernel"]) * 1000
    print(f"kernel: magic_p95_ms={percentile(times_ms, 95):.1f} stall_ms={stall:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
