"""The study report: one self-contained HTML file a teacher can hand out.

A prompt study is a set of runs: prompts (the user's and, when enhanced, the rewrite),
parameters, the words that differ between cells, posters, the videos themselves, and the
ratings and notes given to each. Everything that came from a person or a server is escaped;
videos sit in a folder next to the file (``<name>_files/``) or, on request, inside it.
"""

from __future__ import annotations

import base64
import html
import os
import shutil
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from ._diff import diff_parts
from ._enhance import prompt_diff
from ._errors import ValidationError
from ._html import params_text, poster_data_url
from ._i18n import N_, language, t, tn
from ._jobs import Job, JobStatus
from ._pipeline import rewrite_steps
from ._ratings import Rating, Stats, tally
from ._translate import LANGUAGE_NAMES, prompt_language

__all__ = [
    "DEFAULT_TITLE", "enhance_html", "ratings_html", "report_html", "rewrite_html", "runs_html",
    "write_report",
]  # fmt: skip

DEFAULT_TITLE = N_("Prompt study")  # written in the language in force; a title of one's own as given

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1f2328;background:#f6f8fa}
h1{font-size:22px;margin:0 0 4px}.sub{color:#57606a;font-size:13px;margin-bottom:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px}
.run{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px}
.run video,.run img{width:100%;border-radius:6px;background:#000}
.meta{font-size:12px;color:#57606a}.prompt{margin:6px 0;white-space:pre-wrap}
mark{background:#fff3b0;padding:0 1px;border-radius:2px}
.del{background:#ffd7d5;text-decoration:line-through}
.stars{color:#bf8700;font-size:16px;letter-spacing:1px}.note{font-style:italic;margin-top:4px}
.fail{color:#cf222e}.badge{background:#cf222e;color:#fff;border-radius:4px;padding:0 6px;font-size:11px}
table{border-collapse:collapse;margin:8px 0 18px;background:#fff}
td,th{border:1px solid #d0d7de;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}
h2{font-size:16px;margin:18px 0 4px}.num{text-align:right;white-space:nowrap}
"""


def _runs(parts: Sequence[tuple[str, bool]], tag: str = "mark") -> str:
    return "".join(f"<{tag}>{html.escape(t)}</{tag}>" if on else html.escape(t) for t, on in parts)


def enhance_html(original: str, enhanced: str) -> str:
    """The user's prompt and the rewrite side by side; removed words struck, added ones marked."""
    left, right = prompt_diff(original, enhanced)
    removed = "".join(
        f'<span class="del">{html.escape(t)}</span>' if on else html.escape(t) for t, on in left
    )
    added = t("enhanced ({n} characters)", n=len(enhanced))
    return (
        f'<div class="cvnb-enhance"><style>{_PAIR_CSS}</style>'
        f"<div><b>{html.escape(t('your prompt'))}</b>{removed}</div>"
        f"<div><b>{html.escape(added)}</b>{_runs(right)}</div></div>"
    )


_PAIR_CSS = (
    ".cvnb-enhance{display:grid;grid-template-columns:1fr 1fr;gap:10px;font-family:system-ui,sans-serif}"
    ".cvnb-enhance>div{border:1px solid #d0d7de;border-radius:8px;padding:8px;white-space:pre-wrap;"
    "background:#fff;color:#1f2328}.cvnb-enhance b{display:block;font-size:12px;color:#57606a}"
    ".cvnb-enhance mark{background:#fff3b0}.cvnb-enhance .del{background:#ffd7d5;"
    "text-decoration:line-through}"
)


def rewrite_html(original: str, sent: str, rewrite: str | None, lang: str | None = None) -> str:
    """A rewritten prompt beside the user's: an enhancement as :func:`enhance_html` marks it; a
    translation plainly, each side labelled with its language (across two languages every word
    differs, so marks would say nothing). ``lang``: the words' language (default: in force)."""
    enhanced, into = rewrite_steps(rewrite)
    if into is None:
        return enhance_html(original, sent)
    mine = t("your prompt ({language})", lang, language=t(LANGUAGE_NAMES[prompt_language(original)], lang))
    name, n = t(LANGUAGE_NAMES[into], lang), len(sent)
    if enhanced:
        theirs = t("enhanced, then translated into {language} ({n} characters)", lang, language=name, n=n)
    else:
        theirs = t("translated into {language} ({n} characters)", lang, language=name, n=n)
    e = html.escape
    return (
        f'<div class="cvnb-enhance cvnb-translate"><style>{_PAIR_CSS}</style>'
        f"<div><b>{e(mine)}</b>{e(original)}</div><div><b>{e(theirs)}</b>{e(sent)}</div></div>"
    )


def _stars(rating: int | None) -> str:
    if not rating:
        return f'<span class="meta">{html.escape(t("not rated"))}</span>'
    title = html.escape(t("{i} of 5", i=rating), quote=True)
    return f'<span class="stars" title="{title}">{"★" * rating}{"☆" * (5 - rating)}</span>'


def _video_src(job: Job, files: Path | None, rel: str, embed: bool) -> str | None:
    path = job.video_path
    if job.status is not JobStatus.SUCCEEDED or path is None or not Path(path).is_file():
        return None
    if embed:
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        return f"data:video/mp4;base64,{data}"
    if files is None:
        return None
    files.mkdir(parents=True, exist_ok=True)
    target = files / Path(path).name
    if not target.exists() or target.stat().st_size != Path(path).stat().st_size:
        shutil.copyfile(path, target)
    return f"{urllib.parse.quote(rel)}/{urllib.parse.quote(Path(path).name)}"


def _run_html(
    job: Job, parts: Sequence[tuple[str, bool]], src: str | None, blind: Sequence[Rating] = ()
) -> str:
    e = html.escape
    label = f"<b>{e(job.label)}</b> · " if job.label else ""
    emulated = f' <span class="badge">{e(t("EMULATED"))}</span>' if job.emulated else ""
    original: str | None = getattr(job, "original_prompt", None)
    rating: int | None = getattr(job, "rating", None)
    note: str | None = getattr(job, "rating_note", None)
    continues: str | None = getattr(job, "continues", None)
    out = [
        f'<div class="run" id="run-{e(job.id)}">',
        f'<div class="meta">{label}{e(params_text(job))}{emulated}</div>',
        f'<div class="prompt">{_runs(parts)}</div>',
    ]
    enhanced, into = rewrite_steps(getattr(job, "rewrite", None))
    if original and into is None:
        left, _ = prompt_diff(original, job.prompt)  # the user's words; what the rewrite dropped struck
        theirs = "".join(f'<span class="del">{e(t)}</span>' if on else e(t) for t, on in left)
        out.append(f'<details open><summary class="meta">{e(t("enhanced from"))}</summary>{theirs}</details>')
    elif original:  # a translation: every word differs, so none is struck
        said = t("enhanced and translated from") if enhanced else t("translated from")
        out.append(f'<details open><summary class="meta">{e(said)}</summary>{e(original)}</details>')
    if continues:
        link = f'<a href="#run-{e(continues)}">{e(continues[:13])}</a>'
        out.append(f'<div class="meta">{t("continues {job}", job=link)}</div>')
    if src:
        poster = poster_data_url(job.cover_path)
        poster_attr = f' poster="{poster}"' if poster else ""
        out.append(
            f'<video controls muted playsinline preload="metadata"{poster_attr}>'
            f'<source src="{e(src, quote=True)}" type="video/mp4"></video>'
        )
    elif job.status is JobStatus.FAILED:
        out.append(f'<div class="fail">{e(job.error or t("failed"))}</div>')
    else:
        out.append(f'<div class="meta">{e(job.status.word)}</div>')
    out.append(f"<div>{_stars(rating)}</div>")
    if note:
        out.append(f'<div class="note">{e(note)}</div>')
    if blind:
        given = " · ".join(
            f"{'★' * (r.stars or 0)}{'☆' * (5 - (r.stars or 0))}"
            + (f" {e(r.rater)}" if r.rater else "")
            + (f" ({e(t('winner'))})" if r.won else "")
            for r in blind
        )
        out.append(f'<div class="meta">{e(t("blind"))}: {given}</div>')
    out.append(
        f'<div class="meta">{e(t("task {task}", task=job.task_id or "-"))} · {e(job.short_id)}</div></div>'
    )
    return "".join(out)


def _summary(jobs: Sequence[Job]) -> str:
    """One row per distinct prompt: how many runs, how many succeeded, the mean rating."""
    e = html.escape
    rows: dict[str, list[Job]] = {}
    for job in jobs:
        rows.setdefault(job.prompt, []).append(job)
    body = []
    for prompt, runs in rows.items():
        ratings = [r for r in (getattr(j, "rating", None) for j in runs) if r]
        average = f"{sum(ratings) / len(ratings):.1f}" if ratings else ""
        mean = e(t("{mean} ({n} rated)", mean=average, n=len(ratings))) if ratings else "-"
        ok = sum(j.status is JobStatus.SUCCEEDED for j in runs)
        body.append(f"<tr><td>{e(prompt[:160])}</td><td>{len(runs)}</td><td>{ok}</td><td>{mean}</td></tr>")
    heads = [t("prompt"), t("runs"), t("succeeded"), t("mean rating")]
    return "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr>" + "".join(body) + "</table>"


def runs_html(
    jobs: Sequence[Job],
    *,
    files: Path | None = None,
    rel: str = "",
    embed: bool = False,
    ratings: Sequence[Rating] = (),
) -> str:
    """The grid of runs (prompts with differing words marked, videos, ratings, notes; under each,
    the blind ratings it was given)."""
    parts = diff_parts([j.prompt for j in jobs]) if jobs else []
    blind: dict[str, list[Rating]] = {}
    for r in ratings:
        if r.blind and (r.stars or r.won):
            blind.setdefault(r.job_id, []).append(r)
    cards = [
        _run_html(j, p, _video_src(j, files, rel, embed), blind.get(j.id, ()))
        for j, p in zip(jobs, parts, strict=True)
    ]
    return f'<div class="grid">{"".join(cards)}</div>'


def _mean(s: Stats) -> str:
    return f"{s.mean:.2f}" if s.mean is not None else "-"


def _interval(s: Stats) -> str:
    return f"{s.low:.2f}-{s.high:.2f}" if s.low is not None and s.high is not None else "-"


def ratings_html(jobs: Sequence[Job], ratings: Sequence[Rating] = ()) -> str:
    """Blind and sighted ratings apart, per prompt variant (prompt and parameters): the mean, the
    count, a 95 % interval, and how often it won a blind pass. Sighted: each card's own stars and
    any sighted rows; blind: the rows recorded by *Reveal*. "" when nothing was rated."""
    e = html.escape
    by_id = {j.id: j for j in jobs}
    rows = [r for r in ratings if r.job_id in by_id]
    rows += [Rating(j.id, j.rating) for j in jobs if getattr(j, "rating", None)]
    if not any(r.stars or r.won for r in rows):
        return ""
    tallies = tally(rows, lambda job_id: (by_id[job_id].prompt, params_text(by_id[job_id])))
    body = []
    for (prompt, params), got in tallies.items():
        won = t("{won} of {passes}", won=got.wins, passes=got.sessions) if got.sessions else "-"
        cells = [
            _mean(got.blind), str(got.blind.count), _interval(got.blind), won,
            _mean(got.sighted), str(got.sighted.count), _interval(got.sighted),
        ]  # fmt: skip
        body.append(
            f'<tr><td>{e(prompt[:160])}<div class="meta">{e(params)}</div></td>'
            + "".join(f'<td class="num">{e(c)}</td>' for c in cells)
            + "</tr>"
        )
    raters = list(dict.fromkeys(r.rater for r in rows if r.blind and r.rater))
    passes = len({r.session for r in rows if r.blind and r.session})
    said = [tn("{n} blind pass", "{n} blind passes", passes)]
    if raters:
        said.append(t("raters: {names}", names=", ".join(raters)))
    heads = [t("mean"), t("count"), t("interval (95%)"), t("won")]
    return (
        f"<h2>{e(t('Ratings: blind and sighted'))}</h2>"
        f'<table class="ratings"><tr><th rowspan="2">{e(t("prompt variant"))}</th>'
        f'<th colspan="4">{e(t("blind (prompts hidden)"))}</th><th colspan="3">{e(t("sighted"))}</th></tr>'
        "<tr>" + "".join(f"<th>{e(h)}</th>" for h in heads + heads[:3]) + "</tr>" + "".join(body) + "</table>"
        f'<p class="sub">{e(" · ".join(said))}. '
        + e(
            t(
                "The interval is a 95% t-interval of the mean (none below two ratings); a blind pass is "
                "won by the clip its rater picked, else by the one with the most stars alone."
            )
        )
        + "</p>"
    )


def report_html(
    jobs: Sequence[Job],
    *,
    title: str = DEFAULT_TITLE,
    files: Path | None = None,
    rel: str = "",
    embed: bool = False,
    ratings: Sequence[Rating] = (),
) -> str:
    """The whole page as a string (``files``/``rel``: where videos are copied and how linked),
    its words in the language in force."""
    e = html.escape
    title = t(DEFAULT_TITLE) if title == DEFAULT_TITLE else title
    emulated = any(j.emulated for j in jobs)
    when = time.strftime("%Y-%m-%d %H:%M")
    said = [tn("{n} run · written {when}", "{n} runs · written {when}", len(jobs), when=when)]
    if emulated:
        said.append(t("EMULATED results (no API key)"))
    sub = " · ".join(said)
    return (
        f'<!doctype html><html lang="{language()[0]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{e(title)}</h1><div class="sub">{e(sub)}</div>'
        f"{_summary(jobs)}{ratings_html(jobs, ratings)}"
        f"{runs_html(jobs, files=files, rel=rel, embed=embed, ratings=ratings)}"
        f'<p class="sub">{e(t("Highlighted words differ between prompts. Made with cogvideo_nb."))}</p>'
        "</body></html>"
    )


def write_report(
    jobs: Sequence[Job],
    path: str | os.PathLike[str] = "study.html",
    *,
    title: str = DEFAULT_TITLE,
    embed: bool = False,
    ratings: Sequence[Rating] = (),
) -> Path:
    """Write the study to ``path``; videos go to ``<stem>_files/`` beside it unless ``embed``.
    ``ratings``: the rows beyond each job's own stars (blind passes, named raters)."""
    if not jobs:
        raise ValidationError(t("the report needs at least one job"), field="jobs")
    out = Path(os.fspath(path)).expanduser()
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValidationError(
            t("the report must be an .html file, not {name}", name=repr(out.name)), field="path"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    files = None if embed else out.with_name(out.stem + "_files")
    text = report_html(jobs, title=title, files=files, rel=out.stem + "_files", embed=embed, ratings=ratings)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return out
