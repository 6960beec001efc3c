"""One error root, a small tree, and the one function that maps server answers onto it.

The tree (``retryable`` says whether waiting and trying again can help)::

    CogVideoError                 root; fields: message, status_code, code, request_id, task_id
    ├── ValidationError           bad input caught locally; nothing was sent (also a ValueError)
    ├── ConfigError               no key for a custom base URL, bad setting values
    ├── APIError                  the server answered with an error body
    │   ├── BadRequestError       400: bad/missing parameter, unknown model, prompt too long
    │   │   ├── ContentFilterError    1301: the platform's content-safety filter refused it
    │   │   └── DuplicateRequestError 1231: a task with this request_id may already exist
    │   ├── AuthenticationError   401 / 1000-1005 (the key is never part of the message)
    │   ├── PermissionDeniedError 403 / 1220
    │   ├── NotFoundError         1233 (400 or 404): no such task; asking again cannot help
    │   ├── RateLimitError        429 / 1302, 1303, 1305, 1312 overloaded, 1313 fair-use throttle:
    │   │                         back off and retry (honour Retry-After)    (retryable)
    │   ├── QuotaError            1113 out of balance, 1304 / 1308+ usage caps, 1309 plan expired,
    │   │                         1310 weekly/monthly cap, 1311 plan lacks the model: cannot help
    │   └── ServerError           5xx / 500, 1200, 1230, 1234                  (retryable)
    ├── NetworkError              connect/read failure, timeout, dropped connection (retryable);
    │                             a request that cannot be sent at all (unsupported URL scheme,
    │                             illegal header) is a ConfigError instead: no retry fixes it
    ├── ProtocolError             an answer we cannot read; malformed JSON is retryable,
    │                             an unknown task_status is not (never poll it forever)
    ├── TaskFailedError           the task itself ended FAIL; ``detail`` holds what the body said
    ├── WaitTimeoutError          we stopped waiting; the task may still finish on the server
    └── DownloadError             a result file could not be fetched (``expired`` for 403/404/410)
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

from ._i18n import N_, t

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "CogVideoError",
    "ConfigError",
    "ContentFilterError",
    "DownloadError",
    "DuplicateRequestError",
    "NetworkError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProtocolError",
    "QuotaError",
    "RateLimitError",
    "ServerError",
    "TaskFailedError",
    "ValidationError",
    "WaitTimeoutError",
    "error_from_response",
    "parse_retry_after",
]


class CogVideoError(Exception):
    """Root of every error this package raises on purpose."""

    retryable: bool = False
    # Set on a submit's final error when an attempt may have reached the server: the task may
    # exist although we never learnt its id, so the job must not be failed or resubmitted blindly.
    outcome_unknown: bool = False
    # Set when the answer itself settles a submit's outcome (it named the task, if only with an
    # unusable id): no earlier attempt that may have reached the server makes it unknown then.
    outcome_known: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        task_id: str | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.task_id = task_id
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        parts = [self.message]
        tags = []
        if self.status_code is not None:
            tags.append(f"HTTP {self.status_code}")
        if self.code is not None:
            tags.append(f"code {self.code}")
        if tags:
            parts.append(f"({', '.join(tags)})")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r}, code={self.code!r})"
        )


class ValidationError(CogVideoError, ValueError):
    """Bad input, found before anything was sent. ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConfigError(CogVideoError):
    """Settings that cannot work, found before anything was sent."""


class APIError(CogVideoError):
    """The server answered with an error body."""


class BadRequestError(APIError):
    """The server rejected a parameter."""


class ContentFilterError(BadRequestError):
    """The platform's content-safety filter refused the prompt or image."""


class DuplicateRequestError(BadRequestError):
    """1231: the server already has a request with this request_id and did not name its task.

    The task may exist: never resubmit blindly (a new request_id would make a second, paid task).
    """

    outcome_unknown = True


class AuthenticationError(APIError):
    """The key is missing, wrong or expired."""


class PermissionDeniedError(APIError):
    """The key may not use this API."""


class NotFoundError(APIError):
    """The task does not exist (1233): a wrong id, or another account's or platform's."""


class RateLimitError(APIError):
    """Too many requests or tasks at once; slowing down helps."""

    retryable = True


class QuotaError(APIError):
    """Out of balance or over a usage cap: retrying cannot help."""


