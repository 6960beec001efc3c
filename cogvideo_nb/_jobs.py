"""A job: one request's way from queue to files on disk, as a closed state machine with observers.

Its state changes in one place, the transition at the end of this module: the would-be state is
written first (to the ledger), then memory follows, then observers hear of it; a write that fails
ends the job FAILED in memory, visibly, and wakes every waiter. The engine moves jobs with
:func:`amove` (the write on its I/O thread, never abandoned midway); :func:`move` is the same step
where no loop runs (tools, and tests that set a state up).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from ._errors import CogVideoError, TaskFailedError, WaitTimeoutError
from ._i18n import t
from ._request import VideoRequest

__all__ = [
    "TERMINAL", "TRANSITIONS", "Controller", "IllegalTransition", "Job", "JobStatus", "Write", "amove",
    "broken", "move", "raise_for",
]  # fmt: skip


class JobStatus(str, Enum):
    QUEUED = "queued"  # waiting for a slot under the concurrency cap
    SUBMITTING = "submitting"  # the submit request is on its way (written to the ledger first)
    RUNNING = "running"  # the server is generating; we poll
    DOWNLOADING = "downloading"  # SUCCESS seen; saving video + cover before the URLs expire
    SUCCEEDED = "succeeded"  # files on disk, hashed
    FAILED = "failed"  # the task failed, or an error that retrying cannot fix
    DETACHED = "detached"  # we stopped waiting; the server task may go on, resume() picks it up
    # The submit's answer was lost or refused as a duplicate (1231): the server may hold a task
    # we cannot name. Kept with its request_id, never resubmitted on our own.
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def word(self) -> str:
        """What a person reads for it, in the language in force ("detached" is the code's word
        for "stopped waiting")."""
        return t("stopped waiting" if self is JobStatus.DETACHED else self.value)


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.DETACHED, JobStatus.UNKNOWN})

# Every allowed move. DETACHED is terminal for the scheduler, yet resume() may re-attach it:
# CogVideoX has no server-side cancel, so "stop waiting" must stay reversible. FAILED may go
# back to RUNNING only through resume(), for a job whose task exists but whose poll or save
# failed here. UNKNOWN goes back to SUBMITTING only when the user asks (same request_id).
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.SUBMITTING, JobStatus.FAILED, JobStatus.DETACHED}),
    JobStatus.SUBMITTING: frozenset(
        {JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.FAILED, JobStatus.DETACHED, JobStatus.UNKNOWN}
    ),
    JobStatus.RUNNING: frozenset({JobStatus.DOWNLOADING, JobStatus.FAILED, JobStatus.DETACHED}),
    JobStatus.DOWNLOADING: frozenset(
        {JobStatus.SUCCEEDED, JobStatus.RUNNING, JobStatus.FAILED, JobStatus.DETACHED}
    ),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset({JobStatus.RUNNING}),
    JobStatus.DETACHED: frozenset({JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.RUNNING}),
    JobStatus.UNKNOWN: frozenset({JobStatus.SUBMITTING, JobStatus.QUEUED}),
}


class IllegalTransition(RuntimeError):
    """A bug, not a user error: the engine tried a move the state machine forbids."""


Observer = Callable[["Job"], None]


class Controller(Protocol):
    """What a job's handle methods call: the engine that owns it."""

    def stop(self, job: Job) -> None: ...
    def resume_job(self, job: Job) -> Job: ...
    def retry(self, job: Job) -> Job: ...


_PRIVATE_FIELDS = frozenset({"request", "controller", "status"})


