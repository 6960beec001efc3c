"""Reading the API's answers into typed values, shared by the sync and async clients."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import httpx

from ._errors import ProtocolError, error_from_response
from ._i18n import t

__all__ = [
    "MAX_ANSWER_BYTES",
    "MAX_SHOWN",
    "MAX_TASK_ID",
    "Download",
    "TaskState",
    "TaskStatus",
    "capped",
    "parse_task",
    "raise_for_error",
    "usable_task_id",
]


class TaskStatus(str, Enum):
    """What the server says of a task. The engine's richer job states live in ``_jobs``."""

    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"


# Spellings seen in examples and third-party code; anything else is an error, never "keep polling".
_STATUS_ALIASES = {
    "PROCESSING": TaskStatus.PROCESSING,
    "PENDING": TaskStatus.PROCESSING,
    "SUBMITTED": TaskStatus.PROCESSING,
    "SUCCESS": TaskStatus.SUCCESS,
    "FAIL": TaskStatus.FAIL,
    "FAILED": TaskStatus.FAIL,
}
# Documented keys of a task answer (the poll shares the async schema: created, usage,
# content_filter); whatever else a FAIL body carries is shown as its reason.
_KNOWN_KEYS = {"id", "model", "request_id", "task_status", "video_result", "created", "usage",
               "content_filter", "object"}  # fmt: skip
EMULATOR_HEADER = "x-cogvideo-emulator"
_REASON_HEADER = "x-cogvideo-emulator-reason"
# An API answer is a few hundred bytes; anything past this (a gzip bomb, a runaway body) is cut.
MAX_ANSWER_BYTES = 1 << 20
MAX_SHOWN = 2000  # characters of a server's text kept in a reason or an error message


MAX_TASK_ID = 256  # real ids are a few dozen characters
_NOT_IN_AN_ID = frozenset("/\\<>")


def usable_task_id(value: object) -> str | None:
    """``value`` as a task id that names one path segment and shows as plain text, else None:
    not empty, not dots only, no slash, backslash, markup or control characters, not huge."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value)
    if not text or len(text) > MAX_TASK_ID or text.strip(".") == "":
        return None
    if any(c in _NOT_IN_AN_ID or not c.isprintable() for c in text):
        return None
    return text


def capped(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


@dataclass(frozen=True)
class TaskState:
    """One answer about one task."""

    id: str
    status: TaskStatus
    model: str | None = None
    request_id: str | None = None
    video_url: str | None = None
    cover_url: str | None = None
    emulated: bool = False
    fail_reason: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Download:
    """A result file saved to disk, with what is needed to trust it later."""

    path: Path
    sha256: str
    size: int
    content_type: str


def raise_for_error(
    response: httpx.Response, *, request_id: str | None = None, task_id: str | None = None
) -> None:
    if response.status_code >= 400:
        raise error_from_response(
            response.status_code,
            response.content,
            retry_after=response.headers.get("retry-after"),
            request_id=request_id,
            task_id=task_id,
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        snippet = response.content[:120].decode("utf-8", "replace")
        raise ProtocolError(
            t("the server's answer is not valid JSON: {snippet}", snippet=repr(snippet)),
            status_code=response.status_code,
            retryable=True,  # a torn body is a passing fault; asking again is safe (idempotent ids)
        ) from None
    if not isinstance(data, dict):
        raise ProtocolError(t("the server's answer is not a JSON object"), retryable=True)
    return data


def _fail_reason(data: dict[str, Any], response: httpx.Response) -> str:
    """The API documents no reason field, so show whatever else the body carries (capped)."""
    return capped(_reason(data, response))


def _reason(data: dict[str, Any], response: httpx.Response) -> str:
    extra = {k: v for k, v in data.items() if k not in _KNOWN_KEYS}
    if not extra and response.headers.get(EMULATOR_HEADER) == "1" and _REASON_HEADER in response.headers:
        return urllib.parse.unquote(response.headers[_REASON_HEADER])  # the emulator says it there
    for key in ("fail_reason", "message", "error", "msg", "reason"):
        value = extra.get(key)
        if isinstance(value, dict) and "message" in value:
            return str(value["message"])
        if value:
            return str(value)
    return json.dumps(extra, ensure_ascii=False) if extra else t("the server gave no reason")


def parse_task(response: httpx.Response, *, task_id: str | None = None, submit: bool = False) -> TaskState:
    """A submit or poll answer as a TaskState; errors and odd answers raise.

    A retried submit may be answered with a task that has already finished (the server found
    it by request_id); such an answer carries no URLs, and the next poll fetches them.
    """
    raise_for_error(response, task_id=task_id)
    data = _json(response)
    raw_status = str(data.get("task_status", "")).upper()
    status = _STATUS_ALIASES.get(raw_status)
    if status is None:
        shown = repr(data.get("task_status"))
        raise ProtocolError(t("unknown task_status {status}; not polling it forever", status=shown))
    ident = data.get("id") or task_id
    if not ident:
        raise ProtocolError(t("the answer names no task id"), retryable=True)
    usable = usable_task_id(ident)
    if usable is None:
        # Asking again would bring the same id back; the answer settles what became of the submit.
        shown = f"{str(ident)!r:.60}"
        error = ProtocolError(
            t("the server sent an unusable task id {shown}; it cannot be polled", shown=shown)
        )
        error.outcome_known = True
        raise error
    video = cover = None
    results = data.get("video_result") or []
    if status is TaskStatus.SUCCESS and not submit:
        if not isinstance(results, list) or not results or not isinstance(results[0], dict):
            raise ProtocolError(t("task SUCCESS without a video_result url"), retryable=True)
        video, cover = results[0].get("url"), results[0].get("cover_image_url")
        if not isinstance(video, str) or not video.startswith(("http://", "https://")):
            # Not a passing fault (a torn body fails to parse at all): asking again will not help.
            shown = f"{video!r:.80}"
            raise ProtocolError(t("task SUCCESS without a usable video url: {shown}", shown=shown))
        if cover is not None and not isinstance(cover, str):
            cover = None  # the video is what matters; a malformed cover link is dropped
    # "emulated" is a header, never a body field: bodies stay as the platform's.
    emulated = response.headers.get(EMULATOR_HEADER) == "1"
    return TaskState(
        id=usable,
        status=status,
        model=data.get("model") if isinstance(data.get("model"), str) else None,
        request_id=data.get("request_id") if isinstance(data.get("request_id"), str) else None,
        video_url=video,
        cover_url=cover,
        emulated=emulated,
        fail_reason=_fail_reason(data, response) if status is TaskStatus.FAIL else None,
        raw=data,
    )
