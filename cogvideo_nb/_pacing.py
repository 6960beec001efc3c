"""Caps and pace for submits: a total cap, a cap per model, and AIMD slow-down per model on 429.

The platform limits tasks in flight per account *and per model* (api-notes), so a 429 on
``cogvideox-3`` must slow only ``cogvideox-3``: each model has its own slots and submit gap,
shrunk on 429 and given back after a calm spell. The total cap is a live setting.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections.abc import Coroutine, Mapping
from typing import Any

from ._errors import CogVideoError, RateLimitError
from ._models import model_concurrency

__all__ = ["CURRENT_MODEL", "Slots", "Throttle"]

# The model a client call is made for: set around each call, read by the 429 hook, which
# the client calls synchronously inside the same task.
CURRENT_MODEL: contextvars.ContextVar[str | None] = contextvars.ContextVar("cogvideo_model", default=None)


class Slots:
    """A semaphore whose limit can shrink under rate limiting and grow back."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._cond = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._cond:
            try:
                await self._cond.wait_for(lambda: self.used < self.limit)
            except BaseException:
                self._wake()  # a wake-up this waiter took when it was cancelled goes to the next
                raise
            self.used += 1

    async def release(self) -> None:
        async with self._cond:
            self.used -= 1
            self._wake()

    async def set_limit(self, limit: int) -> None:
        async with self._cond:
            self.limit = limit
            self._wake()

    def _wake(self) -> None:
        """Wake as many waiters as there are free slots, first come first served: with a
        thousand jobs queued, waking them all on every release cost O(n) per job."""
        self._cond.notify(max(0, self.limit - self.used))


class _Model:
    def __init__(self, cap: int, gap: float) -> None:
        self.cap = cap
        self.slots = Slots(cap)
        self.gap = gap
        self.last_submit = 0.0
        self.last_429 = -math.inf
        self.lock = asyncio.Lock()


class Throttle:
    """Slots and submit pacing, total and per model; one per scheduler, used on its loop."""

    def __init__(self, total: int, gap: float, model_caps: Mapping[str, int] | None = None) -> None:
        self.total = Slots(total)
        self.concurrency = total
        self.base_gap = gap
        self.calm_seconds = 5.0
        self._caps = dict(model_caps or {})
        self._models: dict[str, _Model] = {}
        self._background: set[asyncio.Future[None]] = set()

    def model(self, name: str) -> _Model:
        m = self._models.get(name)
        if m is None:
            cap = self._caps.get(name) or model_concurrency(name)
            m = self._models[name] = _Model(cap, self.base_gap)
        return m

    async def acquire(self, name: str) -> None:
        """A model slot, then a total one: waiters for a busy model never hold a total slot."""
        await self.model(name).slots.acquire()
        try:
            await self.total.acquire()
        except BaseException:
            await self.model(name).slots.release()
            raise

    async def release(self, name: str) -> None:
        await self.total.release()
        await self.model(name).slots.release()

    async def set_concurrency(self, total: int) -> None:
        self.concurrency = total
        await self.total.set_limit(total)

    async def pace(self, name: str) -> None:
        """Wait out the model's submit gap (after giving back pace if it has been calm)."""
        m = self.model(name)
        async with m.lock:
            self._recover(m)
            wait = m.last_submit + m.gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            m.last_submit = time.monotonic()

    def gap(self, name: str) -> float:
        return self.model(name).gap

    def on_retry(self, error: CogVideoError, delay: float) -> None:
        """On 429: double that model's submit gap (to 2 s at most) and take one slot away."""
        name = CURRENT_MODEL.get()
        if not isinstance(error, RateLimitError) or name is None:
            return
        m = self.model(name)
        m.gap = min(2.0, max(m.gap * 2, 0.25))
        m.last_429 = time.monotonic()
        if m.slots.limit > 1:
            self._spawn(m.slots.set_limit(m.slots.limit - 1))

    def _recover(self, m: _Model) -> None:
        if time.monotonic() - m.last_429 < self.calm_seconds:
            return
        m.gap = max(self.base_gap, m.gap / 2)
        if m.slots.limit < m.cap:
            self._spawn(m.slots.set_limit(m.slots.limit + 1))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
