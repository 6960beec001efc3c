"""The engine: a scheduler on its own event loop in a daemon thread, callable from any thread.

Why a thread and not the kernel's loop: ipykernel 7 can stall background asyncio tasks after a
cell ends (ipykernel#1510), and a notebook's loop is also blocked whenever a cell runs. On its
own loop the engine keeps polling, downloading and updating cards no matter what the kernel is
doing, the magic returns at once, and the blocking ``generate()`` works the same in a script,
a notebook, or inside someone else's running loop, with no nest-asyncio patching at all.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import importlib
import threading
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

from ._client import AsyncClient
from ._config import Settings, resolve_settings
from ._errors import CogVideoError, TaskFailedError, WaitTimeoutError
from ._jobs import Job, JobStatus
from ._ledger import Ledger
from ._polling import PollPolicy
from ._request import VideoRequest, build_request
from ._scheduler import Scheduler

__all__ = ["Engine", "generate", "generate_many", "get_engine", "resume"]

T = TypeVar("T")


class Engine:
    """Owns one loop thread, one client, one ledger and one scheduler."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        client: AsyncClient | None = None,
        policy: PollPolicy | None = None,
        submit_gap: float = 0.2,
    ) -> None:
        self.settings = settings or resolve_settings()
        # httpcore imports anyio's asyncio backend on a loop's first request (~45 ms, GIL held):
        # pay it here, in the caller's thread, not as a stall of the engine's loop.
        with contextlib.suppress(ImportError):
            importlib.import_module("anyio._backends._asyncio")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cogvideo-engine", daemon=True)
        self._thread.start()
        s = self.settings
        self.output_dir = Path(s.output_dir).expanduser()
        self.ledger = Ledger(self.output_dir / "ledger.sqlite")

        async def make() -> Scheduler:
            c = client or AsyncClient(s.api_key, s.base_url, provider=s.provider)
            return Scheduler(
                c, output_dir=self.output_dir, ledger=self.ledger, concurrency=s.concurrency,
                deadline=s.timeout, policy=policy, submit_gap=submit_gap,
            )  # fmt: skip

        self.scheduler: Scheduler = self.call(make())
        self._closed = False

    @property
    def emulated(self) -> bool:
        return self.scheduler.client.emulated

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the engine loop and wait for it (never call from the engine loop)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _soon(self, fn: Any, *args: Any) -> None:
        self._loop.call_soon_threadsafe(fn, *args)

    def submit(
        self, request: VideoRequest | str | None = None, *, label: str | None = None, **options: Any
    ) -> Job:
        """Queue one job and return it at once; it updates itself from the engine thread."""
        req = request if isinstance(request, VideoRequest) else build_request(request, **options)
        job = Job(request=req, label=label, emulated=self.emulated)
        self.ledger.record(job)  # on disk before this returns, so a crash right now loses nothing
        self._soon(self.scheduler.start, job)
        return job

    def stop(self, job: Job) -> None:
        """Stop waiting for a job (the server task may finish; resume() can pick it up)."""
        self._soon(self.scheduler.stop, job)

    def reattach(self, job: Job) -> None:
        """Wait again for one stopped job, the same object (its card follows), the same task.

        Returns once the job has left DETACHED, so a wait that follows waits for its new end."""

        async def go() -> None:
            self.scheduler.start(job)
            if job.status is JobStatus.DETACHED:
                job.move(JobStatus.RUNNING if job.task_id else JobStatus.QUEUED, note="resumed")

        self.call(go())

    def resume(self, *, include_detached: bool = False) -> list[Job]:
        async def go() -> list[Job]:
            return self.scheduler.resume(include_detached=include_detached)

        return self.call(go())

    def retry(self, job: Job) -> Job:
        """A failed job again, as a new task with a new request_id."""
        return self.submit(job.request.with_new_id(), label=job.label)

    def wait(self, jobs: Iterable[Job], timeout: float | None = None) -> list[Job]:
        jobs = list(jobs)
        for job in jobs:
            if not job.wait_done(timeout):
                raise WaitTimeoutError(f"job {job.id} still {job.status.value}", task_id=job.task_id)
        return jobs

    def find(self, ident: str) -> Job | None:
        """The one job whose id or task id equals, starts or ends with ``ident`` (else None)."""
        found = self.match(ident)
        return found[0] if len(found) == 1 else None

    def match(self, ident: str) -> list[Job]:
        """Every job whose id or task id equals, starts or ends with ``ident``; live objects
        (the ones cards follow) where this engine runs them, else read from the ledger."""
        live = dict(self.scheduler.jobs)
        return [live.get(j.id, j) for j in self.ledger.match(ident)]

    def history(self, limit: int = 50) -> list[Job]:
        live = self.scheduler.jobs
        return [live.get(j.id, j) for j in self.ledger.history(limit)]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.call(self.scheduler.aclose(), timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)


_engines: dict[tuple[Any, ...], Engine] = {}
_lock = threading.Lock()


def get_engine(**explicit: Any) -> Engine:
    """The process-wide engine for the current settings (a new one if settings changed)."""
    settings = resolve_settings(**explicit)
    key = (
        # A digest, not the key: this tuple could end up in a debugger or a repr.
        hashlib.sha256(settings.api_key.reveal().encode()).hexdigest() if settings.api_key else None,
        settings.base_url, str(Path(settings.output_dir).expanduser().resolve()),
        settings.concurrency, settings.timeout,
    )  # fmt: skip
    with _lock:
        engine = _engines.get(key)
        if engine is None or engine._closed:
            engine = _engines[key] = Engine(settings)
        return engine


@atexit.register
def _close_all() -> None:
    for engine in list(_engines.values()):
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            engine.close()


def _raise_for(job: Job) -> Job:
    if job.status is JobStatus.FAILED:
        raise TaskFailedError(f"job {job.id} failed: {job.error}", task_id=job.task_id)
    if job.status is JobStatus.DETACHED:
        raise WaitTimeoutError(f"job {job.id} detached: {job.note}", task_id=job.task_id)
    return job


def _engine_options(options: dict[str, Any]) -> dict[str, Any]:
    """Take the engine's settings out of ``options``; what stays is for the request."""
    return {k: options.pop(k) for k in ("api_key", "base_url", "output_dir", "concurrency") if k in options}


def generate(prompt: str | None = None, *, timeout: float | None = None, **options: Any) -> Job:
    """Generate one video and block until its files are on disk; failures raise CogVideoError."""
    engine = get_engine(**_engine_options(options))
    job = engine.submit(prompt, **options)
    engine.wait([job], timeout)
    return _raise_for(job)


def generate_many(prompts: Iterable[str], *, timeout: float | None = None, **options: Any) -> list[Job]:
    """Generate a batch under the concurrency cap; returns every job, failed ones included.

    All prompts are validated before the first is sent, so one bad prompt sends nothing.
    """
    engine_options = _engine_options(options)
    requests = [build_request(p, **options) for p in prompts]
    engine = get_engine(**engine_options)
    jobs = [engine.submit(r) for r in requests]
    try:
        return engine.wait(jobs, timeout)
    except CogVideoError:
        return jobs


def resume(*, include_detached: bool = False, wait: bool = False, **explicit: Any) -> list[Job]:
    """Re-attach every unfinished job in the ledger (after a restart or crash)."""
    engine = get_engine(**explicit)
    jobs = engine.resume(include_detached=include_detached)
    if wait:
        engine.wait(jobs)
    return jobs
