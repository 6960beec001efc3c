"""``%cogvideo SUBCOMMAND``: status, history, show, resume, stop, wait, config; for a prompt
study, stitch, report and rate (their work lives in the pure ``_study``); and the folder as a
gallery (``_gallery``, its widget in ``widgets/_gallery``).

Parsed with argparse subcommands: each has its own ``-h``, and a bad argument is a one-line
``UsageError`` that says what is valid. One id everywhere: the short id ``history`` shows (the
request id's tail) is what ``show``, ``resume`` and ``stop`` take, as is any unique prefix or
suffix of a job's id or task id.
"""

from __future__ import annotations

import argparse
import html
import time
from collections import Counter
from typing import Any, NoReturn

from IPython.core.display import HTML
from IPython.core.error import UsageError

from ._config import resolve_settings
from ._engine import Engine, get_engine
from ._errors import CogVideoError
from ._gallery import SORTS
from ._html import job_html, params_text, status_word
from ._i18n import N_, language, t
from ._i18n_argparse import Parser, argparse_message
from ._jobs import Job, JobStatus
from ._study import origin_html, rate_text, report_link, stitch_html
from .widgets._bridge import BRIDGE
from .widgets._gallery import open_gallery
from .widgets._outputs import Outputs

__all__ = ["PARSER", "run"]


class _Help(Exception):
    """``-h`` was asked: argparse printed the help; nothing else to do."""


