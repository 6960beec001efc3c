"""When to ask again: a poll schedule learned from how long past jobs of the same kind took.

Fixed 10 s polling spends about duration/10 requests a job and notices completion 5 s late on
average. A job's duration depends mostly on its parameters (model, size, fps, length, quality),
so we keep a log-normal estimate per parameter key: nothing until the earliest likely finish,
then evenly through the likely window at the spacing that best trades requests for lag, then
backing off. With no
history it starts quickly and backs off geometrically, so a first job is never much worse
than the fixed loop.
"""

from __future__ import annotations

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
    prior_weight: float = 1.0  # how many observations the prior is worth
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
    poll_cost: float = 0.25  # seconds of detection lag one request is worth avoiding

    def expected(self, key: str) -> float | None:
        """Median expected duration, for ETAs."""
        return self.model.quantile(key, 0.5)

    def next_delay(self, key: str, elapsed: float, rng: random.Random | None = None) -> float:
        delay, cap = self._raw_delay(key, elapsed)
        if rng is not None and self.jitter:
            delay *= 1 + rng.uniform(-self.jitter, self.jitter)
        return max(self.min_interval, min(cap, delay))

    def _raw_delay(self, key: str, elapsed: float) -> tuple[float, float]:
        """(delay, cap): a learned jump to the likely window may exceed ``max_interval``."""
        if self.model.estimate(key) is None:
            # Geometric: polls at 2, 4, 6, 9, 13.5 ... s (each wait half the time so far), to the cap.
            return max(self.first_poll, elapsed * 0.5), self.max_interval
        q_lo, median, q_hi = (self.model.quantile(key, p) or 0.0 for p in (0.02, 0.5, 0.98))
        if elapsed < q_lo - self.min_interval / 2:
            return q_lo - elapsed, math.inf  # nothing to learn before the earliest likely finish
        # Even spacing d through the likely window minimises lag + poll_cost * polls, whose
        # expected sum is about d/2 + poll_cost * (median - q_lo) / d.
        d = max(self.min_interval, min(self.max_interval, math.sqrt(2 * self.poll_cost * (median - q_lo))))
        if elapsed < q_hi:
            return d, self.max_interval
        overrun = (elapsed - q_hi) / max(median, 1e-9)
        return d * 1.5 ** (4 * overrun), self.max_interval


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
