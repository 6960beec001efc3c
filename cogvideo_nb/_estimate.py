"""How long a plan would take, from this output folder's own history: what ``--dry-run`` says.

A job's time is what finished jobs with the same parameters took here, from submission to the
video on disk (the ledger's ``finished_at - submitted_at``: the server's run, our poll's lag and
the download, which is what a person waits for); with no such job, the same model's; with none,
any job's. The plan's time lays those on the scheduler's slots, in plan order, as the scheduler
starts them: the concurrency in force and each model's own cap. Both the median and the 90th
percentile: a lesson is planned on the 90th. The platform's docs say throttling tightens in its
busy hours (15:00-18:00 Beijing time), so a plan that would run into them says so.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ._i18n import N_
from ._models import model_concurrency

__all__ = ["BUSY_HOURS", "JobTime", "PlanTime", "busy_overlap", "estimate", "makespan"]

BEIJING = dt.timezone(dt.timedelta(hours=8))
BUSY_HOURS = (15, 18)  # Beijing time, from the platform's rate-limit docs


@dataclass(frozen=True)
class JobTime:
    """One job's expected wait, and how much history it rests on (``basis``: key/model/any)."""

    median: float | None
    p90: float | None
    samples: int
    basis: str  # "same parameters", "same model", "any job" or "no history"


@dataclass(frozen=True)
class PlanTime:
    """The whole plan: every job's time, the makespan at median and 90th percentile, and whether
    it would run into the platform's busy hours (``busy``: the overlap's Beijing start, or None)."""

    jobs: list[JobTime]
    median: float | None
    p90: float | None
    concurrency: int
    busy: dt.datetime | None


def _quantile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between order statistics (numpy's default), on a sorted copy."""
    xs = sorted(values)
    at = (len(xs) - 1) * p
    lo, hi = math.floor(at), math.ceil(at)
    return xs[lo] + (xs[hi] - xs[lo]) * (at - lo)


def _job_times(keys: Sequence[str], history: Iterable[tuple[str, float]]) -> list[JobTime]:
    by: dict[str, list[float]] = defaultdict(list)
    for key, seconds in history:
        if seconds > 0 and math.isfinite(seconds):
            for k in (key, key.split("|")[0], "*"):
                by[k].append(seconds)
    out = []
    for key in keys:
        levels = ((key, N_("same parameters")), (key.split("|")[0], N_("same model")), ("*", N_("any job")))
        for k, basis in levels:
            if by.get(k):
                xs = by[k]
                out.append(JobTime(_quantile(xs, 0.5), _quantile(xs, 0.9), len(xs), basis))
                break
        else:
            out.append(JobTime(None, None, 0, N_("no history")))
    return out


def makespan(seconds: Sequence[float], models: Sequence[str], concurrency: int) -> float:
    """When the last of these jobs ends, started as the scheduler starts them: each job waits
    for a free slot and room under its model's cap, the first in plan order going first, and a
    job whose model is full does not hold up one of another model. 0 for no jobs."""
    waiting = list(zip(seconds, models, strict=True))
    running: list[tuple[float, str]] = []  # (end, model)
    now = end = 0.0
    while waiting:
        free = len(running) < concurrency
        room = (
            i for i, (_, m) in enumerate(waiting) if sum(r == m for _, r in running) < model_concurrency(m)
        )
        pick = next(room, None) if free else None
        if pick is None:  # nothing can start: until the next job ends
            now = min(e for e, _ in running)
            running = [(e, m) for e, m in running if e > now]
            continue
        length, model = waiting.pop(pick)
        running.append((now + length, model))
        end = max(end, now + length)
    return end


def busy_overlap(start: dt.datetime, seconds: float) -> dt.datetime | None:
    """The first moment of [start, start + seconds] inside the busy hours (Beijing time), if any."""
    begin = start.astimezone(BEIJING)
    stop = begin + dt.timedelta(seconds=seconds)
    day = begin.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= stop:
        lo = day.replace(hour=BUSY_HOURS[0])
        hi = day.replace(hour=BUSY_HOURS[1])
        if lo < stop and begin < hi:
            return max(lo, begin)
        day += dt.timedelta(days=1)
    return None


def estimate(
    keys: Sequence[str],
    models: Sequence[str],
    history: Iterable[tuple[str, float]],
    *,
    concurrency: int,
    start: dt.datetime | None = None,
) -> PlanTime:
    """The plan's time: ``keys`` are the jobs' duration keys (``_polling.duration_key``) in plan
    order, ``history`` (key, seconds) pairs of finished jobs from the ledger."""
    jobs = _job_times(keys, history)
    median = p90 = None
    if jobs and all(j.median is not None for j in jobs):
        median = makespan([j.median or 0.0 for j in jobs], models, concurrency)
        p90 = makespan([j.p90 or 0.0 for j in jobs], models, concurrency)
    when = start or dt.datetime.now(dt.timezone.utc)
    busy = busy_overlap(when, p90 if p90 is not None else 0.0)
    return PlanTime(jobs, median, p90, concurrency, busy)
