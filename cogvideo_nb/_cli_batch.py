"""``cogvideo batch prompts.txt``: many prompts from a file, for scripts and classrooms.

A line is a prompt, or a JSON object with ``prompt`` and request options (``{"prompt": "...",
"duration": 10}``); blank lines and ``#`` comments are skipped. Every line is checked before
the first job is sent, so a typo on line 40 costs nothing. The file is UTF-8 (a BOM is allowed)
and at most 10 MiB: give images as paths or URLs rather than inline.
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from ._errors import CogVideoError, ValidationError
from ._html import status_word
from ._i18n import t
from ._jobs import Job, JobStatus
from ._models import OPTIONS
from ._pipeline import Plan, plan
from ._request import build_request

__all__ = ["MAX_BATCH_BYTES", "read_batch", "read_source", "run_batch"]

MAX_BATCH_BYTES = 10 * 2**20  # far beyond any class's prompts; /dev/zero stops here
_BOM = "\ufeff"

# What a JSON line may set: build_request's named parameters and the catalogue's options.
_OPTIONS = (frozenset(inspect.signature(build_request).parameters) | frozenset(OPTIONS)) - {
    "prompt", "request_id", "options",
}  # fmt: skip


def _line_plan(text: str, defaults: dict[str, Any], translate: str | None) -> Plan:
    if not text.startswith("{"):
        return plan([text], defaults, translate=translate)[0]
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            t("not valid JSON ({problem} at column {column})", problem=exc.msg, column=exc.colno)
        ) from None
    except ValueError:  # Python's int-string limit: a number literal of thousands of digits
        limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300
        raise ValidationError(
            t("not valid JSON (a number of more than {limit} digits)", limit=limit)
        ) from None
    except RecursionError:
        raise ValidationError(t("not valid JSON (nested too deeply)")) from None
    if not isinstance(row, dict):
        raise ValidationError(t('a JSON line must be an object like {"prompt": "..."}'))
    unknown = sorted(set(row) - _OPTIONS - {"prompt"})
    if unknown:
        options = ", ".join(["prompt", *sorted(_OPTIONS)])
        raise ValidationError(
            t("unknown option {name}; options: {options}", name=repr(unknown[0]), options=options)
        )
    prompt = row.pop("prompt", None)
    return plan([prompt], {**defaults, **row}, translate=translate)[0]


def read_batch(
    lines: Iterable[str], defaults: dict[str, Any], source: str, *, translate: str | None = None
) -> list[Plan]:
    """Every job of a batch, planned as a cell plans them, or one ValidationError naming the
    first bad line; ``translate`` (``--translate``): every prompt's target language."""
    requests = []
    for number, raw in enumerate(lines, 1):
        text = raw.strip().lstrip(_BOM).strip()  # a BOM: at the file's start, or files joined
        if not text or text.startswith("#"):
            continue
        try:
            requests.append(_line_plan(text, defaults, translate))
        except ValidationError as exc:
            raise ValidationError(f"{source}:{number}: {exc.message}", field=exc.field) from None
    if not requests:
        raise ValidationError(t("{source} holds no prompts (one per line, or JSON lines)", source=source))
    return requests


def _line(job: Job) -> str:
    took = t("{seconds} s", seconds=f"{job.elapsed:5.0f}")
    if job.status is JobStatus.SUCCEEDED:  # the file name already carries the prompt's words
        return f"{t('done'):<7} {took}  {job.video_path}"
    prompt = job.prompt if len(job.prompt) <= 50 else job.prompt[:49] + "…"
    return f"{status_word(job.status):<7} {took}  {prompt!r}: {job.error or job.note or ''}"


def run_batch(jobs: list[Job], *, as_json: bool, out: TextIO, resume_hint: str, tick: float = 0.2) -> int:
    """Show progress, print a line per finished job; the exit code says if any failed."""
    emulated = any(j.emulated for j in jobs)
    started = time.monotonic()
    pending = list(jobs)
    bar = tqdm(total=len(jobs), unit=t("job"), file=sys.stderr, disable=None, dynamic_ncols=True)
    bar.set_description(t("EMULATED") if emulated else t("generating"))
    try:
        while pending:
            for job in [j for j in pending if j.status.terminal]:
                pending.remove(job)
                text = json.dumps(job.to_dict(), ensure_ascii=False) if as_json else _line(job)
                bar.update(1)
                bar.write(text, file=out)
                out.flush()
            if pending:
                time.sleep(tick)
    except KeyboardInterrupt:
        bar.close()
        said = t(
            "stopped waiting: {left} of {total} jobs still run on the server and stay in the ledger. "
            "Pick them up with: {command}",
            left=len(pending), total=len(jobs), command=resume_hint,
        )  # fmt: skip
        print("\n" + said, file=sys.stderr)
        return 130
    bar.close()
    counts: dict[str, int] = {}
    for job in jobs:
        counts[status_word(job.status)] = counts.get(status_word(job.status), 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    said = t("{summary} in {seconds} s", summary=summary, seconds=f"{time.monotonic() - started:.0f}")
    print(said + (t(" (EMULATED: no API key set)") if emulated else ""), file=sys.stderr)
    return 0 if all(j.status is JobStatus.SUCCEEDED for j in jobs) else 1


def read_source(path: str) -> tuple[list[str], str]:
    """The lines of a batch file (``-`` is standard input) and the name to report errors with.

    Read as bytes, at most :data:`MAX_BATCH_BYTES`, and decoded as strict UTF-8 line by line, so
    an undecodable byte is an error naming its line (never a lone surrogate sent on).
    """
    source = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            stream = getattr(sys.stdin, "buffer", None)  # a notebook's stdin is text only
            data: bytes | str = (stream or sys.stdin).read(MAX_BATCH_BYTES + 1)
        else:
            with Path(path).open("rb") as f:
                data = f.read(MAX_BATCH_BYTES + 1)
    except OSError as exc:
        raise CogVideoError(
            t("cannot read {source}: {error}", source=source, error=exc.strerror or exc)
        ) from None
    if len(data) > MAX_BATCH_BYTES:
        raise CogVideoError(
            t(
                "{source} is over {size} MiB; a batch file holds prompts "
                "(give images as paths or URLs, not inline)",
                source=source,
                size=MAX_BATCH_BYTES // 2**20,
            )
        )
    if isinstance(data, str):  # text already: build_request refuses what UTF-8 cannot carry
        return data.splitlines(), source
    return [_decode(line, source, number) for number, line in enumerate(data.splitlines(), 1)], source


def _decode(line: bytes, source: str, number: int) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(line[: exc.start].decode("utf-8")) + 1  # the text before it decodes
        said = t(
            "{source}:{number}: not valid UTF-8 (byte {byte} at column {column}); save the file as UTF-8",
            source=source, number=number, byte=f"0x{line[exc.start]:02x}", column=column,
        )  # fmt: skip
        raise ValidationError(said) from None
