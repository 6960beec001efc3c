"""Ratings by several people: a row per rater and clip (stars, optional name, blind or sighted),
and what a study reports of them: per prompt variant, the mean, the count, a 95 % interval, and
how often the variant won a blind comparison.

Pure arithmetic over rows, so it is tested directly. The ledger stores the rows (``_ledger``);
a job's own ``rating`` column stays the sighted rating its card's stars give.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["MAX_RATER", "Rating", "Stats", "Tally", "stats", "tally", "winners"]

K = TypeVar("K", bound=Hashable)
MAX_RATER = 80  # characters of a rater's name


@dataclass(frozen=True)
class Rating:
    """One person's view of one clip. ``session``: one blind pass (one shuffle, one rater, ended
    by Reveal); ``letter``: the clip's letter in it; ``won``: picked as that pass's winner.
    ``stars`` is None for a clip seen blind and left unrated (it still took part)."""

    job_id: str
    stars: int | None
    rater: str | None = None
    blind: bool = False
    session: str | None = None
    letter: str | None = None
    won: bool = False
    note: str | None = None
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Stats:
    """Mean, count and a 95 % interval (Student's t, clipped to the 1-5 scale; none below two
    ratings) of some star ratings."""

    count: int
    mean: float | None = None
    low: float | None = None
    high: float | None = None


# Two-sided 95 % critical values of Student's t for 1-30 degrees of freedom.
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
    2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
    2.045, 2.042,
)  # fmt: skip


def _t95(df: int) -> float:
    if df <= len(_T95):
        return _T95[df - 1]
    return 2.000 if df <= 60 else 1.980 if df <= 120 else 1.960


def stats(values: Iterable[int]) -> Stats:
    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        return Stats(0)
    mean = sum(xs) / n
    if n < 2:
        return Stats(n, mean)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = _t95(n - 1) * sd / math.sqrt(n)
    return Stats(n, mean, max(1.0, mean - half), min(5.0, mean + half))


def winners(ratings: Iterable[Rating]) -> dict[str, str | None]:
    """Each blind session's winning job: the one picked, else the one with the most stars alone;
    None for a session with a tie at the top and no pick."""
    sessions: dict[str, list[Rating]] = {}
    for r in ratings:
        if r.blind and r.session:
            sessions.setdefault(r.session, []).append(r)
    out: dict[str, str | None] = {}
    for session, rows in sessions.items():
        picked = [r.job_id for r in rows if r.won]
        if picked:
            out[session] = picked[0]
            continue
        rated = [r for r in rows if r.stars]
        top = max((r.stars or 0 for r in rated), default=0)
        best = [r.job_id for r in rated if r.stars == top]
        out[session] = best[0] if len(best) == 1 else None
    return out


@dataclass
class Tally:
    """What a report shows of one prompt variant."""

    blind: Stats
    sighted: Stats
    wins: int  # blind sessions it won
    sessions: int  # blind sessions it took part in
    raters: list[str]  # the names given with its blind ratings, in order, once each


def tally(ratings: Sequence[Rating], variant: Callable[[str], K]) -> dict[K, Tally]:
    """Per variant (``variant(job_id)``: its key, e.g. the prompt and parameters), blind and
    sighted stars apart, and the blind wins, in the order variants first appear."""
    won = winners(ratings)
    stars: dict[K, tuple[list[int], list[int]]] = {}
    seen: dict[K, set[str]] = {}
    wins: dict[K, int] = {}
    names: dict[K, dict[str, None]] = {}
    for r in ratings:
        key = variant(r.job_id)
        blind, sighted = stars.setdefault(key, ([], []))
        if r.stars:
            (blind if r.blind else sighted).append(r.stars)
        if r.blind and r.session:
            seen.setdefault(key, set()).add(r.session)
            if r.rater:
                names.setdefault(key, {})[r.rater] = None
    for job_id in won.values():
        if job_id is not None:
            key = variant(job_id)
            wins[key] = wins.get(key, 0) + 1
    out: dict[K, Tally] = {}
    for key, (b, s) in stars.items():
        out[key] = Tally(
            blind=stats(b), sighted=stats(s), wins=wins.get(key, 0), sessions=len(seen.get(key, ())),
            raters=list(names.get(key, {})),
        )  # fmt: skip
    return out
