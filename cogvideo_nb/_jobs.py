"""A job: one request's way from queue to files on disk, as a closed state machine with observers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ._errors import CogVideoError
from ._request import VideoRequest

__all__ = ["TERMINAL", "TRANSITIONS", "IllegalTransition", "Job", "JobStatus"]


class JobStatus(str, Enum):
    QUEUED = "queued"  # waiting for a slot under the concurrency cap
    SUBMITTING = "submitting"  # the submit request is on its way (written to the ledger first)
    RUNNING = "running"  # the server is generating; we poll
    DOWNLOADING = "downloading"  # SUCCESS seen; saving video + cover before the URLs expire
    SUCCEEDED = "succeeded"  # files on disk, hashed
    FAILED = "failed"  # the task failed, or an error that retrying cannot fix
    DETACHED = "detached"  # we stopped waiting; the server task may go on, resume() picks it up

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.DETACHED})

# Every allowed move. DETACHED is terminal for the scheduler, yet resume() may re-attach it:
# CogVideoX has no server-side cancel, so "stop waiting" must stay reversible.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.SUBMITTING, JobStatus.FAILED, JobStatus.DETACHED}),
    JobStatus.SUBMITTING: frozenset(
        {JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.FAILED, JobStatus.DETACHED}
    ),
    JobStatus.RUNNING: frozenset({JobStatus.DOWNLOADING, JobStatus.FAILED, JobStatus.DETACHED}),
    JobStatus.DOWNLOADING: frozenset(
        {JobStatus.SUCCEEDED, JobStatus.RUNNING, JobStatus.FAILED, JobStatus.DETACHED}
    ),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.DETACHED: frozenset({JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.RUNNING}),
}


class IllegalTransition(RuntimeError):
    """A bug, not a user error: the engine tried a move the state machine forbids."""


Observer = Callable[["Job"], None]


@dataclass(eq=False)
class Job:
    """Everything known about one generation. Mutated only through :meth:`move`."""

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
    # Runs before observers on every move and may raise: the ledger writes here, so the row
    # is saved before any request that follows the move can leave.
    persist: Callable[[Job], None] | None = field(default=None, repr=False)
    _observers: list[Observer] = field(default_factory=list, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def id(self) -> str:
        """The local id is the request_id: unique, made before anything is sent."""
        return self.request.request_id

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

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer(job)`` after every change; returns the unsubscribe function."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer) if observer in self._observers else None

    def move(self, status: JobStatus, **fields: Any) -> None:
        """Change state (checked against TRANSITIONS) and fields, then tell observers."""
        if status is not self.status and status not in TRANSITIONS[self.status]:
            raise IllegalTransition(f"job {self.id}: {self.status.value} -> {status.value}")
        for name, value in fields.items():
            if not hasattr(self, name) or name.startswith("_"):
                raise AttributeError(name)
            setattr(self, name, value)
        self.status = status
        if status.terminal:
            self.finished_at = self.finished_at or time.time()
        else:
            self.finished_at = None
            self._done.clear()
        if self.persist is not None:
            self.persist(self)
        self.notify()
        if status.terminal:  # after observers, so a waiter wakes to a display already up to date
            self._done.set()

    def fail(self, error: BaseException) -> None:
        message = error.message if isinstance(error, CogVideoError) else f"{type(error).__name__}: {error}"
        self.move(JobStatus.FAILED, error=message, error_type=type(error).__name__, expected_at=None)

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
            "emulated": self.emulated,
        }
