"""Planning a prompt study (repeats, enhanced variants, chained clips, the cost check) and the work
behind ``%cogvideo stitch | report | rate``.

The API has no seed, so one run says little about a prompt: a study runs the same request
several times, or the user's prompt beside its enhanced rewrite, or continues a finished clip.
The magic, the form and Python share these steps; they are pure (the enhancer is passed in,
the commands' work returns HTML text and raises CogVideoError), so each is tested without a notebook.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ._cost import check_cost
from ._engine import Engine
from ._errors import ValidationError
from ._html import origin_bits, rel_url
from ._jobs import Job, JobStatus
from ._models import get_model
from ._report import write_report
from ._request import VideoRequest, new_request_id

__all__ = [
    "MAX_REPEATS", "Plan", "apply_enhance", "chain_source", "check_plans", "enhanced_pairs",
    "find_job", "origin_html", "rate_text", "repeat", "report_link", "stitch_html", "submit_plans",
]  # fmt: skip

MAX_REPEATS = 4


@dataclass(frozen=True)
class Plan:
    """One job to start: its request, its label in a grid, and where its prompt and frame came from."""

    request: VideoRequest
    label: str | None = None
    original_prompt: str | None = None  # set when the request's prompt is an enhanced rewrite
    continues: str | None = None  # the job whose last frame is this one's first
    enhance: bool = False  # to be enhanced by apply_enhance


def _join(*parts: str | None) -> str | None:
    text = ", ".join(p for p in parts if p)
    return text or None


def repeat(plans: Sequence[Plan], n: int) -> list[Plan]:
    """Each plan ``n`` times (1-4), as separate tasks with their own request ids, labelled run i/n."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_REPEATS:
        raise ValidationError(f"--n must be 1 to {MAX_REPEATS}, not {n!r}", field="n")
    if n == 1:
        return list(plans)
    return [
        replace(
            p, request=replace(p.request, request_id=new_request_id()), label=_join(p.label, f"run {i}/{n}")
        )
        for p in plans
        for i in range(1, n + 1)
    ]


def apply_enhance(plans: Sequence[Plan], enhancer: Callable[[str], str]) -> list[Plan]:
    """Plans marked ``enhance`` get the rewritten prompt (each distinct prompt rewritten once);
    the user's words are kept as ``original_prompt``."""
    cache: dict[str, str] = {}
    out = []
    for plan in plans:
        if not plan.enhance or not plan.request.prompt:
            out.append(plan)
            continue
        original = plan.request.prompt
        if original not in cache:
            cache[original] = enhancer(original)
        spec = get_model(plan.request.model)
        text = cache[original][: spec.max_prompt if spec else 512]
        out.append(replace(plan, request=replace(plan.request, prompt=text), original_prompt=original))
    return out


def enhanced_pairs(plans: Sequence[Plan]) -> list[tuple[str, str]]:
    """(original, enhanced) once per distinct original, in order: what the cell shows side by side."""
    seen: dict[str, str] = {}
    for p in plans:
        if p.original_prompt and p.original_prompt not in seen:
            seen[p.original_prompt] = p.request.prompt
    return list(seen.items())


def find_job(engine: Engine, ident: str) -> Job:
    """The one job whose id or task id is, starts or ends with ``ident`` (the short id history
    shows works); the live object when there is one."""
    found = engine.match(ident)
    if len(found) != 1:
        some = f" ({len(found)} match: give more of the id)" if found else " (see %cogvideo history)"
        raise ValidationError(f"no single job matches {ident!r}{some}", field="job")
    return found[0]


def chain_source(engine: Engine, ident: str) -> Job:
    """The finished job a ``--continue ID`` starts from, or a clear error saying why not."""
    try:
        job = find_job(engine, ident)
    except ValidationError as exc:
        raise ValidationError(f"--continue: {exc.message}", field="continue") from None
    if job.status is not JobStatus.SUCCEEDED or job.video_path is None:
        raise ValidationError(
            f"--continue {ident}: that job is {job.status.value}; only a finished video can be continued",
            field="continue",
        )
    return job


def check_plans(plans: Sequence[Plan], *, yes: bool, how: str = "add --yes") -> int:
    """The cost guard over a study: paid jobs need a confirmation before any is sent."""
    return check_cost([p.request for p in plans], yes=yes, how=how)


def submit_plans(submit: Callable[..., Job], plans: Sequence[Plan], **extra: Any) -> list[Job]:
    """Start every plan through ``submit`` (``Engine.submit``), keeping labels and origins."""
    return [
        submit(p.request, label=p.label, original_prompt=p.original_prompt, continues=p.continues, **extra)
        for p in plans
    ]


# -- %cogvideo stitch | report | rate: the work, on jobs already found --------------------------------
def stitch_html(jobs: Sequence[Job], out: str) -> str:
    """Stitch finished clips into ``out`` and return a player for the result."""
    from ._media import clip_info, stitch  # PyAV loads when a media tool runs

    path = stitch(jobs, out)
    info = clip_info(path)
    src = rel_url(path)
    return (
        f'<video src="{src}" controls muted playsinline style="max-width:520px;width:100%"></video>'
        f'<div style="font-size:12px"><a href="{src}" target="_blank">{html.escape(path.name)}</a> · '
        f"{len(jobs)} clips, {info.duration:.1f} s, {info.width}x{info.height}</div>"
    )


def report_link(jobs: Sequence[Job], out: str, *, title: str, embed: bool) -> str:
    """Write the study report and return a link to it."""
    path = write_report(jobs, out, title=title, embed=embed)
    where = "videos embedded" if embed else f"videos in {path.stem}_files/ beside it"
    return (
        f'<a href="{rel_url(path)}" target="_blank">{html.escape(path.name)}</a> · '
        f"{len(jobs)} runs · {html.escape(where)}"
    )


def rate_text(engine: Engine, job: Job, rating: int, words: Sequence[str], also: Sequence[Job] = ()) -> str:
    """Store a rating and note; ``also``: other copies of the job (a card's) to update."""
    engine.rate(job, rating, " ".join(words) or None)
    for same in also:
        if same.id == job.id and same is not job:
            same.rating, same.rating_note = job.rating, job.rating_note
    note = f" · {job.rating_note}" if job.rating_note else ""
    return f"rated {job.id[-8:]}: {job.rating}/5{note}"


def origin_html(job: Job) -> str:
    """Under a prompt in the history: what it was enhanced from, what it continues, its rating."""
    bits = origin_bits(job, short=True, rating=True)
    return f"<br><small>{' · '.join(bits)}</small>" if bits else ""
