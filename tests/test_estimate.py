"""The plan's time from the folder's own history: per job, the makespan on the scheduler's slots,
the platform's busy hours."""

from __future__ import annotations

import datetime as dt

import pytest

from cogvideo_nb._estimate import BEIJING, busy_overlap, estimate, makespan
from cogvideo_nb._models import model_concurrency

FLASH = "model=cogvideox-flash|size=None|fps=None|duration=None|quality=None|with_audio=None"
FLASH_4K = "model=cogvideox-flash|size=3840x2160|fps=None|duration=None|quality=None|with_audio=None"
THREE = "model=cogvideox-3|size=None|fps=None|duration=None|quality=None|with_audio=None"


def test_each_job_takes_its_own_parameters_history_else_its_models_else_any() -> None:
    history = [(FLASH, s) for s in (10, 20, 30, 40, 50)] + [(FLASH_4K, 100.0), (THREE, 60.0)]
    plan = estimate([FLASH_4K, FLASH, THREE, "model=viduq1-text|size=None"], ["cogvideox-flash"] * 2
                    + ["cogvideox-3", "viduq1-text"], history, concurrency=3)  # fmt: skip
    four_k, flash, three, vidu = plan.jobs
    assert (four_k.median, four_k.samples, four_k.basis) == (100.0, 1, "same parameters")
    assert flash.median == 30.0 and flash.p90 == pytest.approx(46.0) and flash.basis == "same parameters"
    assert three.basis == "same parameters" and vidu.basis == "any job" and vidu.samples == 7
    none = estimate([FLASH], ["cogvideox-flash"], [], concurrency=3)
    assert none.jobs[0].basis == "no history" and none.median is None and none.p90 is None


def test_the_makespan_fills_the_slots_in_order_under_each_models_cap() -> None:
    assert makespan([], [], 3) == 0
    assert makespan([10.0] * 12, ["cogvideox-flash"] * 12, 3) == 40.0  # four rounds of three
    assert makespan([10.0] * 12, ["cogvideox-flash"] * 12, 12) == 10.0 * -(
        -12 // model_concurrency("cogvideox-flash")
    )
    # cogvideox-3 runs one at a time; a flash job behind it does not wait for its slot
    assert model_concurrency("cogvideox-3") == 1
    assert makespan([30.0, 30.0, 5.0], ["cogvideox-3", "cogvideox-3", "cogvideox-flash"], 3) == 60.0
    assert (
        makespan(
            [5.0, 30.0, 30.0, 5.0], ["cogvideox-flash", "cogvideox-3", "cogvideox-3", "cogvideox-flash"], 2
        )
        == 60.0
    )


def test_a_plan_that_runs_into_the_busy_hours_says_when() -> None:
    at = dt.datetime(2026, 12, 7, 14, 50, tzinfo=BEIJING)
    assert busy_overlap(at, 5 * 60) is None  # ends at 14:55
    assert busy_overlap(at, 20 * 60) == dt.datetime(2026, 12, 7, 15, 0, tzinfo=BEIJING)
    inside = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.timezone.utc)  # 17:30 in Beijing
    assert busy_overlap(inside, 60) == inside
    late = dt.datetime(2026, 12, 7, 23, 0, tzinfo=BEIJING)
    assert busy_overlap(late, 17 * 3600) == dt.datetime(2026, 12, 8, 15, 0, tzinfo=BEIJING)
    plan = estimate([FLASH] * 6, ["cogvideox-flash"] * 6, [(FLASH, 600.0)], concurrency=3, start=at)
    assert plan.median == 1200.0 and plan.busy == dt.datetime(2026, 12, 7, 15, 0, tzinfo=BEIJING)
