"""When to ask again: a poll schedule learned from how long past jobs of the same kind took.

Fixed 10 s polling spends about duration/10 requests a job and notices completion 5 s late on
average. A job's duration depends mostly on its parameters (model, size, fps, length, quality),
so we keep a log-normal estimate per parameter key and poll at its quantiles: nothing until the
earliest likely finish, then densely through the likely window, then backing off. With no
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
# Quantiles of the expected finish at which to poll: one jump to the early edge, then dense.
LADDER = (0.03, 0.2, 0.4, 0.6, 0.8, 0.95)


def duration_key(params: Mapping[str, Any]) -> str:
    """The parameters that shape how long a task takes, as one stable string."""
    return "|".join(
        f"{name}={params.get(name)}" for name in ("model", "size", "fps", "duration", "quality", "with_audio")
    )


@dataclass
class DurationModel:
    """Past durations per key (most recent ``keep``), with fallbacks to the model, then to all."""

    keep: int = 50
    prior_sigma: float = 0.35  # log-space spread assumed before evidence arrives
    prior_weight: float = 2.0  # how many observations the prior is worth
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

    def expected(self, key: str) -> float | None:
        """Median expected duration, for ETAs."""
        return self.model.quantile(key, 0.5)

    def next_delay(self, key: str, elapsed: float, rng: random.Random | None = None) -> float:
        delay = self._raw_delay(key, elapsed)
        if rng is not None and self.jitter:
            delay *= 1 + rng.uniform(-self.jitter, self.jitter)
        return max(self.min_interval, min(self.max_interval, delay))

    def _raw_delay(self, key: str, elapsed: float) -> float:
        if self.model.estimate(key) is None:
            # Geometric: polls at 2, 3, 4.5, 6.75 ... s (each wait half the time so far), to the cap.
            return max(self.first_poll, elapsed * 0.5)
        for p in LADDER:
            q = self.model.quantile(key, p)
            assert q is not None
            if q > elapsed + self.min_interval / 2:
                return q - elapsed
        # Past the likely window: back off from a tenth of the median, growing with overrun.
        q95 = self.model.quantile(key, LADDER[-1]) or elapsed
        median = self.model.quantile(key, 0.5) or elapsed
        overrun = max(0.0, (elapsed - q95) / max(median, 1e-9) * 4)
        return float(max(self.min_interval, 0.1 * median) * 1.5**overrun)


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