@dataclass(eq=False)
class Job:
    """Everything known about one generation: a handle (wait, stop, resume, retry) on its run.

    Its state is changed only by the engine, through :func:`amove` (see the module's note).
    """

    request: VideoRequest
    status: JobStatus = JobStatus.QUEUED
    task_id: str | None = None
    label: str | None = None
    created_at: float = field(default_factory=time.time)
    submitted_at: float | None = None
    finished_at: float | None = None
    expected_at: float | None = None  # wall-clock estimate of the server finishing
    video_url: str | None = None
    cover_url: str | None = None
    video_path: Path | None = None
    cover_path: Path | None = None
    video_sha256: str | None = None
    cover_sha256: str | None = None
    error: str | None = None
    error_type: str | None = None
    emulated: bool = False
    polls: int = 0
    note: str | None = None  # a human hint: "rate limited, slowing down", "stopped waiting"
    run_seconds: float | None = None  # how long the server took, as best we can tell
    stopped: bool = False  # the user said stop: only resume(include_stopped=True) brings it back
    original_prompt: str | None = None  # the user's own words, when the sent prompt was rewritten
    rewrite: str | None = None  # how: "enhance", "translate:en", "enhance+translate:zh" (None: enhance)
    continues: str | None = None  # id of the job whose last frame this one starts from
    rating: int | None = None  # 1-5, given by a person who watched the result (not a transition)
    rating_note: str | None = None  # what they noticed, in a sentence
    controller: Controller | None = field(default=None, repr=False)
    _observers: list[Observer] = field(default_factory=list, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def id(self) -> str:
        """The local id is the request_id: unique, made before anything is sent."""
        return self.request.request_id

    @property
    def short_id(self) -> str:
        """The one id shown to people (cards, history, report, errors): the request id's last 8
        characters. Every lookup takes it, as it takes any unique start or end of the id."""
        return self.id[-8:]

    @property
    def prompt(self) -> str:
        return self.request.prompt

    @property
    def done(self) -> bool:
        return self.status.terminal

    @property
    def elapsed(self) -> float:
        end = self.finished_at if self.done and self.finished_at else time.time()
        return max(0.0, end - self.created_at)

    @property
    def eta(self) -> float | None:
        """Seconds until the expected finish (None when unknown or done)."""
        if self.done or self.expected_at is None:
            return None
        return max(0.0, self.expected_at - time.time())

    # -- the handle ------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> Job:
        """This job, done; raises TaskFailedError if it failed, WaitTimeoutError if it is not
        done within ``timeout`` or ended without a result (detached, outcome unknown)."""
        if not self._done.wait(timeout):
            seconds = f"{timeout:g}"
            raise WaitTimeoutError(
                t(
                    "job {job} still {status} after {seconds} s; it goes on",
                    job=self.short_id,
                    status=self.status.word,
                    seconds=seconds,
                ),
                task_id=self.task_id,
            )
        return raise_for(self)

    def stop(self) -> None:
        """Stop waiting (CogVideoX has no cancel; the task id is kept for resume)."""
        self._control().stop(self)

    def resume(self) -> Job:
        """Pick this job up again; for an unknown outcome, ask again with the same request_id."""
        return self._control().resume_job(self)

    def retry(self) -> Job:
        """A new job for the same request, with a new request_id (a new, paid task)."""
        return self._control().retry(self)

    def _control(self) -> Controller:
        if self.controller is None:
            raise CogVideoError(t("job {job} is not attached to an engine; use resume()", job=self.short_id))
        return self.controller

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer(job)`` after every change; returns the unsubscribe function."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer) if observer in self._observers else None

    # -- the transition's steps (called by move/amove below, nowhere else) ------------------
    def _prepare(self, status: JobStatus, **fields: Any) -> Job:
        """The job as it will be after the move, as a detached copy for the ledger to write."""
        if status is not self.status and status not in TRANSITIONS[self.status]:
            raise IllegalTransition(f"job {self.short_id}: {self.status.value} -> {status.value}")
        for name in fields:
            if name.startswith("_") or name in _PRIVATE_FIELDS or not hasattr(self, name):
                raise AttributeError(name)
        snapshot = copy.copy(self)
        for name, value in fields.items():
            setattr(snapshot, name, value)
        snapshot.status = status
        if status.terminal:
            snapshot.finished_at = self.finished_at if self.status.terminal else time.time()
            snapshot.finished_at = snapshot.finished_at or time.time()
        else:
            snapshot.finished_at = None
        return snapshot

    def _apply(self, snapshot: Job) -> None:
        """Memory follows the ledger: copy the written state in, tell observers, wake waiters."""
        for f in fields(self):
            if f.name not in ("controller", "_observers", "_done"):
                setattr(self, f.name, getattr(snapshot, f.name))
        if not self.status.terminal:
            self._done.clear()
        self.notify()
        if self.status.terminal:  # after observers, so a waiter wakes to a display already up to date
            self._done.set()

    def _broken(self, error: BaseException) -> None:
        """The ledger refused a write: end FAILED in memory, visibly, and wake every waiter."""
        message = error.message if isinstance(error, CogVideoError) else f"{type(error).__name__}: {error}"
        self.status = JobStatus.FAILED
        self.error = t("could not record the job's state: {reason}", reason=message)
        self.error_type = type(error).__name__
        self.expected_at = None
        self.finished_at = time.time()
        self.notify()
        self._done.set()

    def notify(self) -> None:
        for observer in list(self._observers):
            try:
                observer(self)
            except Exception:  # a broken display must not break the job
                logging.getLogger("cogvideo_nb").exception("job observer failed")

    def wait_done(self, timeout: float | None = None) -> bool:
        """Block this thread until the job ends (for scripts); True if it did."""
        return self._done.wait(timeout)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (for tables, the CLI and saved outputs)."""
        return {
            "id": self.id,
            "task_id": self.task_id,
            "status": self.status.value,
            "prompt": self.prompt,
            **{k: v for k, v in self.request.params().items() if v is not None},
            "elapsed_s": round(self.elapsed, 1),
            "video": str(self.video_path) if self.video_path else None,
            "cover": str(self.cover_path) if self.cover_path else None,
            "video_sha256": self.video_sha256,
            "error": self.error,
            "note": self.note,
            "emulated": self.emulated,
            **{
                k: getattr(self, k)
                for k in ("original_prompt", "rewrite", "continues", "rating", "rating_note")
                if getattr(self, k) is not None
            },
        }


def raise_for(job: Job) -> Job:
    """The job if it succeeded; otherwise the error that says how it ended."""
    if not job.done:
        raise WaitTimeoutError(
            t("job {job} is still {status}: {note}", job=job.short_id, status=job.status.word, note=job.note),
            task_id=job.task_id,
        )
    if job.status is JobStatus.FAILED:
        raise TaskFailedError(
            t("job {job} failed: {error}", job=job.short_id, error=job.error), task_id=job.task_id
        )
    if job.status is JobStatus.DETACHED:
        why = job.error or job.note
        raise WaitTimeoutError(t("job {job} detached: {why}", job=job.short_id, why=why), task_id=job.task_id)
    if job.status is JobStatus.UNKNOWN:
        raise WaitTimeoutError(t("job {job}: {note}", job=job.short_id, note=job.note), request_id=job.id)
    return job


# -- the one transition -------------------------------------------------------------------------------
Write = Callable[[Job], Any]  # writes the would-be state (the ledger); False: it wrote nothing


def move(job: Job, status: JobStatus, *, write: Write | None = None, **fields: Any) -> bool:
    """Move ``job`` where no loop runs: write the would-be state, then apply it. False when the
    write wrote nothing (memory stays as it was); a failed write ends the job, then raises."""
    snapshot = job._prepare(status, **fields)
    if write is not None:
        try:
            if write(snapshot) is False:
                return False
        except BaseException as exc:
            job._broken(exc)
            raise
    job._apply(snapshot)
    return True


async def amove(
    job: Job,
    status: JobStatus,
    *,
    write: Write,
    start: Callable[[Callable[[], Any]], asyncio.Future[Any]],
    **fields: Any,
) -> bool:
    """The engine's move: ``start`` runs the write off the loop (its I/O thread). A cancel while
    it runs lets it land first, so memory never disagrees with the ledger."""
    snapshot = job._prepare(status, **fields)
    pending = start(lambda: write(snapshot))
    try:
        written = await asyncio.shield(pending)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(pending), 10)
        landed = pending.done() and not pending.cancelled() and pending.exception() is None
        if landed and pending.result() is not False:
            job._apply(snapshot)
        raise
    except BaseException as exc:
        job._broken(exc)
        raise
    if written is False:
        return False
    job._apply(snapshot)
    return True


def broken(job: Job, error: BaseException) -> None:
    """End ``job`` FAILED in memory when even recording its failure failed: visibly, waking waiters."""
    job._broken(error)