class ServerError(APIError):
    """A fault on the server's side; usually passes."""

    retryable = True


class NetworkError(CogVideoError):
    """No usable answer reached us: connect/read failure, timeout, dropped connection."""

    retryable = True


class ProtocolError(CogVideoError):
    """An answer that does not follow the wire format."""


class TaskFailedError(CogVideoError):
    """The task ended FAIL on the server. ``detail`` is whatever its body carried."""

    def __init__(self, message: str, *, task_id: str | None = None, detail: Any = None) -> None:
        super().__init__(message, task_id=task_id)
        self.detail = detail


class WaitTimeoutError(CogVideoError, TimeoutError):
    """We gave up waiting; the server-side task may still finish and can be picked up later."""


class DownloadError(CogVideoError):
    """A result file could not be saved."""

    def __init__(self, message: str, *, status_code: int | None = None, expired: bool = False) -> None:
        # A 5xx from the file host passes; an expired or refused URL does not.
        retryable = status_code is not None and status_code >= 500
        super().__init__(message, status_code=status_code, retryable=retryable)
        self.expired = expired


_AUTH_CODES = frozenset(range(1000, 1006))
_BAD_REQUEST_CODES = frozenset({*range(1210, 1216), 1261})
_RATE_CODES = frozenset({1302, 1303, 1305, 1312, 1313})
# Codes whose plain reason the platform's message may not carry; said with it.
_REASONS = {
    1113: N_("account out of balance, retrying cannot help"),
    1309: N_("the plan has expired, retrying cannot help"),
    1310: N_("the plan's weekly or monthly cap is reached, retrying cannot help"),
    1311: N_("the plan does not include this model, retrying cannot help"),
    1312: N_("the model is overloaded; backing off (or switch model)"),
    1313: N_("throttled by the plan's fair-use policy; backing off"),
    1233: N_("no such task"),
}
_SERVER_CODES = frozenset({500, 1200, 1230, 1234})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header, or None when it is not one.

    RFC 9110: delta-seconds (``1*DIGIT``) or an HTTP-date; "0.5" or "-2" are neither.
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    if not any(c.isalpha() for c in value):
        return None  # a number of another shape (fraction, sign) is no date either
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _error_fields(body: bytes) -> tuple[str | None, str | None]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return None, None
    code, message = err.get("code"), err.get("message")
    return (None if code is None else str(code)), (None if message is None else str(message))


def _error_class(status: int, code: int | None) -> type[APIError]:
    if code == 1231:
        return DuplicateRequestError
    if code == 1301:
        return ContentFilterError
    if code == 1233 or (status == 404 and code is None):
        return NotFoundError
    if code in _RATE_CODES:
        return RateLimitError  # before the quota range: 1312 and 1313 pass with time
    if status == 401 or code in _AUTH_CODES:
        return AuthenticationError
    if status == 403 or code == 1220:
        return PermissionDeniedError
    if code == 1113 or code == 1304 or (code is not None and 1308 <= code <= 1399):
        return QuotaError
    if status == 429 or code in _RATE_CODES:
        return RateLimitError
    if status >= 500 or status == 408 or code in _SERVER_CODES:
        return ServerError
    if status == 400 or code in _BAD_REQUEST_CODES:
        return BadRequestError
    return APIError


def error_from_response(
    status: int,
    body: bytes,
    *,
    retry_after: str | None = None,
    request_id: str | None = None,
    task_id: str | None = None,
) -> APIError:
    """Map an HTTP status plus the body's business code to one error, per the API notes' table."""
    code_text, message = _error_fields(body)
    code = int(code_text) if code_text is not None and code_text.isdigit() else None
    cls = _error_class(status, code)
    if message is None:
        snippet = body[:200].decode("utf-8", "replace").strip()
        message = snippet or t("HTTP {status} with an empty body", status=status)
    # our words around the platform's own (its message is the server's, passed on as it came)
    if cls is ContentFilterError:
        message = t("blocked by the platform's content filter: {message}", message=message)
    elif code in _REASONS:
        message = t("{reason}: {message}", reason=t(_REASONS[code]), message=message)
    return cls(
        message,
        status_code=status,
        code=code_text,
        request_id=request_id,
        task_id=task_id,
        retry_after=parse_retry_after(retry_after),
    )
