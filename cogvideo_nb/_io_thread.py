"""The engine's one I/O thread: blocking work (SQLite, files) off its loop, in order.

It belongs to the engine, not the ledger: it knows nothing of SQLite or of jobs (a job's move
writes through it, see ``_jobs.amove``), and the scheduler also saves results through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["IOThread"]

T = TypeVar("T")


class IOThread:
    """One worker thread: writes stay ordered, and the loop never waits on a disk."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="cogvideo-io")

    def start(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Start ``fn`` in the I/O thread; its future, on the running loop."""
        return asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def off(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` in the I/O thread and wait for it."""
        return await self.start(lambda: fn(*args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
