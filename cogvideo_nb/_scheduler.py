"""The scheduler: many jobs on one asyncio loop, under a cap, paced, polled adaptively, saved.

It runs on whatever loop calls it (tests use their own; notebooks and scripts use the
engine's background loop, see ``_engine``). Every transition is written to the ledger before
the next request leaves, so a crash at any point loses nothing and duplicates nothing.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from ._client import AsyncClient
from ._downloads import fetch_results
from ._errors import CogVideoError, DownloadError, RateLimitError
from ._jobs import Job, JobStatus
from ._ledger import Ledger
from ._polling import PollPolicy, duration_key
from ._request import VideoRequest
from ._wire import Download, TaskStatus

__all__ = ["Scheduler"]


class _Slots:
    """A semaphore whose limit can shrink under rate limiting and grow back."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._cond = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._cond:
            await self._cond.wait_for(lambda: self.used < self.limit)
            self.used += 1

    async def release(self) -> None:
        async with self._cond:
            self.used -= 1
            self._cond.notify_all()

    async def set_limit(self, limit: int) -> None:
        async with self._cond:
            self.limit = limit
            self._cond.notify_all()


class Scheduler:
    """Runs jobs: queue, submit under the cap, poll, download, record. One per client."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        output_dir: str | Path = "cogvideo_outputs",
        ledger: Ledger | None = None,
        concurrency: int = 3,
        deadline: float = 900.0,
        policy: PollPolicy | None = None,
        submit_gap: float = 0.2,
        seed: int | None = None,
    ) -> None:
        self.client = client
        self.output_dir = Path(output_dir)
        self.ledger = ledger if ledger is not None else Ledger(self.output_dir / "ledger.sqlite")
        self.concurrency = concurrency
        self.deadline = deadline
        self.policy = policy or PollPolicy()
        self.policy.model.load(self.ledger.durations())
        self.jobs: dict[str, Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._slots: _Slots | None = None
        self._background: set[asyncio.Future[None]] = set()
        self._closing = False
        self._rng = random.Random(seed)
        self._base_gap = submit_gap
        self._gap = submit_gap
        self._last_submit = 0.0
        self._submit_lock: asyncio.Lock | None = None
        self._last_429 = -math.inf
        self.calm_seconds = 5.0
        client.on_retry = self._on_retry

    # -- public, call on the scheduler's loop -----------------------------------------------------
    def add(self, request: VideoRequest, *, label: str | None = None) -> Job:
        """Queue a request; the returned job updates itself as it runs."""
        job = Job(request=request, label=label, emulated=self.client.emulated)
        self.ledger.record(job)
        self.start(job)
        return job

    def start(self, job: Job) -> None:
        """Run (or re-attach) a job already in the ledger; every later move is written there."""
        job.persist = self.ledger.record
        self.jobs[job.id] = job
        running = self._tasks.get(job.id)
        if running is not None and not running.done():
            return
        self._tasks[job.id] = asyncio.ensure_future(self._run(job))

    def stop(self, job: Job) -> None:
        """Stop waiting. CogVideoX has no cancel: the task id is kept so resume() can return."""
        task = self._tasks.get(job.id)
        if task is not None and not task.done():
            task.cancel()
        elif not job.done:
            self._detach(job, "stopped waiting")

    def resume(self, *, include_detached: bool = False) -> list[Job]:
        """Re-attach every unfinished job in the ledger that this scheduler is not running."""
        resumed = []
        for row in self.ledger.unfinished(include_detached=include_detached):
            if row.id in self.jobs and not self.jobs[row.id].done:
                continue
            # The live object when there is one, so whatever follows it (a card) sees the resume.
            job = self.jobs.get(row.id, row)
            job.emulated = job.emulated or self.client.emulated
            job.note = "resumed"
            self.start(job)
            resumed.append(job)
        return resumed

    async def wait(self, jobs: list[Job] | None = None) -> list[Job]:
        """Until the given jobs (default: all) end."""
        chosen = jobs if jobs is not None else list(self.jobs.values())
        tasks = [self._tasks[j.id] for j in chosen if j.id in self._tasks]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return chosen

    async def aclose(self) -> None:
        """Stop running jobs *without* marking them: the ledger keeps them resumable."""
        self._closing = True
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        await self.client.aclose()
        self.ledger.close()

    # -- one job ---------------------------------------------------------------------------------
    async def _run(self, job: Job) -> None:
        slots = self._get_slots()
        holding = False
        try:
            if job.status is JobStatus.DETACHED:
                job.move(JobStatus.RUNNING if job.task_id else JobStatus.QUEUED, note="resumed")
            while True:
                await slots.acquire()
                holding = True
                if job.task_id is not None:
                    break
                try:
                    await self._submit(job)
                    break
                except RateLimitError as exc:
                    # Still limited after the client's retries: back to the queue, never failed.
                    job.move(JobStatus.QUEUED, note=f"rate limited, will retry: {exc.message}")
                    await slots.release()
                    holding = False
                    await asyncio.sleep(max(self._gap, exc.retry_after or 0.0, 0.5))
            if job.status is not JobStatus.RUNNING:
                job.move(JobStatus.RUNNING)
            if not await self._poll(job):
                return
            await slots.release()
            holding = False
            await self._download(job)
        except asyncio.CancelledError:
            if not job.done and not self._closing:  # closing is a restart, not a user's stop
                self._detach(job, "stopped waiting")
        except CogVideoError as exc:
            job.fail(exc)
        except Exception as exc:  # a bug must end the job visibly, not hang it
            job.fail(exc)
        finally:
            if holding:
                await slots.release()

    async def _submit(self, job: Job) -> None:
        await self._pace()
        job.move(JobStatus.SUBMITTING, note=None)  # recorded before the request leaves
        state = await self.client.submit(job.request)
        now = time.time()
        expected = self.policy.expected(duration_key(job.request.params()))
        job.move(
            JobStatus.RUNNING,
            task_id=state.id,
            submitted_at=now,
            emulated=job.emulated or state.emulated,
            expected_at=now + expected if expected else None,
        )

    async def _poll(self, job: Job) -> bool:
        """Poll until the task ends; True on SUCCESS (urls set), False when the job ended otherwise."""
        assert job.task_id is not None
        key = duration_key(job.request.params())
        started = job.submitted_at or time.time()
        if job.expected_at is None and (expected := self.policy.expected(key)):
            job.expected_at = started + expected
        last_seen_running = started
        while True:
            elapsed = time.time() - started
            if elapsed >= self.deadline:
                self._detach(job, f"gave up waiting after {self.deadline:g} s; resume to pick it up")
                return False
            delay = min(self.policy.next_delay(key, elapsed, self._rng), self.deadline - elapsed + 0.05)
            await asyncio.sleep(delay)
            try:
                state = await self.client.get(job.task_id)
            except CogVideoError as exc:
                if not exc.retryable:
                    raise
                job.note = f"server trouble, still waiting: {exc.message}"
                job.notify()
                continue
            job.polls += 1
            now = time.time()
            if state.status is TaskStatus.PROCESSING:
                last_seen_running = now
                if job.note and job.note != "resumed":
                    job.note = None
                job.notify()
                continue
            if state.status is TaskStatus.FAIL:
                job.move(
                    JobStatus.FAILED, error=f"the server reported FAIL: {state.fail_reason}",
                    error_type="TaskFailedError", expected_at=None,
                )  # fmt: skip
                return False
            run_seconds = (last_seen_running + now) / 2 - started
            if job.note != "resumed":  # a resumed job's start is not when the server started
                self.policy.model.add(key, run_seconds)
            job.move(
                JobStatus.DOWNLOADING, video_url=state.video_url, cover_url=state.cover_url,
                emulated=job.emulated or state.emulated, expected_at=None, run_seconds=run_seconds,
            )  # fmt: skip
            return True

    async def _download(self, job: Job) -> None:
        done: dict[str, Download] = {}
        note = None
        for attempt in range(3):
            try:
                await fetch_results(self.client, job, self.output_dir, done)
                break
            except DownloadError as exc:
                if exc.expired and attempt < 2:
                    # The URLs died before we got there: ask the server for fresh ones.
                    assert job.task_id is not None
                    state = await self.client.get(job.task_id)
                    job.video_url, job.cover_url = state.video_url, state.cover_url
                    continue
                if "video" not in done:
                    raise
                note = f"the cover could not be saved: {exc.message}"  # the video is what matters
                break
        video, cover = done["video"], done.get("cover")
        job.move(
            JobStatus.SUCCEEDED, video_path=video.path, video_sha256=video.sha256,
            cover_path=cover.path if cover else None, cover_sha256=cover.sha256 if cover else None,
            note=note,
        )  # fmt: skip

    # -- bookkeeping -----------------------------------------------------------------------------
    def _detach(self, job: Job, note: str) -> None:
        job.move(JobStatus.DETACHED, note=note, expected_at=None)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _get_slots(self) -> _Slots:
        if self._slots is None:
            self._slots = _Slots(self.concurrency)
        return self._slots

    async def _pace(self) -> None:
        if self._submit_lock is None:
            self._submit_lock = asyncio.Lock()
        async with self._submit_lock:
            self._recover()
            wait = self._last_submit + self._gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_submit = time.monotonic()

    def _on_retry(self, error: CogVideoError, delay: float) -> None:
        """On 429: double the submit gap (to 2 s at most) and take one slot away (AIMD)."""
        if not isinstance(error, RateLimitError):
            return
        self._gap = min(2.0, max(self._gap * 2, 0.25))
        self._last_429 = time.monotonic()
        slots = self._get_slots()
        if slots.limit > 1:
            self._spawn(slots.set_limit(slots.limit - 1))

    def _recover(self) -> None:
        """After a calm spell, give back pace and one slot per submit."""
        if time.monotonic() - self._last_429 < self.calm_seconds:
            return
        self._gap = max(self._base_gap, self._gap / 2)
        slots = self._get_slots()
        if slots.limit < self.concurrency:
            self._spawn(slots.set_limit(slots.limit + 1))
