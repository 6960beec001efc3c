"""The bench scripts still run end to end and end with their one-line summary.

Only the format is checked here, never the speed goals: those belong to the bench output,
where a slow shared machine cannot turn them into flaky tests.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
NUMBER = r"(-?\d+(?:\.\d+)?)"


def last_line(script: str, *args: str, timeout: float) -> str:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"{script} printed nothing"
    return lines[-1]


def numbers(pattern: str, line: str) -> list[float]:
    m = re.fullmatch(pattern, line)
    assert m, f"last line {line!r} does not match {pattern!r}"
    values = [float(v) for v in m.groups()]
    assert all(math.isfinite(v) and v >= 0 for v in values), values
    return values


@pytest.mark.slow
def test_polling_bench_quick() -> None:
    line = last_line("polling.py", "--quick", timeout=120)
    requests, lag, makespan = numbers(
        rf"polling: requests_ratio={NUMBER} lag_ratio={NUMBER} makespan_ratio={NUMBER}", line
    )
    assert requests > 0 and lag > 0 and makespan > 0  # every run made requests and took time


@pytest.mark.slow
def test_render_bench() -> None:
    if not (BENCH / "render.py").exists():
        pytest.skip("bench/render.py is not there (owned by the emulator work)")
    numbers(rf"render: cpu_s_per_clip={NUMBER}", last_line("render.py", "2", timeout=120))


@pytest.mark.slow
def test_kernel_bench_quick() -> None:
    if not (ROOT / "cogvideo_nb" / "magic.py").exists():
        pytest.skip("cogvideo_nb/magic.py does not exist yet: nothing to measure")
    p95, stall = numbers(
        rf"kernel: magic_p95_ms={NUMBER} stall_ms={NUMBER}", last_line("kernel.py", "--quick", timeout=150)
    )
    assert p95 > 0 and stall > 0
