"""Bounded waits for tests: a job that never reaches a state fails the test, it does not hang it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from cogvideo_nb import Job, JobStatus


def _stuck(job: Job, status: JobStatus, timeout: float) -> AssertionError:
    return AssertionError(
        f"job never became {status.value} in {timeout}s: {job.status.value} {job.error or ''}"
    )


def wait_for_status(job: Job, status: JobStatus, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while job.status is not status:
        if job.status.terminal or time.monotonic() > deadline:
            raise _stuck(job, status, timeout)
        time.sleep(0.02)


async def async_wait_for_status(job: Job, status: JobStatus, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while job.status is not status:
        if job.status.terminal or time.monotonic() > deadline:
            raise _stuck(job, status, timeout)
        await asyncio.sleep(0.02)


def wait_until(check: Callable[[], object], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s")
        time.sleep(0.02)
