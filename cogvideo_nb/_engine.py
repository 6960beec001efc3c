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
import dataclasses
import importlib
import threading
import time
import warnings
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from . import _local
from ._client import AsyncClient
from ._config import Settings, hide_key_in, resolve_settings
from ._errors import CogVideoError, ValidationError, WaitTimeoutError
from ._i18n import t
from ._jobs import Job, JobStatus
from ._ledger import Ledger
from ._polling import PollPolicy
from ._ratings import MAX_RATER, Rating
from ._request import VideoRequest, build_request
from ._scheduler import Scheduler

__all__ = ["Engine", "get_engine"]

T = TypeVar("T")
MAX_NOTE = 500  # characters in a rating's note


class Engine:
    """Owns one loop thread, one client, one ledger and one scheduler: one per output folder.

    It is each of its jobs' controller, so ``job.wait()``, ``job.stop()``, ``job.resume()`` and
    ``job.retry()`` work on the handle itself.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        client: AsyncClient | None = None,
        policy: PollPolicy | None = None,
        submit_gap: float = 0.2,
        lease: float = 60.0,
        model_concurrency: Mapping[str, int] | None = None,
    ) -> None:
        self.settings = settings or resolve_settings()
        s = self.settings
        self.output_dir = Path(s.output_dir).expanduser()
        self._closed = True  # until the scheduler exists, nothing may be queued
        # The ledger first: an unwritable folder or a corrupt ledger is reported before any
        # thread starts, so a failed engine leaves nothing running behind.
        self.ledger = Ledger(self.output_dir / "ledger.sqlite", lease=lease)
        # httpcore imports anyio's asyncio backend on a loop's first request (~45 ms, GIL held):
        # pay it here, in the caller's thread, not as a stall of the engine's loop.
        with contextlib.suppress(ImportError):
            importlib.import_module("anyio._backends._asyncio")
        # Built here too (it reads the ledger's history and cleans stale .part files), so no
        # SQLite or file work ever runs on the engine loop; it binds to no loop until used.
        try:
            self.scheduler = Scheduler(
                client or AsyncClient(s.api_key, s.base_url, provider=s.provider), output_dir=self.output_dir,
                ledger=self.ledger, concurrency=s.concurrency, deadline=s.timeout, policy=policy,
                submit_gap=submit_gap, model_concurrency=model_concurrency,
            )  # fmt: skip
        except BaseException:
            self.ledger.close()
            raise
        if client is None and s.uses_emulator:
            _local.prestart()  # the emulator's fork, here rather than during the first job
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cogvideo-engine", daemon=True)
        self._thread.start()
        self._closed = False

    @property
    def emulated(self) -> bool:
        return self.scheduler.client.emulated

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the engine loop and wait for it (never call from the engine loop)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _soon(self, fn: Any, *args: Any) -> None:
        self._loop.call_soon_threadsafe(fn, *args)

    def _open(self) -> None:
        if self._closed:
            raise CogVideoError(
                t("the engine for {folder} is closed; get_engine() makes a new one", folder=self.output_dir)
            )

    def update(self, settings: Settings) -> None:
        """Apply new settings live: concurrency and timeout at once, a new key or URL from the
        next request on. Running jobs keep going."""
        self._open()
        old, self.settings = self.settings, settings

        async def go() -> None:
            sch = self.scheduler
            sch.deadline = settings.timeout
            if settings.concurrency != sch.concurrency:
                await sch.set_concurrency(settings.concurrency)
            if (settings.api_key, settings.base_url, settings.provider) != (
                old.api_key,
                old.base_url,
                old.provider,
            ):
                sch.set_client(AsyncClient(settings.api_key, settings.base_url, provider=settings.provider))

        self.call(go())

    def submit(
        self,
        request: VideoRequest | str | None = None,
        *,
        label: str | None = None,
        original_prompt: str | None = None,
        continues: str | None = None,
        rewrite: str | None = None,
        **options: Any,
    ) -> Job:
        """Queue one job and return it at once; it updates itself from the engine thread.

        ``original_prompt``: the user's words when ``request`` carries a rewritten prompt, and
        ``rewrite`` how it was rewritten (``enhance``, ``translate:en``, ``enhance+translate:en``);
        ``continues``: the id of the job whose last frame is this one's first.
        """
        self._open()
        req = request if isinstance(request, VideoRequest) else build_request(request, **options)
        job = Job(
            request=req, label=label, emulated=self.emulated, controller=self,
            original_prompt=original_prompt, continues=continues, rewrite=rewrite,
        )  # fmt: skip
        self.ledger.record(job)  # on disk before this returns, so a crash right now loses nothing
        self.scheduler.jobs[job.id] = job  # live at once: history() and find() return this object
        self._soon(self.scheduler.start, job)
        return job

    def stop(self, job: Job) -> None:
        """Stop waiting for a job (the server task may finish; resume() can pick it up)."""
        self._soon(self.scheduler.stop, job)

    def reattach(self, job: Job) -> Job:
        """Wait again for one stopped job: the same object (its card follows), the same task.

        Returns once the job has left its ended state, so a wait that follows waits for its
        new end (the engine moves it within milliseconds)."""
        live = self.resume_job(job)
        deadline = time.monotonic() + 5
        while live.status in (JobStatus.DETACHED, JobStatus.UNKNOWN) and time.monotonic() < deadline:
            time.sleep(0.005)
        return live

    def resume(self, *, include_stopped: bool = False) -> list[Job]:
        """Adopt every job worth picking up whose owner is gone (``include_stopped``: also
        those the user stopped waiting for). Live Job objects are reused, never duplicated."""
        self._open()
        jobs = self.call(self.scheduler.resume(include_stopped=include_stopped))
        for job in jobs:
            job.controller = self
        return jobs

    def resume_job(self, job: Job) -> Job:
        self._open()
        live = self.call(self.scheduler.resume_job(job))
        live.controller = self
        return live

    def retry(self, job: Job) -> Job:
        """The same request as a new task with a new request_id."""
        if job.status is JobStatus.UNKNOWN or (job.task_id is None and job.status is JobStatus.SUBMITTING):
            warnings.warn(
                t(
                    "job {job}: the server may already have its task; a retry may create a second, paid one "
                    "(job.resume() asks again with the same request_id, which cannot)",
                    job=job.id,
                ),
                stacklevel=2,
            )
        return self.submit(
            job.request.with_new_id(), label=job.label,
            original_prompt=job.original_prompt, continues=job.continues, rewrite=job.rewrite,
        )  # fmt: skip

    def rate(self, job: Job | str, rating: int | None, note: str | None = None) -> Job:
        """Keep a person's 1-5 rating and short note with the job, in the ledger (None clears)."""
        if rating is not None and (isinstance(rating, bool) or rating not in range(1, 6)):
            raise ValidationError(
                t("rating must be 1 to 5, not {rating}", rating=repr(rating)), field="rating"
            )
        if note is not None and len(note) > MAX_NOTE:
            raise ValidationError(
                t("the note is {n} characters; keep it under {limit}", n=len(note), limit=MAX_NOTE),
                field="note",
            )
        found = self.find(job) if isinstance(job, str) else job
        self.ledger.rate(found.id, rating, note)
        found.rating, found.rating_note = rating, (note or None)
        live = self.scheduler.jobs.get(found.id)
        if live is not None and live is not found:
            live.rating, live.rating_note = found.rating, found.rating_note
        for same in {id(found): found, id(live): live}.values():
            if same is not None:
                same.notify()  # not a transition, yet every card showing the job follows
        return found

    def add_ratings(self, ratings: Sequence[Rating]) -> None:
        """Keep several people's ratings (a blind pass's, with the rater's name) in the ledger, all
        or none: each is checked first (stars 1-5 or None, a short note, a short name)."""
        for r in ratings:
            if r.stars is not None and (isinstance(r.stars, bool) or r.stars not in range(1, 6)):
                raise ValidationError(
                    t("rating must be 1 to 5, not {rating}", rating=repr(r.stars)), field="rating"
                )
            if r.note is not None and len(r.note) > MAX_NOTE:
                raise ValidationError(
                    t("the note is {n} characters; keep it under {limit}", n=len(r.note), limit=MAX_NOTE),
                    field="note",
                )
            if r.rater is not None and len(r.rater) > MAX_RATER:
                raise ValidationError(
                    t("a rater's name is at most {limit} characters", limit=MAX_RATER), field="rater"
                )
        self.ledger.add_ratings(ratings)

    def ratings(self, jobs: Iterable[Job | str] | None = None) -> list[Rating]:
        """Every rating kept for these jobs (or for all) beyond their cards' own: blind passes,
        with the raters' names, oldest first."""
        ids = None if jobs is None else [j.id if isinstance(j, Job) else j for j in jobs]
        return self.ledger.ratings(ids)

    def wait(self, jobs: Iterable[Job], timeout: float | None = None) -> list[Job]:
        """Until every job ends, under one deadline in total; WaitTimeoutError when it passes."""
        jobs = list(jobs)
        deadline = None if timeout is None else time.monotonic() + timeout
        for job in jobs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not job.wait_done(left):
                waiting = sum(not j.done for j in jobs)
                seconds = f"{timeout:g}"
                raise WaitTimeoutError(
                    t(
                        "{n} of {total} job(s) not done after {seconds} s; they go on",
                        n=waiting,
                        total=len(jobs),
                        seconds=seconds,
                    ),
                    task_id=job.task_id,
                )
        return jobs

    def find(self, ident: str) -> Job:
        """The one lookup of a job, for every front end: the job whose id or task id equals,
        starts or ends with ``ident`` (the short id cards and history show works). The live
        object (the one cards follow) where this engine runs it, else a handle read from the
        ledger. No match, or several, is a ValidationError that says which."""
        found = self._matches(ident)
        if not found:
            shown = repr(ident)
            raise ValidationError(
                t("no job matches {ident} (the ids are in %cogvideo history)", ident=shown), field="job"
            )
        if len(found) > 1:
            some = ", ".join(j.short_id for j in found[:5])
            raise ValidationError(
                t(
                    "{ident} matches {n} jobs ({some}): give more of the id",
                    ident=repr(ident),
                    n=len(found),
                    some=some,
                ),
                field="job",
            )
        return found[0]

    def _matches(self, ident: str) -> list[Job]:
        live = dict(self.scheduler.jobs)
        found = [live.get(j.id, j) for j in self.ledger.match(ident)]
        for job in found:
            job.controller = job.controller or self  # a handle: found.resume() works on a ledger row
        return found

    def in_flight(self) -> list[Job]:
        """Every unfinished job this engine runs, read on its own loop (after any queued start)."""

        async def snapshot() -> list[Job]:
            return [j for j in self.scheduler.jobs.values() if not j.done]

        return self.call(snapshot())

    def resumable(self, *, include_stopped: bool = False) -> list[Job]:
        """Jobs of this folder worth picking up (as ``resume`` would), live objects where running."""
        live = self.scheduler.jobs
        return [live.get(j.id, j) for j in self.ledger.resumable(include_stopped=include_stopped)]

    def enhance(self, text: str) -> str:
        """Rewrite a prompt where this engine's jobs go: same key, platform, service or emulator."""
        from ._enhance import enhance

        s = self.settings
        return enhance(text, api_key=s.api_key, base_url=s.base_url, provider=s.provider)

    def translate(self, text: str, target: str) -> str:
        """Translate a prompt (``en``/``zh``) where this engine's jobs go, like :meth:`enhance`."""
        from ._translate import translate

        s = self.settings
        return translate(text, target, api_key=s.api_key, base_url=s.base_url, provider=s.provider)

    def history(self, limit: int = 50) -> list[Job]:
        """Recent jobs, newest first; the live object wherever this process runs the job."""
        live = self.scheduler.jobs
        rows = [live.get(j.id, j) for j in self.ledger.history(limit)]
        for job in rows:
            job.controller = job.controller or self
        return rows

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.call(self.scheduler.aclose(), timeout=10)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def get_engine(**explicit: Any) -> Engine:
    """The process-wide engine of an output folder: one per folder, whatever the other settings.

    Settings given explicitly here (``--concurrency 5``, a new key) are applied to it live, so
    two engines never run the same jobs; a later call without them (``%cogvideo resume``)
    leaves them as they are.
    """
    hide_key_in(explicit)  # first: a refused key must not show in any frame's locals
    settings = resolve_settings(**explicit)
    key = str(Path(settings.output_dir).expanduser().resolve())
    with _lock:
        engine = _engines.get(key)
        if engine is None or engine._closed:
            engine = _engines[key] = Engine(settings)
            return engine
        given = {k: getattr(settings, k) for k, v in explicit.items() if v is not None and k != "output_dir"}
        wanted = dataclasses.replace(engine.settings, **given)
        if wanted != engine.settings:
            engine.update(wanted)
        return engine


@atexit.register
def _close_all() -> None:
    for engine in list(_engines.values()):
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            engine.close()
