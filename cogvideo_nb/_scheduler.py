"""The scheduler: many jobs on one asyncio loop, under caps, paced, polled adaptively, saved.

It runs on whatever loop calls it (tests use their own; notebooks and scripts use the
engine's background loop, see ``_engine``). Every transition is written to the ledger before
memory changes and before the next request leaves, so a crash at any point loses nothing and
duplicates nothing. Ledger and file work run in one I/O thread, off the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._client import AsyncClient
from ._downloads import clean_stale_parts, save_results
from ._errors import CogVideoError, ConfigError, DownloadError, DuplicateRequestError, RateLimitError
from ._i18n import N_, t
from ._io_thread import IOThread
from ._jobs import Job, JobStatus, amove, broken
from ._ledger import Ledger
from ._pacing import CURRENT_MODEL, Throttle
from ._polling import PollPolicy, duration_key
from ._request import VideoRequest
from ._wire import TaskState, TaskStatus

__all__ = ["MAX_RETRY_AFTER", "UNKNOWN_NOTE", "Scheduler"]

MAX_RETRY_AFTER = 60.0  # a server asking for a day's pause gets a minute: we ask again then
LEARN_BRACKET = 0.35  # learned when bracketed within this fraction (the no-history back-off gives 1/3)
FIRST_POLL_BUDGET = 2.0  # the one poll owed even to a spent deadline
SHARED_CAP_RECHECK = 0.5  # seconds between looks at other processes' tasks in flight
UNKNOWN_NOTE = N_(
    "the server may already have this task (its answer was lost or refused as a duplicate); "
    "it is not resubmitted. resume() asks again with the same request_id; Retry may create a second task"
)  # said where it is noted: t(UNKNOWN_NOTE)
# A resumed job's note: the code reads it (a resumed run teaches no duration), so it is kept as
# the catalogue's English and said where it is shown (t(job.note): the card, the saved card).
RESUMED = N_("resumed")


class Scheduler:
    """Runs jobs: queue, submit under the caps, poll, download, record. One per output folder."""

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
        model_concurrency: Mapping[str, int] | None = None,
        download_timeout: float = 600.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.output_dir = Path(output_dir)
        self.ledger = ledger if ledger is not None else Ledger(self.output_dir / "ledger.sqlite")
        self.deadline = deadline
        self.download_timeout = download_timeout
        self.max_retry_after = MAX_RETRY_AFTER
        self.policy = policy or PollPolicy()
        # A run longer than the deadline cannot have been seen (it would have been given up):
        # such a value is a clock's jump, never a duration to plan polls by.
        self.policy.model.load((k, v) for k, v in self.ledger.durations() if v <= deadline)
        self.throttle = Throttle(concurrency, submit_gap, model_concurrency)
        self.jobs: dict[str, Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._lost: set[str] = set()  # adopted by another process: stop quietly
        self._stopping: set[str] = set()  # the user said stop; their detach records it
        self._closing = False
        self._rng = random.Random(seed)
        self._clock = clock  # wall clock: what the ledger shows (submitted at, expected at)
        self._monotonic = monotonic  # durations: a wall-clock jump must not teach a run time
        self._sent: dict[str, float] = {}  # job id -> monotonic time its task was made here
        self._io = IOThread()
        self._renewer: asyncio.Task[None] | None = None
        self._retired: list[AsyncClient] = []
        self._hook = self.throttle.on_retry
        client.retry_listeners.append(self._hook)
        clean_stale_parts(self.output_dir)

    @property
    def concurrency(self) -> int:
        return self.throttle.concurrency

    @property
    def calm_seconds(self) -> float:
        return self.throttle.calm_seconds

    @calm_seconds.setter
    def calm_seconds(self, value: float) -> None:
        self.throttle.calm_seconds = value

    async def set_concurrency(self, value: int) -> None:
        """A live setting: a larger cap lets queued jobs go at once, a smaller one drains."""
        await self.throttle.set_concurrency(value)

    def set_client(self, client: AsyncClient) -> None:
        """Use a new client (a changed key or URL) from the next request on."""
        with contextlib.suppress(ValueError):
            self.client.retry_listeners.remove(self._hook)
        self._retired.append(self.client)  # closed with us: running calls may still use it
        self.client = client
        client.retry_listeners.append(self._hook)

    # -- public, call on the scheduler's loop -----------------------------------------------------
    def add(self, request: VideoRequest, *, label: str | None = None) -> Job:
        """Queue a request; the returned job updates itself as it runs."""
        job = Job(request=request, label=label, emulated=self.client.emulated)
        self.ledger.record(job)
        return self.start(job)

    def start(self, job: Job) -> Job:
        """Run (or re-attach) a job already in the ledger and owned by us. ``jobs`` holds the
        process's one live handle per job: a second object for a job already there (a ledger
        row read by a concurrent resume) is never run; the handle there is, and is returned."""
        job = self.jobs.setdefault(job.id, job)
        self._lost.discard(job.id)
        self._stopping.discard(job.id)
        running = self._tasks.get(job.id)
        if running is not None and not running.done():
            return job
        job._done.clear()  # attached: a waiter must not see the old ending before _run moves it
        self._tasks[job.id] = asyncio.ensure_future(self._run(job))
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.ensure_future(self._renew_leases())
        return job

    def running(self, job: Job) -> bool:
        task = self._tasks.get(job.id)
        return task is not None and not task.done()

    def stop(self, job: Job) -> None:
        """Stop waiting. CogVideoX has no cancel: the task id is kept so resume() can return."""
        task = self._tasks.get(job.id)
        if task is not None and not task.done():
            # The user's intent is kept here, not on the job: a move in flight (its snapshot
            # taken before this stop) would overwrite it; the detach that follows writes it.
            self._stopping.add(job.id)
            task.cancel()
        elif not job.done:
            self._tasks[job.id] = asyncio.ensure_future(self._detach(job, t("stopped waiting"), stopped=True))

    async def resume(self, *, include_stopped: bool = False) -> list[Job]:
        """Adopt every job worth picking up whose owner is gone; reuse live Job objects."""
        rows = await self._io.off(self.ledger.resumable, include_stopped=include_stopped)
        resumed = []
        for row in rows:
            if self.running(self.jobs.get(row.id, row)):
                continue
            if not await self._io.off(self.ledger.claim, row.id, row.status):
                continue  # another live process owns it, or the job ended since the rows were read
            job = self.jobs.get(row.id, row)  # looked up again: a concurrent resume may have run it
            if self.running(job):
                continue
            job.emulated = job.emulated or self.client.emulated
            resumed.append(self.start(job))
        return resumed

    async def resume_job(self, job: Job) -> Job:
        """Pick up one job (the handle's ``resume``); an unknown outcome is asked again."""
        if self.running(live := self.jobs.get(job.id, job)):
            return live
        if not await self._io.off(self.ledger.claim, live.id):
            raise CogVideoError(
                t("job {job} is owned by another live process", job=live.id), request_id=live.id
            )
        return self.start(self.jobs.get(job.id, live))

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
        tasks = [*self._tasks.values(), *([self._renewer] if self._renewer else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for job in self.jobs.values():
            if not job.done:  # still resumable in the ledger; whoever waits must not hang
                job.note = t("the engine closed; resume() picks it up")
                job.notify()
                job._done.set()
        with contextlib.suppress(ValueError):
            self.client.retry_listeners.remove(self._hook)
        for client in (self.client, *self._retired):
            await client.aclose()
        with contextlib.suppress(ConfigError):
            await self._io.off(self.ledger.release)  # another process may adopt them at once
        self._io.shutdown()
        self.ledger.close()

    # -- one job ---------------------------------------------------------------------------------
    async def _run(self, job: Job) -> None:
        model = job.request.model
        holding = False
        attached = time.monotonic()  # deadlines count from here, not from the first submit
        try:
            if job.status in (JobStatus.DETACHED, JobStatus.FAILED, JobStatus.DOWNLOADING):
                to = JobStatus.RUNNING if job.task_id else JobStatus.QUEUED
                await self._move(job, to, note=RESUMED, error=None, error_type=None, stopped=False)
            elif job.status is JobStatus.UNKNOWN:
                await self._move(job, JobStatus.QUEUED, note=t("asking again with the same request_id"))
            while True:
                await self.throttle.acquire(model)
                holding = True
                if job.task_id is not None:
                    break
                try:
                    sent = await self._submit(job)
                    if sent is None:  # other kernels on this folder fill the caps: wait a little
                        await self.throttle.release(model)
                        holding = False
                        await asyncio.sleep(SHARED_CAP_RECHECK)
                        continue
                    if not sent:
                        return
                    break
                except RateLimitError as exc:
                    # Still limited after the client's retries: back to the queue, never failed.
                    note = t("rate limited, will retry: {reason}", reason=exc.message)
                    await self._move(job, JobStatus.QUEUED, note=note)
                    await self.throttle.release(model)
                    holding = False
                    wait = max(self.throttle.gap(model), exc.retry_after or 0.0, 0.5)
                    await asyncio.sleep(min(wait, self.max_retry_after))
            if job.status is not JobStatus.RUNNING:
                await self._move(job, JobStatus.RUNNING)
            if not await self._poll(job, attached):
                return
            await self.throttle.release(model)
            holding = False
            await self._download(job)
        except asyncio.CancelledError:
            if job.id in self._lost:
                job.note = t("adopted by another process")
                job.notify()
                job._done.set()  # a waiter here wakes (WaitTimeoutError): the job goes on there
            elif not job.done and not self._closing:  # closing is a restart, not a user's stop
                await self._detach(job, t("stopped waiting"), stopped=job.id in self._stopping)
        except CogVideoError as exc:
            await self._fail(job, exc)
        except Exception as exc:  # a bug must end the job visibly, not hang it
            await self._fail(job, exc)
        finally:
            self._sent.pop(job.id, None)
            if job.done:
                job._done.set()  # however it ended (a refused move included), waiters wake
            if holding:
                await self.throttle.release(model)

    async def _submit(self, job: Job) -> bool | None:
        """Send the job; True when its task id is known, False when the outcome is unknown,
        None when the caps, counted across every process on this folder, leave no room."""
        model = job.request.model
        await self.throttle.pace(model)
        # Recorded before the request leaves, in the same transaction as the shared-cap check.
        cap, total = self.throttle.model(model).cap, self.throttle.concurrency
        room = functools.partial(self.ledger.record_if_room, total=total, model_cap=cap)
        if not await self._move(job, JobStatus.SUBMITTING, note=None, write=room):
            return None
        token = CURRENT_MODEL.set(model)
        try:
            state = await self._send(job)
        except DuplicateRequestError as exc:
            await self._unknown(job, exc)
            return False
        except CogVideoError as exc:
            if exc.outcome_unknown and not isinstance(exc, RateLimitError):
                await self._unknown(job, exc)
                return False
            raise
        finally:
            CURRENT_MODEL.reset(token)
        now = self._clock()
        self._sent[job.id] = self._monotonic()
        expected = self.policy.expected(duration_key(job.request.params()))
        await self._move(
            job, JobStatus.RUNNING, task_id=state.id, submitted_at=now,
            emulated=job.emulated or state.emulated, expected_at=now + expected if expected else None,
        )  # fmt: skip
        return True

    async def _send(self, job: Job) -> TaskState:
        """The submit request, never abandoned on the wire: a stop that arrives while it is
        out waits for its answer (the client's deadline bounds that) and records the task,
        so the job detaches with its task id instead of "maybe sent"; then the cancel goes on."""
        sending = asyncio.ensure_future(self.client.submit(job.request))
        try:
            return await asyncio.shield(sending)
        except asyncio.CancelledError:
            if not self._closing:  # a close is a restart: the row stays SUBMITTING, resent as is
                with contextlib.suppress(BaseException):
                    await asyncio.shield(sending)
            if not sending.done() or sending.cancelled() or sending.exception() is not None:
                sending.cancel()
                raise
            state = sending.result()
            await self._move(job, JobStatus.RUNNING, task_id=state.id, submitted_at=self._clock(),
                             emulated=job.emulated or state.emulated)  # fmt: skip
            raise

    async def _unknown(self, job: Job, exc: CogVideoError) -> None:
        await self._move(
            job, JobStatus.UNKNOWN, note=t(UNKNOWN_NOTE), error=exc.message, error_type=type(exc).__name__
        )

    async def _poll(self, job: Job, attached: float) -> bool:
        """Poll until the task ends; True on SUCCESS (urls set), False when the job ended otherwise.

        The deadline counts from when this process attached, and a job is polled at least
        once before it is given up; each poll, slow body included, fits in what is left.
        """
        assert job.task_id is not None
        key = duration_key(job.request.params())
        if job.expected_at is None and (expected := self.policy.expected(key)):
            job.expected_at = (job.submitted_at or self._clock()) + expected
        # Durations on the monotonic clock: from the submit when it was made here, else from the
        # wall-clock age of the task when we attached (a resumed job learns nothing anyway).
        started = self._sent.pop(job.id, None)
        if started is None:
            age = self._clock() - (job.submitted_at or self._clock())
            started = self._monotonic() - min(max(age, 0.0), self.deadline)
        give_up = attached + self.deadline
        resumed = job.note == RESUMED
        last_seen_running = started
        polls = 0
        while True:
            left = give_up - time.monotonic()
            if left <= 0 and polls:
                seconds = f"{self.deadline:g}"
                await self._detach(
                    job, t("gave up waiting after {seconds} s; resume to pick it up", seconds=seconds)
                )
                return False
            elapsed = self._monotonic() - started
            delay = 0.0 if (resumed and not polls) else self.policy.next_delay(key, elapsed, self._rng)
            await asyncio.sleep(min(delay, max(left, 0.0)))
            budget = give_up - time.monotonic()
            if not polls:  # the one poll owed even to a spent deadline gets a fair chance
                budget = max(budget, FIRST_POLL_BUDGET)
            polls += 1
            token = CURRENT_MODEL.set(job.request.model)
            try:
                state = await asyncio.wait_for(self.client.get(job.task_id), max(budget, 0.01))
            except asyncio.TimeoutError:
                continue  # the deadline check above decides
            except CogVideoError as exc:
                if not exc.retryable:
                    raise
                job.note = t("server trouble, still waiting: {reason}", reason=exc.message)
                job.notify()
                continue
            finally:
                CURRENT_MODEL.reset(token)
            job.polls += 1
            now = self._monotonic()
            if state.status is TaskStatus.PROCESSING:
                last_seen_running = now
                if job.note and job.note != RESUMED:
                    job.note = None
                job.notify()
                continue
            if state.status is TaskStatus.FAIL:
                error = t("the server reported FAIL: {reason}", reason=state.fail_reason)
                await self._move(
                    job, JobStatus.FAILED, error=error, error_type="TaskFailedError", expected_at=None
                )
                return False
            run_seconds = (last_seen_running + now) / 2 - started
            learned = not resumed and 0 < run_seconds <= self.deadline
            # Learn only a tight bracket: a job seen done at its first poll ran anywhere in (0, wait]
            if learned and now - last_seen_running <= LEARN_BRACKET * max(now - started, 1e-9):
                self.policy.model.add(key, run_seconds)
            if not await self._move(
                job, JobStatus.DOWNLOADING, write=self.ledger.record_if_owned,
                video_url=state.video_url, cover_url=state.cover_url,
                emulated=job.emulated or state.emulated, expected_at=None,
                run_seconds=run_seconds if learned else None,
            ):  # fmt: skip
                self._lost.add(job.id)  # adopted by another process: it downloads, not us
                raise asyncio.CancelledError
            return True

    async def _download(self, job: Job) -> None:
        """Save video + cover under one deadline; a local or download failure keeps the job
        resumable (task id and URLs stay in the ledger), never a terminal FAILED. Only called
        after the DOWNLOADING move, which is written only while the job is still ours."""
        try:
            saved = await asyncio.wait_for(
                save_results(self.client, job, self.output_dir, self._io.off), self.download_timeout
            )
        except asyncio.TimeoutError:
            seconds = f"{self.download_timeout:g}"
            note = t("saving took over {seconds} s; resume to try again", seconds=seconds)
            await self._detach(job, note, error=t("the download deadline passed"), error_type="DownloadError")
            return
        except (DownloadError, ConfigError, OSError) as exc:
            message = exc.message if isinstance(exc, CogVideoError) else f"{type(exc).__name__}: {exc}"
            error = t("could not save the result: {reason}", reason=message)
            note = t("the result could not be saved; resume to try again")
            await self._detach(job, note, error=error, error_type=type(exc).__name__)
            return
        await self._move(job, JobStatus.SUCCEEDED, **saved)

    # -- bookkeeping -----------------------------------------------------------------------------
    async def _move(
        self, job: Job, status: JobStatus, *, write: Callable[[Job], Any] | None = None, **fields: Any
    ) -> bool:
        """The one transition: ledger first (off the loop), then memory, then observers. False
        when ``write`` (default: an unconditional record) wrote nothing: memory is left as it was."""
        return await amove(job, status, write=write or self.ledger.record, start=self._io.start, **fields)

    async def _fail(self, job: Job, exc: BaseException) -> None:
        if job.done:
            return  # a failed ledger write already ended it, visibly
        with contextlib.suppress(Exception):
            message = exc.message if isinstance(exc, CogVideoError) else f"{type(exc).__name__}: {exc}"
            await self._move(
                job, JobStatus.FAILED, error=message, error_type=type(exc).__name__, expected_at=None
            )
        if not job.done:
            broken(job, exc)

    async def _detach(self, job: Job, note: str, *, stopped: bool = False, **fields: Any) -> None:
        await self._move(job, JobStatus.DETACHED, note=note, expected_at=None, stopped=stopped, **fields)

    async def _renew_leases(self) -> None:
        """Keep our claim on running jobs; stop quietly any job another process adopted."""
        while not self._closing:
            await asyncio.sleep(max(0.05, self.ledger.lease / 3))
            live = [i for i, t in self._tasks.items() if not t.done()]
            if not live:
                continue
            try:
                kept = await self._io.off(self.ledger.renew, live)
            except ConfigError:
                continue
            for job_id in set(live) - kept:
                self._lost.add(job_id)
                self._tasks[job_id].cancel()
