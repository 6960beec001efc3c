"""When to ask again: a poll schedule learned from how long past jobs of the same kind took.

Fixed 10 s polling spends about duration/10 requests a job and notices completion 5 s late on
average. A job's duration depends mostly on its parameters (model, size, fps, length, quality),
so we keep a log-normal estimate per parameter key and poll on the schedule that minimises
expected lag plus ``poll_cost`` per request (Barlow-Proschan): nothing until the likely window,
densest where finishing is most likely, then backing off. With no
history it starts quickly and backs off geometrically, so a first job is never much worse
than the fixed loop.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

__all__ = ["DurationModel", "PollPolicy", "duration_key", "simulate", "simulate_fixed"]

_Z = NormalDist()


def duration_key(params: Mapping[str, Any]) -> str:
    """The parameters that shape how long a task takes, as one stable string."""
    return "|".join(
        f"{name}={params.get(name)}" for name in ("model", "size", "fps", "duration", "quality", "with_audio")
    )


@dataclass
class DurationModel:
    """Past durations per key (most recent ``keep``), with fallbacks to the model, then to all."""

    keep: int = 50
    prior_sigma: float = 0.25  # log-space spread assumed before evidence arrives
    prior_weight: float = 0.1  # how many observations the prior is worth: evidence wins fast
    _by_key: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def add(self, key: str, seconds: float) -> None:
        if seconds <= 0 or not math.isfinite(seconds):
            return
        for k in (key, key.split("|")[0], "*"):
            q = self._by_key[k]
            q.append(seconds)
            while len(q) > self.keep:
                q.popleft()

    def load(self, rows: Iterable[tuple[str, float]]) -> None:
        for key, seconds in rows:
            self.add(key, seconds)

    def count(self, key: str) -> int:
        return len(self._by_key.get(key, ()))

    def estimate(self, key: str) -> tuple[float, float, int] | None:
        """(log-mean, log-sigma, n) from the most specific history there is, else None."""
        for k in (key, key.split("|")[0], "*"):
            samples = self._by_key.get(k)
            if samples:
                logs = [math.log(s) for s in samples]
                n = len(logs)
                mu = sum(logs) / n
                var = sum((x - mu) ** 2 for x in logs) / max(1, n - 1) if n > 1 else 0.0
                # Shrink toward the prior spread while evidence is thin; a coarser key is wider.
                w = self.prior_weight * (1 if k == key else 3)
                sigma = math.sqrt((n * var + w * self.prior_sigma**2) / (n + w))
                return mu, sigma, n
        return None

    def quantile(self, key: str, p: float) -> float | None:
        est = self.estimate(key)
        if est is None:
            return None
        mu, sigma, _ = est
        return math.exp(mu + sigma * _Z.inv_cdf(p))


@dataclass
class PollPolicy:
    """Seconds to wait before the next poll of one job; pure given the model and an RNG."""

    model: DurationModel = field(default_factory=DurationModel)
    min_interval: float = 1.0
    max_interval: float = 15.0
    first_poll: float = 2.0  # with no history: first look after this, then 1.5x later each time
    jitter: float = 0.08  # +/- fraction, so jobs started together do not poll in lockstep
    poll_cost: float = 0.28  # seconds of detection lag one request is worth avoiding
    _plans: dict[tuple[float, ...], list[float]] = field(default_factory=dict, repr=False, compare=False)

    def expected(self, key: str) -> float | None:
        """Median expected duration, for ETAs."""
        return self.model.quantile(key, 0.5)

    def next_delay(self, key: str, elapsed: float, rng: random.Random | None = None) -> float:
        delay, cap = self._raw_delay(key, elapsed)
        if rng is not None and self.jitter:
            # Bounded in seconds too: a long jump into a narrow window must still land in it.
            spread = min(self.jitter * delay, self.min_interval / 2)
            delay += rng.uniform(-spread, spread)
        return max(self.min_interval, min(cap, delay))

    def _raw_delay(self, key: str, elapsed: float) -> tuple[float, float]:
        """(delay, cap): a learned jump to the likely window may exceed ``max_interval``."""
        est = self.model.estimate(key)
        if est is None:
            # Geometric: polls at 2, 4, 6, 9, 13.5 ... s (each wait half the time so far), to the cap.
            return max(self.first_poll, elapsed * 0.5), self.max_interval
        plan = self._plan(est[0], est[1])
        k = bisect.bisect_right(plan, elapsed + self.min_interval / 2)
        if k < len(plan):
            return plan[k] - elapsed, math.inf
        # Past the plan (a task far slower than its history): back off geometrically.
        return max(self.min_interval, (elapsed - plan[-1]) * 0.5), self.max_interval

    def _plan(self, mu: float, sigma: float) -> list[float]:
        """Poll times minimising E[lag] + poll_cost * E[polls] for a log-normal duration.

        Barlow and Proschan's inspection schedule: given the poll at t[k], the next one is at
        t[k] + (F(t[k]) - F(t[k-1])) / f(t[k]) - poll_cost, dense where finishing is likely;
        the first poll t[1] is chosen by golden-section search on the expected cost.
        """
        # Keyed coarsely (1 % in the median, 0.005 in the spread): every finished job moves the
        # estimate a little, and a plan costs ~10 ms of the engine loop; a 1 % shift of the
        # window changes no poll by more than that, so nearby estimates share one plan.
        ck = (round(mu, 2), round(sigma, 3), self.poll_cost, self.min_interval, self.max_interval)
        cached = self._plans.get(ck)
        if cached is not None:
            return cached
        c, s = self.poll_cost, max(sigma, 1e-3)

        def cdf(t: float) -> float:
            return _Z.cdf((math.log(t) - mu) / s) if t > 0 else 0.0

        def pdf(t: float) -> float:
            z = (math.log(t) - mu) / s
            return math.exp(-z * z / 2) / (t * s * math.sqrt(2 * math.pi)) if t > 0 else 0.0

        def schedule(t1: float) -> list[float]:
            ts, prev = [t1], 0.0
            while cdf(ts[-1]) < 0.999 and len(ts) < 500:
                t = ts[-1]
                gap = (cdf(t) - cdf(prev)) / max(pdf(t), 1e-300) - c
                prev = t
                ts.append(t + max(self.min_interval, min(self.max_interval, gap)))
            return ts

        xs = [math.exp(mu + s * _Z.inv_cdf((i + 0.5) / 64)) for i in range(64)]

        def cost(ts: list[float]) -> float:
            total = 0.0
            for x in xs:
                k = bisect.bisect_left(ts, x)
                total += (ts[k] - x + c * (k + 1)) if k < len(ts) else (x - ts[-1]) + c * (len(ts) + 2)
            return total / len(xs)

        lo, hi = math.exp(mu - 4 * s), math.exp(mu)
        g = (math.sqrt(5) - 1) / 2
        for _ in range(24):  # the bracket shrinks to 1e-5 of its width: far below a poll's jitter
            a, b = hi - g * (hi - lo), lo + g * (hi - lo)
            if cost(schedule(a)) <= cost(schedule(b)):
                hi = b
            else:
                lo = a
        plan = schedule((lo + hi) / 2)
        if len(self._plans) > 256:
            self._plans.clear()
        self._plans[ck] = plan
        return plan


def simulate(
    policy: PollPolicy, key: str, duration: float, rng: random.Random | None = None
) -> tuple[int, float]:
    """(polls, detection lag) for one job of known true ``duration`` on a fake clock."""
    t, polls = 0.0, 0
    while True:
        t += policy.next_delay(key, t, rng)
        polls += 1
        if t >= duration:
            return polls, t - duration


def simulate_fixed(interval: float, duration: float) -> tuple[int, float]:
    """The baseline loop users write: sleep ``interval``, poll, repeat."""
    polls = max(1, math.ceil(duration / interval))
    return polls, polls * interval - duration
