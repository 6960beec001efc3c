"""A prompt study's own steps: the clip a ``--continue`` starts from, and the work behind
``%cogvideo stitch | report | rate``.

The API has no seed, so one run says little about a prompt: a study repeats a request, sets a
prompt beside its rewrite (both planned by ``_pipeline``), continues a finished clip, and keeps
what a person thought of each result. The work returns HTML text and raises CogVideoError, so
each step is tested without a notebook.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence

from ._engine import Engine
from ._errors import ValidationError
from ._html import origin_bits, rel_url
from ._i18n import t, tn
from ._jobs import Job, JobStatus
from ._ratings import Rating
from ._report import write_report

__all__ = ["chain_source", "origin_html", "rate_text", "report_link", "stitch_html"]


def chain_source(engine: Engine, ident: str) -> Job:
    """The finished job a ``--continue ID`` starts from, or a clear error saying why not."""
    try:
        job = engine.find(ident)
    except ValidationError as exc:
        raise ValidationError(t("--continue: {error}", error=exc.message), field="continue") from None
    if job.status is not JobStatus.SUCCEEDED or job.video_path is None:
        raise ValidationError(
            t(
                "--continue {ident}: that job is {status}; only a finished video can be continued",
                ident=ident,
                status=job.status.word,
            ),
            field="continue",
        )
    return job


# -- %cogvideo stitch | report | rate: the work, on jobs already found --------------------------------
def stitch_html(jobs: Sequence[Job], out: str) -> str:
    """Stitch finished clips into ``out`` and return a player for the result."""
    from ._media import clip_info, stitch  # PyAV loads when a media tool runs

    path = stitch(jobs, out)
    info = clip_info(path)
    src = rel_url(path)
    seconds, size = f"{info.duration:.1f}", f"{info.width}x{info.height}"
    what = tn(
        "{n} clip, {seconds} s, {size}",
        "{n} clips, {seconds} s, {size}",
        len(jobs),
        seconds=seconds,
        size=size,
    )
    return (
        f'<video src="{src}" controls muted playsinline style="max-width:520px;width:100%"></video>'
        f'<div style="font-size:12px"><a href="{src}" target="_blank">{html.escape(path.name)}</a> · '
        f"{html.escape(what)}</div>"
    )


def report_link(
    jobs: Sequence[Job], out: str, *, title: str, embed: bool, ratings: Sequence[Rating] = ()
) -> str:
    """Write the study report (``ratings``: blind passes and named raters' rows) and return a link."""
    path = write_report(jobs, out, title=title, embed=embed, ratings=ratings)
    where = t("videos embedded") if embed else t("videos in {folder} beside it", folder=f"{path.stem}_files/")
    # JupyterLab opens the link in its HTML viewer, whose requests for files beside the report
    # the Jupyter server refuses (403, "unknown origin"): say so, and what plays everywhere.
    note = (
        ""
        if embed
        else "<br><small>"
        + t(
            "JupyterLab's viewer cannot play videos kept beside the report: open the file from disk (every "
            "browser plays them there), or write it with {flag} to play it anywhere.",
            flag="<code>--embed</code>",
        )
        + "</small>"
    )
    runs, full = tn("{n} run", "{n} runs", len(jobs)), os.path.abspath(path)
    return (
        f'<a href="{rel_url(path)}" target="_blank">{html.escape(path.name)}</a> · '
        f"{html.escape(runs)} · {html.escape(where)} · <code>{html.escape(full)}</code>{note}"
    )


def rate_text(engine: Engine, job: Job, rating: int, words: Sequence[str], also: Sequence[Job] = ()) -> str:
    """Store a rating and note; ``also``: other copies of the job (a card's) to update."""
    engine.rate(job, rating, " ".join(words) or None)
    for same in also:
        if same.id == job.id and same is not job:
            same.rating, same.rating_note = job.rating, job.rating_note
    if job.rating_note:
        return t(
            "rated {job}: {rating}/5 · {note}", job=job.short_id, rating=job.rating, note=job.rating_note
        )
    return t("rated {job}: {rating}/5", job=job.short_id, rating=job.rating)


def origin_html(job: Job) -> str:
    """Under a prompt in the history: what it was enhanced from, what it continues, its rating."""
    bits = origin_bits(job, short=True, rating=True)
    return f"<br><small>{' · '.join(bits)}</small>" if bits else ""
