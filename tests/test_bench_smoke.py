"""The bench scripts still run end to end and end with their one-line summary.

Only the format is checked here, never the speed goals: those belong to the bench output,
where a slow shared machine cannot turn them into flaky tests.
"""

from __future__ import annotations

import ast
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
NUMBER = r"(-?\d+(?:\.\d+)?)"


def run_bench(script: str, *args: str, timeout: float) -> str:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip(), f"{script} printed nothing"
    return proc.stdout


def last(output: str) -> str:
    return output.strip().splitlines()[-1]


def numbers(pattern: str, line: str) -> list[float]:
    m = re.fullmatch(pattern, line)
    assert m, f"last line {line!r} does not match {pattern!r}"
    values = [float(v) for v in m.groups()]
    assert all(math.isfinite(v) and v >= 0 for v in values), values
    return values


def table_row(output: str, name: str) -> list[float]:
    """The numbers of one row of a bench's printed table."""
    for line in output.splitlines():
        if line.startswith(name + "  "):
            return [float(v) for v in re.findall(NUMBER, line[len(name) :])]
    raise AssertionError(f"no table row {name!r} in:\n{output}")


@pytest.mark.slow
def test_polling_bench_summary_is_computed_from_its_own_table() -> None:
    output = run_bench("polling.py", "--quick", timeout=120)
    requests, lag, makespan = numbers(
        rf"polling: requests_ratio={NUMBER} lag_ratio={NUMBER} makespan_ratio={NUMBER}", last(output)
    )
    base, warm = table_row(output, "baseline (fixed 10 s)"), table_row(output, "ours, warm")
    # columns: requests/job, median lag, p95 lag, makespan, ... (rounded to 2 places when printed)
    assert requests == pytest.approx(warm[0] / base[0], abs=0.011)
    assert lag == pytest.approx(warm[1] / base[1], abs=0.011)
    assert makespan == pytest.approx(warm[3] / base[3], abs=0.011)
    assert base[0] > 5  # the baseline really polled every 10 s through tasks of 60 s and more


@pytest.mark.slow
def test_render_bench() -> None:
    (cpu,) = numbers(rf"render: cpu_s_per_clip={NUMBER}", last(run_bench("render.py", "2", timeout=120)))
    assert cpu > 0


@pytest.mark.slow
def test_kernel_bench_quick() -> None:
    output = run_bench("kernel.py", "--quick", timeout=150)
    p95, _ = numbers(rf"kernel: magic_p95_ms={NUMBER} stall_ms={NUMBER}", last(output))
    states = re.search(r"job states at the end: (\{.*\})", output)
    assert states, output
    assert set(ast.literal_eval(states.group(1))) == {"succeeded"}, states.group(1)
    assert p95 == pytest.approx(table_row(output, "%%cogvideo")[1], abs=0.051)


@pytest.mark.slow
def test_scale_bench_quick_summary_matches_its_table() -> None:
    output = run_bench("scale.py", "--quick", timeout=150)
    jobs, cpu, history, ledger, lost = numbers(
        rf"scale: jobs={NUMBER} cpu_ms_per_job={NUMBER} history_ms={NUMBER} "
        rf"ledger_kb_per_job={NUMBER} lost={NUMBER}",
        last(output),
    )
    assert jobs == 60 and lost == 0, output
    assert cpu == pytest.approx(table_row(output, "engine CPU, all threads, ms")[1], abs=0.011)
    assert history == pytest.approx(table_row(output, "history(50) p95, ms")[0], abs=0.011)
    assert ledger == pytest.approx(table_row(output, "ledger on disk, kB")[1], abs=0.011)
    assert "job states: {'succeeded': 60}" in output


@pytest.mark.slow
def test_media_bench_quick_summary_matches_its_table() -> None:
    output = run_bench("media.py", "--quick", timeout=150)
    stall, growth = numbers(rf"media: stall_ms={NUMBER} rss_growth_mb={NUMBER}", last(output))
    worst = max(table_row(output, "kernel loop")[0], table_row(output, "engine loop")[0])
    assert stall == pytest.approx(worst, abs=0.051)
    assert growth == pytest.approx(table_row(output, "after all 12 cards show the player")[-1], abs=0.051)
    assert "job states: {'succeeded': 12}; cards 12, showing the player: 12" in output
    sizes = re.search(r"videos: 12, (\d+\.\d)-(\d+\.\d) MB each", output)
    assert sizes and float(sizes.group(1)) > 5, output  # real-size 1080p clips, not the small ones


@pytest.mark.slow
def test_gallery_bench_quick_summary_matches_its_table() -> None:
    output = run_bench("gallery.py", "--quick", timeout=300)
    jobs, first, warm, naive, speedup = numbers(
        rf"gallery: jobs={NUMBER} first_page_ms={NUMBER} warm_ms={NUMBER} naive_ms={NUMBER} speedup={NUMBER}",
        last(output),
    )
    assert jobs == 1000, output
    cold = table_row(output, "first page, no poster made yet (cold)")[0]
    disk = table_row(output, "first page, posters on disk (new kernel)")[0]
    assert first == pytest.approx(max(cold, disk), abs=0.051)
    assert warm == pytest.approx(table_row(output, "first page, same kernel again")[0], abs=0.051)
    assert naive == pytest.approx(table_row(output, "naive: every job + every poster")[0], abs=0.051)
    assert speedup == pytest.approx(naive / first, rel=0.01)  # of the unrounded times
    assert "page: 48 tiles" in output
