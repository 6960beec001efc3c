"""Helpers shared by the bench scripts: a loop-stall probe, percentiles and a plain text table.

``StallProbe`` uses only the stdlib and its own names, so ``bench/kernel.py`` can ship its source
into a live kernel and measure with the very same code the polling bench uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Iterator, Sequence


class StallProbe:
    """Sleeps ``interval`` again and again on one loop and keeps the worst overshoot.

    The overshoot is how long that loop could not run anything: the latency a poll timer, a
    widget update or a keypress handled on it would have seen at worst.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.worst = 0.0
        self.worst_at = 0.0  # wall clock, to line up stalls seen by probes on other loops
        self.samples = 0
        self.spikes: list[tuple[float, float]] = []  # (wall clock, overshoot) of those over 10 ms
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            over = time.perf_counter() - start - self.interval
            if over > self.worst:
                self.worst, self.worst_at = over, time.time()
            if over > 0.01 and len(self.spikes) < 10000:
                self.spikes.append((time.time(), over))
            self.samples += 1

    def start(self) -> asyncio.Task[None]:
        """Start on the running loop (call from a coroutine on it)."""
        self._task = asyncio.ensure_future(self.run())
        return self._task

    def reset(self) -> None:
        self.worst, self.worst_at, self.samples, self.spikes = 0.0, 0.0, 0, []

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


@contextlib.contextmanager
def idle_loop_probe() -> Iterator[StallProbe]:
    """A probe on an idle loop in its own thread: the stall floor that this process and the
    machine's load impose on any loop, whatever that loop does."""
    probe, done = StallProbe(0.005), threading.Event()

    async def run() -> None:
        task = probe.start()
        while not done.is_set():
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    try:
        yield probe
    finally:
        done.set()
        thread.join(5)


def unshared(
    spikes: Sequence[Sequence[float]], control: Sequence[Sequence[float]], window: float = 0.1
) -> float:
    """The worst stall (s) of ``spikes`` that the control probe did not also see within
    ``window`` s of it: what this loop suffered beyond the machine's own hiccups."""
    worst = 0.0
    for at, over in spikes:
        # a stall of `over` s ending at `at` overlaps a control stall ending near it
        if not any(abs(c_at - at) <= window + max(over, c_over) for c_at, c_over in control):
            worst = max(worst, over)
    return worst


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    xs = sorted(values)
    pos = (len(xs) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Right-aligned columns, first column left-aligned; floats to 2 decimals."""

    def cell(v: object) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return "-" if math.isnan(v) else f"{v:.2f}"
        return str(v)

    cells = [list(header), *([cell(v) for v in row] for row in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for r in cells:
        first = r[0].ljust(widths[0])
        lines.append("  ".join([first, *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
