"""Retry decisions, pure so the sync and async clients share them and tests need no clock."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ._errors import CogVideoError

__all__ = ["RetryPolicy", "RetryState"]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped in attempts and in total time.

    A server's Retry-After wins over the computed delay (up to ``max_delay``), because the
    server knows its own load better than our guess does.
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_elapsed: float = 120.0

    def delay(self, attempt: int, error: CogVideoError, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        if error.retry_after is not None:
            return min(float(error.retry_after), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass
class RetryState:
    """One call's attempts: ask :meth:`next_delay` after a failure; None means give up."""

    policy: RetryPolicy
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0
    waited: float = 0.0

    def next_delay(self, error: CogVideoError) -> float | None:
        self.attempt += 1
        if not error.retryable or self.attempt >= self.policy.max_attempts:
            return None
        delay = self.policy.delay(self.attempt, error, self.rng)
        if self.waited + delay > self.policy.max_elapsed:
            return None
        self.waited += delay
        return delay
