"""The engine's one I/O thread: blocking work (SQLite, files) off its loop, and the one way a job
moves.

A job's move is written to the ledger first, in that thread; memory follows only when the
write landed, and a failed write ends the job visibly (``Job._broken``) and raises. It belongs
to the engine, not the ledger: it knows nothing of SQLite (the write is passed in), and the
scheduler also saves results through it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ._jobs import Job

__all__ = ["IOThread"]

T = TypeVar("T")


class IOThread:
    """One worker thread: writes stay ordered, and the loop never waits on a disk."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="cogvideo-io")

    async def off(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` in the I/O thread and wait for it."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    async def write(self, job: Job, snapshot: Job, write_fn: Callable[..., Any], *args: Any) -> bool:
        """Write ``snapshot`` with ``write_fn``; apply it to memory unless the write answered
        False (nothing written). A failed write ends the job visibly, then raises."""
        write = asyncio.get_running_loop().run_in_executor(self._pool, lambda: write_fn(snapshot, *args))
        try:
            written = await asyncio.shield(write)
        except asyncio.CancelledError:
            # The write goes on in its thread: let it land, so memory matches the ledger.
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(write), 10)
            if (
                write.done()
                and not write.cancelled()
                and write.exception() is None
                and write.result() is not False
            ):
                job._apply(snapshot)
            raise
        except BaseException as exc:
            job._broken(exc)
            raise
        if written is False:
            return False
        job._apply(snapshot)
        return True

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
