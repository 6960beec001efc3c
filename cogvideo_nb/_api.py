"""The Python front end: ``cv.submit``, ``generate``, ``generate_many``, ``resume``, ``rate``,
``report``.

Each is the pipeline (``_pipeline``) plus the folder's shared engine, like the cell and the CLI:
the same input makes the same requests here as there. A single explicit ``submit``/``generate``
names its model in code and is its own confirmation; a batch asks (``yes=True``), as a cell does.
Each takes ``enhance=True`` and ``translate="en"``/``"zh"`` as the cell's ``--enhance`` and
``--translate`` (text prompts only: a built ``VideoRequest`` is sent as it is). ``generate`` and
``generate_many`` take ``plan=True`` as the cell's ``--dry-run``: the plan back, nothing sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, overload

from . import _pipeline
from ._config import hide_key_in
from ._dryrun import DryRun, planned
from ._engine import Engine, get_engine
from ._i18n import N_
from ._jobs import Job
from ._report import DEFAULT_TITLE, write_report
from ._request import VideoRequest

__all__ = ["generate", "generate_many", "rate", "report", "resume", "submit"]

_ENGINE_OPTIONS = ("api_key", "base_url", "provider", "output_dir", "concurrency", "timeout")
_REWRITES = ("enhance", "translate")  # what the chat model does to a prompt before it is sent


def _split(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the engine's settings, the request's options): one call takes both."""
    hide_key_in(options)  # first: a refused key must not show in any frame's locals
    engine = {k: options.pop(k) for k in _ENGINE_OPTIONS if k in options}
    return engine, options


def _plans(prompts: Iterable[str | VideoRequest | None], options: dict[str, Any]) -> list[_pipeline.Plan]:
    """Text goes through the planner, every item before any is sent; a built request is taken
    as it is (its own id: a second submit of it is the same job, not a second task)."""
    rewrite = {k: options.pop(k) for k in _REWRITES if k in options}
    items = list(prompts)
    texts = [p for p in items if not isinstance(p, VideoRequest)]
    planned = iter(_pipeline.plan(texts, options, labels=[None] * len(texts), **rewrite) if texts else [])
    return [_pipeline.Plan(p) if isinstance(p, VideoRequest) else next(planned) for p in items]


def submit(prompt: str | VideoRequest | None = None, **options: Any) -> Job:
    """Queue one job and return its running handle at once (``job.wait()`` to block)."""
    settings, options = _split(options)
    plans = _plans([prompt], options)
    return _pipeline.start(lambda: get_engine(**settings), plans, yes=True)[0]


def _dry_run(prompts: Iterable[str | VideoRequest | None], options: dict[str, Any]) -> DryRun:
    settings, options = _split(options)
    return planned(_plans(prompts, options), **settings)


@overload
def generate(
    prompt: str | VideoRequest | None = None,
    *,
    timeout: float | None = None,
    plan: Literal[False] = False,
    **options: Any,
) -> Job: ...
@overload
def generate(
    prompt: str | VideoRequest | None = None,
    *,
    timeout: float | None = None,
    plan: Literal[True],
    **options: Any,
) -> DryRun: ...
def generate(
    prompt: str | VideoRequest | None = None,
    *,
    timeout: float | None = None,
    plan: bool = False,
    **options: Any,
) -> Job | DryRun:
    """Generate one video and block until its files are on disk; failures raise CogVideoError,
    a passed ``timeout`` WaitTimeoutError (the job goes on). ``plan=True``: the plan, unsent."""
    hide_key_in(options)  # first: a refused key must not show in this frame's locals either
    if plan:
        return _dry_run([prompt], options)
    return submit(prompt, **options).wait(timeout)


@overload
def generate_many(
    prompts: Iterable[str],
    *,
    timeout: float | None = None,
    yes: bool = False,
    plan: Literal[False] = False,
    **options: Any,
) -> list[Job]: ...
@overload
def generate_many(
    prompts: Iterable[str],
    *,
    timeout: float | None = None,
    yes: bool = False,
    plan: Literal[True],
    **options: Any,
) -> DryRun: ...
def generate_many(
    prompts: Iterable[str],
    *,
    timeout: float | None = None,
    yes: bool = False,
    plan: bool = False,
    **options: Any,
) -> list[Job] | DryRun:
    """Generate a batch under the concurrency cap; returns every job, failed ones included.

    All prompts are validated before the first is sent, so one bad prompt sends nothing; a
    batch on a paid model raises :class:`PaidJobsError` (sending nothing) unless ``yes=True``.
    Like ``generate``, a passed ``timeout`` (one deadline for the whole batch) is a WaitTimeoutError.
    ``plan=True``: the plan (the jobs as they would be sent, cost, time), sending nothing.
    """
    if plan:
        return _dry_run(prompts, options)
    settings, options = _split(options)
    plans = _plans(prompts, options)
    engines: list[Engine] = []

    def engine() -> Engine:
        engines.append(get_engine(**settings))
        return engines[0]

    jobs = _pipeline.start(engine, plans, yes=yes, plan=N_("pass plan=True"))
    return engines[0].wait(jobs, timeout) if engines else jobs


def rate(job: Job | str, rating: int | None, note: str | None = None, **explicit: Any) -> Job:
    """Rate a finished job 1-5 with a short note; kept in the ledger and shown in the report."""
    hide_key_in(explicit)
    return get_engine(**explicit).rate(job, rating, note)


def report(
    jobs: Sequence[Job],
    path: str | os.PathLike[str] = "study.html",
    *,
    title: str = DEFAULT_TITLE,
    embed: bool = False,
    **explicit: Any,
) -> Path:
    """Write one self-contained HTML study of ``jobs``: with each job's own rating and, from the
    folder's ledger, the blind passes' ratings (reported apart from the sighted ones)."""
    hide_key_in(explicit)
    jobs = list(jobs)
    ratings = get_engine(**explicit).ratings(jobs) if jobs else []
    return write_report(jobs, path, title=title, embed=embed, ratings=ratings)


def resume(
    *,
    include_stopped: bool = False,
    wait: bool = False,
    include_detached: bool | None = None,
    **explicit: Any,
) -> list[Job]:
    """Adopt every job in the ledger worth picking up whose owner is gone (after a restart);
    ``include_stopped``: also those you stopped waiting for (``include_detached``: its old name)."""
    hide_key_in(explicit)
    engine = get_engine(**explicit)
    jobs = engine.resume(include_stopped=include_stopped or bool(include_detached))
    if wait:
        engine.wait(jobs)
    return jobs
