"""``cogvideo "a prompt"``: generate headless, save MP4 + cover, print their paths.

Also ``cogvideo lab`` (the tutorial notebooks in JupyterLab) and ``cogvideo batch FILE``.
With no API key everything runs on the bundled emulator and says so.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import _cli_batch, _cli_lab, _pipeline
from ._dryrun import planned
from ._engine import Engine, get_engine
from ._errors import CogVideoError
from ._html import status_word
from ._i18n import N_, language, t
from ._i18n_argparse import Lazy, Parser
from ._jobs import Job, JobStatus
from ._models import MODELS, OPTIONS, option_values

__all__ = ["main"]


def _add_request_options(p: argparse.ArgumentParser) -> None:
    # names are case-insensitive, like the platform's: checked by build_request, not argparse
    p.add_argument("--model", default=None, help=Lazy(N_("one of: {models}"), models=", ".join(MODELS)))
    add_option_flags(p)
    p.add_argument("--image", help=N_("first frame: a PNG/JPEG path, an http(s) URL, a data URL or Base64"))
    p.add_argument("--last-frame", help=N_("last frame (models taking first + last): path or URL"))
    p.add_argument("--reference", action="append", help=N_("a reference image (vidu2-reference); repeatable"))
    p.add_argument(
        "--translate", metavar="en|zh", help=N_("translate each prompt into en or zh first (free chat model)")
    )


def _request_options(args: argparse.Namespace) -> dict[str, Any]:
    opts = {name: getattr(args, name) for name in OPTIONS}
    opts.update(model=args.model, image=args.image, last_frame=args.last_frame, references=args.reference)
    return {k: v for k, v in opts.items() if v is not None}


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help=N_("output folder (default ./cogvideo_outputs)"))
    p.add_argument("--concurrency", type=int, help=N_("tasks in flight at once"))
    p.add_argument("--json", action="store_true", help=N_("print one JSON object per job"))
    p.add_argument("--yes", action="store_true", help=N_("go ahead with paid models (asked otherwise)"))
    p.add_argument(
        "--dry-run", action="store_true",
        help=N_("list the jobs as they would be sent, their cost and expected time; send nothing"),
    )  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    """Its words are said when shown, in the language in force (Parser: help and errors)."""
    p = Parser(
        prog="cogvideo",
        description=N_("Generate headless: save MP4 + cover, print their paths."),
        epilog=N_("more: `cogvideo lab --help`, `cogvideo batch --help`"),
    )
    p.add_argument("prompts", nargs="*", help=N_("one or more prompts (each becomes one video)"))
    _add_request_options(p)
    _add_engine_options(p)
    p.add_argument("--resume", action="store_true", help=N_("finish jobs a crash or restart left behind"))
    p.add_argument("--history", action="store_true", help=N_("list recent jobs"))
    return p


def _batch_parser() -> argparse.ArgumentParser:
    p = Parser(prog="cogvideo batch", description=N_("Many prompts from a file, for scripts and classrooms."))
    p.add_argument("file", help=N_("prompts, one per line or as JSON lines ('-' reads standard input)"))
    _add_request_options(p)
    _add_engine_options(p)
    return p


def _batch(argv: Sequence[str]) -> int:
    args = _batch_parser().parse_args(argv)
    try:
        lines, source = _cli_batch.read_source(args.file)
        plans = _cli_batch.read_batch(lines, _request_options(args), source, translate=args.translate)
        if args.dry_run:
            print(planned(plans, output_dir=args.out, concurrency=args.concurrency))
            return 0
        jobs = _pipeline.start(
            _engine(args), plans, yes=args.yes, how=N_("add --yes"), plan=N_("add --dry-run")
        )
        out_flag = f" --out {shlex.quote(args.out)}" if args.out else ""
        return _cli_batch.run_batch(
            jobs, as_json=args.json, out=sys.stdout, resume_hint=f"cogvideo --resume{out_flag}"
        )
    except CogVideoError as exc:
        print(t("error: {error}", error=exc), file=sys.stderr)
        return 1


def _engine(args: argparse.Namespace) -> Callable[[], Engine]:
    """The folder's engine, made only once the plans are checked and confirmed."""
    return lambda: get_engine(output_dir=args.out, concurrency=args.concurrency)


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per catalogue option; the values each model takes are checked by build_request."""
    for name, opt in OPTIONS.items():
        values = ", ".join(map(str, option_values(name))) if opt.kind is not bool else ""
        said = Lazy(opt.help)
        text = Lazy(N_("{help}; one of: {values} (per model)"), help=said, values=values) if values else said
        if opt.kind is bool:
            parser.add_argument(f"--{opt.flag}", dest=name, action=argparse.BooleanOptionalAction,
                                default=None, help=text)  # fmt: skip
        else:
            parser.add_argument(f"--{opt.flag}", dest=name, type=opt.kind, help=text)


def _history(jobs: Sequence[Job], as_json: bool) -> None:
    """Recent jobs: a table for people (the id that every lookup takes), JSON lines with --json."""
    if as_json:
        for job in jobs:
            print(json.dumps(job.to_dict(), ensure_ascii=False))
        return
    if not jobs:
        print(t("no jobs yet in this folder"))
        return
    for job in jobs:
        when = time.strftime("%m-%d %H:%M", time.localtime(job.created_at))
        result = job.video_path.name if job.video_path else job.error or job.note or ""
        prompt = job.prompt if len(job.prompt) <= 40 else job.prompt[:39] + "…"
        print(f"{job.short_id}  {status_word(job.status):<11} {when}  {prompt:<40}  {result}")


def _report(job: Job, as_json: bool) -> None:
    if as_json:
        print(json.dumps(job.to_dict(), ensure_ascii=False))
        return
    tag = f" [{t('EMULATED')}]" if job.emulated else ""
    if job.status is JobStatus.SUCCEEDED:
        print(t("video: {path}", path=job.video_path) + tag)
        print(t("cover: {path}", path=job.cover_path))
    else:
        said = f"{status_word(job.status)}: {job.prompt[:60]!r} {job.error or job.note or ''}{tag}"
        print(said, file=sys.stderr)


_EXAMPLE = N_("a red fox running through snow")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lab"]:
        return _cli_lab.lab_main(argv[1:])
    try:  # the words of everything below; a bad COGVIDEO_LANG is said once, in English
        language()
    except CogVideoError as exc:
        print(t("error: {error}", "en", error=exc), file=sys.stderr)
        return 2
    if argv[:1] == ["batch"]:
        return _batch(argv[1:])
    if argv[:1] == ["generate"]:  # explicit form, for a prompt that is literally "lab" or "batch"
        argv = argv[1:]
    args = _parser().parse_args(argv)
    if not (args.prompts or args.resume or args.history):
        _parser().print_usage(sys.stderr)
        example = f"python -m cogvideo_nb {shlex.quote(t(_EXAMPLE))}"
        print(t("give a prompt, e.g.: {example}", example=example), file=sys.stderr)
        return 2
    try:
        plans = _pipeline.plan(
            args.prompts, _request_options(args), labels=[None] * len(args.prompts), translate=args.translate
        )
        if args.dry_run:
            print(planned(plans, output_dir=args.out, concurrency=args.concurrency))
            return 0
        # before the engine: nothing is sent
        _pipeline.check(plans, yes=args.yes, how=N_("add --yes"), plan=N_("add --dry-run"))
        engine = _engine(args)()
        if args.history:
            _history(engine.history(20), args.json)
            return 0
        if engine.emulated and not args.json:
            var = engine.settings.platform.key_env
            print(
                t("no {var} set: using the bundled emulator (results are EMULATED)", var=var), file=sys.stderr
            )
        jobs = engine.resume() if args.resume else []
        started = _pipeline.start(engine, plans, yes=args.yes, how=N_("add --yes"))
        for _, sent, _ in _pipeline.rewrites(started) if not args.json else []:  # --translate's
            print(t("prompt sent: {prompt}", prompt=sent), file=sys.stderr)
        jobs += started
        engine.wait(jobs)
    except CogVideoError as exc:
        print(t("error: {error}", error=exc), file=sys.stderr)
        return 1
    for job in jobs:
        _report(job, args.json)
    return 0 if all(j.status is JobStatus.SUCCEEDED for j in jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