class _Parser(Parser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(
            t("{prog}: {message} (see {prog} -h)", prog=self.prog, message=argparse_message(message))
        )

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status:
            raise UsageError(message or t("{prog}: error", prog=self.prog))
        raise _Help


MAX_ROWS = 10_000  # a screenful is 20; the ledger's query takes no number beyond 2**63


def _positive(text: str) -> int:
    shown = repr(text) if len(text) <= 30 else repr(text[:29] + "…")
    digits = text.lstrip("0")
    if not (text.isascii() and text.isdigit()) or not digits:  # isascii: '²' is a digit too
        raise argparse.ArgumentTypeError(t("expected a number of rows (1 or more), got {shown}", shown=shown))
    if len(digits) > len(str(MAX_ROWS)) or int(digits) > MAX_ROWS:  # no int() of 5000 digits
        raise argparse.ArgumentTypeError(t("at most {max} rows, got {shown}", max=MAX_ROWS, shown=shown))
    return int(digits)


def _build() -> _Parser:
    p = _Parser(
        prog="%cogvideo", description=N_("Jobs of this output folder: look, resume, stop, wait."),
        epilog=N_("%cogvideo COMMAND -h explains one command. IDs are those history shows "
                  "(or any unique start or end of a job id or task id)."),
    )  # fmt: skip
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    sub.add_parser("status", help=N_("what is in flight, with counts"), description=N_("What is in flight."))
    h = sub.add_parser("history", help=N_("recent jobs, newest first"), description=N_("Recent jobs."))
    h.add_argument("n", nargs="?", type=_positive, default=20, help=N_("how many rows (default 20)"))
    s = sub.add_parser("show", help=N_("one job: its card or its result"), description=N_("Show one job."))
    s.add_argument("id", help=N_("the id from history (or any unique start or end of a job or task id)"))
    r = sub.add_parser(
        "resume", help=N_("wait again for interrupted or stopped jobs (same tasks, no new cost)"),
        description=N_("Re-attach jobs (the same tasks, no new cost); "
                       "with no id, those a restart interrupted."),
    )  # fmt: skip
    r.add_argument("ids", nargs="*", metavar="ID", help=N_("jobs to resume (default: every interrupted one)"))
    r.add_argument("--all", action="store_true", help=N_("also jobs you stopped waiting for"))
    r.add_argument("--wait", action="store_true", help=N_("block until they end"))
    st = sub.add_parser("stop", help=N_("stop waiting (the task is kept: resume picks it up)"))
    st.add_argument("ids", nargs="*", metavar="ID")
    st.add_argument("--all", action="store_true", help=N_("every job in flight"))
    w = sub.add_parser("wait", help=N_("block until jobs end, leave their results as plain HTML"))
    w.add_argument("ids", nargs="*", metavar="ID", help=N_("jobs to wait for (default: every one in flight)"))
    sub.add_parser("config", help=N_("key set or not, service, output folder, limits"))
    sj = sub.add_parser("stitch", help=N_("join finished clips into one MP4 (common size and fps)"))
    sj.add_argument("ids", nargs="+", metavar="ID", help=N_("two or more finished jobs, in order"))
    sj.add_argument("--out", default="stitched.mp4", help=N_("the MP4 to write (default stitched.mp4)"))
    rp = sub.add_parser(
        "report", help=N_("one self-contained HTML study: prompts, videos, ratings, notes"),
        description=N_("Write the study report (default: the jobs this notebook's cells started)."),
    )  # fmt: skip
    rp.add_argument("ids", nargs="*", metavar="ID", help=N_("jobs to include (default: this session's)"))
    rp.add_argument("--out", default="study.html", help=N_("the HTML file (videos go to <name>_files/)"))
    rp.add_argument("--embed", action="store_true", help=N_("put the videos inside the HTML file"))
    rp.add_argument("--last", type=_positive, help=N_("the last N jobs of the ledger instead"))
    rp.add_argument("--title", default="Prompt study", help=N_("the report's title"))
    ra = sub.add_parser("rate", help=N_("rate a finished job 1-5, with a short note (kept in the ledger)"))
    ra.add_argument("id")
    ra.add_argument("rating", type=int, choices=range(1, 6), metavar="1-5")
    ra.add_argument("note", nargs="*", help=N_("a short note"))
    g = sub.add_parser(
        "gallery", help=N_("every job of this folder as posters: filter, sort, open, compare, stitch, tile"),
        description=N_("Every job of the output folder as a gallery of posters that play on hover, newest "
                       "first; the options set the filters it opens with."),
    )  # fmt: skip
    g.add_argument("--text", default="", help=N_("only jobs whose prompt, note or id holds these words"))
    g.add_argument("--model", default="", help=N_("only this model's jobs"))
    g.add_argument(
        "--status", default="", choices=["active", *(s.value for s in JobStatus)],
        help=N_("only jobs in this state (active: in flight)"),
    )  # fmt: skip
    g.add_argument(
        "--rating", default="", choices=["unrated", "1", "2", "3", "4", "5"],
        help=N_("only unrated jobs, or those rated this many stars or more"),
    )  # fmt: skip
    day = "YYYY-MM-DD"
    g.add_argument("--since", default="", metavar=day, help=N_("only jobs created on or after this day"))
    g.add_argument("--until", default="", metavar=day, help=N_("only jobs created on or before this day"))
    g.add_argument("--sort", default="newest", choices=list(SORTS), help=N_("the order (default newest)"))
    commands = {
        "status": _status, "history": _history, "show": _show, "resume": _resume, "stop": _stop,
        "wait": _wait, "config": _config, "stitch": _stitch, "report": _report, "rate": _rate,
        "gallery": _gallery,
    }  # fmt: skip
    for name, parser in sub.choices.items():
        parser.set_defaults(func=commands[name])
    return p


def run(outputs: Outputs, line: str) -> Any:
    """One ``%cogvideo`` line; ``outputs``: the notebook's shown jobs (shared with the cell magic)."""
    import shlex

    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(t("%cogvideo: could not read {line}: {error}", line=repr(line), error=exc)) from None
    if not words:
        PARSER.print_help()
        return None
    try:
        args = PARSER.parse_args(words)
    except _Help:
        return None
    return args.func(outputs, args)


def find(engine: Engine, ident: str) -> Job:
    """The engine's one lookup, its refusal as a one-line usage error."""
    try:
        return engine.find(ident)
    except CogVideoError as exc:
        raise UsageError(str(exc)) from None


# -- the subcommands -------------------------------------------------------------------------------
def _status(outputs: Outputs, args: Any) -> Any:
    engine = get_engine()
    live = {j.id: j for j in engine.in_flight()}
    for j in engine.resumable():
        live.setdefault(j.id, j)
    if not live:
        print(t("nothing in flight (%cogvideo history lists what has ended)"))
        return None
    counts = Counter(status_word(j.status) for j in live.values())
    summary = " · ".join(f"{n} {s}" for s, n in counts.most_common())
    jobs = sorted(live.values(), key=lambda j: j.created_at)
    head = html.escape(t("{n} in flight", n=len(jobs)))
    return HTML(f"<div><b>{head}</b>: {html.escape(summary)}</div>{table(jobs)}")


def _history(outputs: Outputs, args: Any) -> Any:
    return HTML(table(get_engine().history(args.n)))


def _show(outputs: Outputs, args: Any) -> Any:
    job = find(get_engine(), args.id)
    card = outputs.cards.get(job.id)
    return card if card is not None and not job.done else HTML(job_html(job, copy=True))


def _config(outputs: Outputs, args: Any) -> None:
    print(config_text())


def _stop(outputs: Outputs, args: Any) -> None:
    engine = get_engine()
    if not args.ids and not args.all:
        raise UsageError(t("%cogvideo stop: give job ids (from %cogvideo status) or --all"))
    jobs = engine.in_flight() if args.all else [find(engine, i) for i in args.ids]
    for job in jobs:
        engine.stop(job)
    print(t("stopped waiting for {n} job(s); their tasks are kept: %cogvideo resume ID", n=len(jobs)))


def _wait(outputs: Outputs, args: Any) -> None:
    engine = get_engine()
    jobs = [find(engine, i) for i in args.ids] if args.ids else engine.in_flight()
    outputs.wait_for(engine, jobs)


def _stitch(outputs: Outputs, args: Any) -> Any:
    if len(args.ids) < 2:
        raise UsageError(t("%cogvideo stitch: give two or more finished jobs (ids from %cogvideo history)"))
    engine = get_engine()
    jobs = [find(engine, i) for i in args.ids]
    try:
        return HTML(stitch_html(jobs, args.out))
    except CogVideoError as exc:
        raise UsageError(t("{command}: {error}", command="%cogvideo stitch", error=exc)) from None


def _report(outputs: Outputs, args: Any) -> Any:
    engine = get_engine()
    if args.ids:
        jobs = [find(engine, i) for i in args.ids]
    elif args.last:
        jobs = list(reversed(engine.history(args.last)))
    else:  # this notebook's cells, in the order they ran; else the ledger's recent jobs
        jobs = outputs.shown_jobs() or list(reversed(engine.history(50)))
    try:
        return HTML(
            report_link(jobs, args.out, title=args.title, embed=args.embed, ratings=engine.ratings(jobs))
        )
    except CogVideoError as exc:
        raise UsageError(t("{command}: {error}", command="%cogvideo report", error=exc)) from None


def _rate(outputs: Outputs, args: Any) -> Any:
    engine = get_engine()
    job = find(engine, args.id)
    try:
        text = rate_text(engine, job, args.rating, args.note, outputs.shown_jobs())
    except CogVideoError as exc:
        raise UsageError(t("{command}: {error}", command="%cogvideo rate", error=exc)) from None
    card = outputs.cards.get(job.id)
    if card is not None:  # the stars on its card follow
        BRIDGE.post(card.refresh_rating)
    return HTML(html.escape(text))


def _gallery(outputs: Outputs, args: Any) -> Any:
    try:
        return open_gallery(
            text=args.text, model=args.model, status=args.status, rating=args.rating, since=args.since,
            until=args.until, sort=args.sort, outputs=outputs,
        )  # fmt: skip
    except CogVideoError as exc:
        raise UsageError(t("{command}: {error}", command="%cogvideo gallery", error=exc)) from None


def _resume(outputs: Outputs, args: Any) -> None:
    engine = get_engine()
    if args.ids:
        jobs = [find(engine, i) for i in args.ids]
        for job in jobs:
            # A failed save keeps its task (resumable); a task the server failed, or a submit
            # that never made one, has nothing to wait for.
            final = job.status is JobStatus.FAILED and (
                job.task_id is None or job.error_type == "TaskFailedError"
            )
            if job.status is JobStatus.SUCCEEDED or final:
                said = t(
                    "job {id} has {status}: nothing to resume",
                    id=job.short_id,
                    status=status_word(job.status),
                )
                raise UsageError(said)
        running = engine.in_flight()
        jobs = [job if job in running else engine.reattach(job) for job in jobs]
    else:
        jobs = engine.resume(include_stopped=args.all)
    if not jobs:
        stopped = [j for j in engine.resumable(include_stopped=True) if j.stopped]
        if stopped:
            print(
                t(
                    "nothing was interrupted; {n} job(s) you stopped waiting for can be resumed "
                    "(same task, no new cost): %cogvideo resume --all, or %cogvideo resume ID",
                    n=len(stopped),
                )
            )
        else:
            print(t("nothing to resume: every job in the ledger has ended"))
        return
    with_cards = [j for j in jobs if j.id in outputs.cards]
    new = [j for j in jobs if j.id not in outputs.cards]
    if with_cards:
        print(t("resumed {n} job(s) in their cards above", n=len(with_cards)))
    if new:
        outputs.show(new, engine, title=t("resumed"))
    if args.wait:
        outputs.wait_for(engine, jobs)


# -- text -----------------------------------------------------------------------------------------
def _clip(text: str, limit: int = 90) -> str:
    """Cut at a word boundary, never mid-word."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,.;:") + " …"


def table(jobs: list[Job]) -> str:
    lang = language()[0]  # once for the table, not per row
    e = html.escape
    if not jobs:
        return f"<i>{e(t('no jobs yet', lang))}</i>"
    now = time.time()
    rows = []
    for j in jobs:
        result = str(j.video_path.name if j.video_path else j.error or j.note or "")
        when = time.strftime("%m-%d %H:%M", time.localtime(j.created_at))
        took = t("{seconds} s", lang, seconds=f"{(j.finished_at or now) - j.created_at:.0f}")
        rows.append(
            f'<tr><td><code style="user-select:all" title="%cogvideo show {e(j.short_id)}">'
            f"{e(j.short_id)}</code></td><td>{e(status_word(j.status))}</td>"
            f'<td style="text-align:left">{e(params_text(j))}</td>'
            f'<td style="text-align:left" title="{e(j.prompt)}">{e(_clip(j.prompt))}{origin_html(j)}</td>'
            f"<td>{e(when)}</td><td>{e(took)}</td>"
            f'<td style="text-align:left">{e(result)}</td>'
            # One click shows the job, in any renderer (no script, no kernel needed), at a card's
            # width: the column widens rather than squeezing the card into it.
            f'<td><details><summary>{e(t("show", lang))}</summary><div style="min-width:min(480px,80vw)">'
            f"{job_html(j, poster=False, copy=True)}</div></details></td></tr>"
        )
    words = (N_("id"), N_("status"), N_("parameters"), N_("prompt"), N_("created"), N_("took"), N_("result"))
    head = "".join(f"<th>{e(t(w, lang))}</th>" for w in words) + "<th></th>"
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def config_text() -> str:
    s = resolve_settings()
    lang, why = language()
    key = t("set", lang) if s.api_key is not None else t("not set ({var})", lang, var=s.platform.key_env)
    where = t("the bundled emulator (results are labelled EMULATED)", lang) if s.uses_emulator else s.base_url
    lines = [
        t("platform: {platform}", lang, platform=s.platform.title),
        t("API key: {state}", lang, state=key),
        t("service: {where}", lang, where=where),
        t("output folder: {folder}", lang, folder=s.output_dir),
        t("concurrency: {n}", lang, n=s.concurrency),
        t("timeout: {seconds} s", lang, seconds=f"{s.timeout:g}"),
        t("default model: {model}", lang, model=s.model),
        t("language: {language} ({why})", lang, language=lang, why=t(why, lang)),
    ]
    return "\n".join(lines)


PARSER = _build()  # last: its subcommands dispatch to the functions above
