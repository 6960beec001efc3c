"""What the sync and async clients decide alike: where to send (settings, or the local service
that stands in when there is no key), what to send, whether a failed attempt may have reached
the server, whether to retry, and when a task is done.

No I/O here: ``_client`` does it, once blocking and once on asyncio. The key's safety is
``_redact``'s, writing a result file ``_files``'s.
"""

from __future__ import annotations

import asyncio
import random
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ._config import Secret, Settings, hide_key, resolve_settings
from ._errors import (
    CogVideoError,
    ConfigError,
    NetworkError,
    ProtocolError,
    ServerError,
    TaskFailedError,
    ValidationError,
    WaitTimeoutError,
)
from ._i18n import t
from ._redact import BearerAuth, Redactor
from ._request import VideoRequest, build_request
from ._retry import RetryPolicy, RetryState
from ._wire import MAX_ANSWER_BYTES, TaskState, TaskStatus, usable_task_id

__all__ = ["BaseClient", "LocalService", "Sent", "grow", "may_have_reached", "serve_keyless_with"]

_EMULATOR_TOKEN = "emulator-local-token"  # noqa: S105 (not a secret: the emulator takes any)
# httpx errors raised before anything is sent, or by a redirect loop: permanent, never retried.
_UNSENDABLE = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.TooManyRedirects, httpx.InvalidURL)
RetryHook = Callable[[CogVideoError, float], None]
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

LocalService = Callable[[], str]  # starts (or finds) a local stand-in for the API; its base URL
_local_service: list[LocalService] = []


def serve_keyless_with(start: LocalService) -> None:
    """Name the local service a client with neither key nor base URL talks to.

    The bundled emulator is that service, but the client layer sits below it and must not
    import it: the package wires it in when it is imported (``_local``), so ``Client()`` with no
    key still works offline while this layer stays free of the emulator.
    """
    _local_service[:] = [start]


def _local_url() -> str:
    if not _local_service:
        raise ConfigError(t("no API key and no base URL, and no local service to stand in for the API"))
    return _local_service[0]().rstrip("/")


class Sent:
    """Whether an attempt's request left: a fact, reported by httpcore's trace hook when the
    request headers start going out (``http11.`` / ``http2.send_request_headers.started``).

    Before that nothing can have reached the server, however the attempt ended (refused,
    a TLS handshake that never completes, cut by our deadline). Once it left, or when the
    transport reports nothing (``httpx.MockTransport``, a custom one), the failure's kind
    decides, conservatively (:func:`may_have_reached`): a refusal made no task, a lost
    answer may have.
    """

    __slots__ = ("reported", "sent")

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        """A new attempt: nothing seen yet."""
        self.reported = False  # the transport told us anything at all
        self.sent = False

    def _saw(self, event: str) -> None:
        self.reported = True
        if event.endswith(".send_request_headers.started"):
            self.sent = True

    def trace(self, event: str, info: dict[str, Any]) -> None:  # info holds the request: not kept
        self._saw(event)

    async def atrace(self, event: str, info: dict[str, Any]) -> None:
        self._saw(event)

    def reached(self, exc: BaseException) -> bool:
        """Could the attempt that failed with ``exc`` have made a task on the server?"""
        if self.reported and not self.sent:
            return False
        return may_have_reached(exc)


def may_have_reached(exc: BaseException) -> bool:
    """A guess from the failure's kind, for a transport that reports nothing: could this failed
    attempt have reached the server (so a submit may have made a task)?"""
    if isinstance(exc, _NOT_SENT):
        return False
    if isinstance(exc, (httpx.HTTPError, asyncio.TimeoutError, ProtocolError, ServerError)):
        return True
    return isinstance(exc, NetworkError)


def grow(body: bytearray, chunk: bytes) -> None:
    body.extend(chunk)
    if len(body) > MAX_ANSWER_BYTES:  # counted after decompression: a gzip bomb stops here
        raise ProtocolError(t("the server's answer is over {n} bytes; not reading it", n=MAX_ANSWER_BYTES))


class BaseClient:
    def __init__(
        self,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        seed: int | None = None,
        provider: str | None = None,
        download_timeout: float = 600.0,
    ) -> None:
        api_key = hide_key(api_key)
        self._settings: Settings = resolve_settings(api_key=api_key, base_url=base_url, provider=provider)
        self._base_url: str | None = self._settings.base_url
        self.timeout = timeout  # bounds one whole API request, body included, however slow
        self.download_timeout = download_timeout  # the same for one result file
        self.retry = retry or RetryPolicy()
        self._rng = random.Random(seed)
        self._bearer = BearerAuth(self._token)
        self._redact = Redactor(self._key_text)
        # Told of every retry decision, so a scheduler can slow down on 429 without re-parsing.
        # ``on_retry`` is the user's; an engine adds itself to ``retry_listeners`` instead.
        self.on_retry: RetryHook | None = None
        self.retry_listeners: list[RetryHook] = []

    # -- configuration ---------------------------------------------------------------------------
    @property
    def provider(self) -> str:
        """The platform this client speaks to: ``bigmodel`` or ``zai``."""
        return self._settings.provider

    @property
    def emulated(self) -> bool:
        """True when this client talks to the bundled emulator instead of the real service."""
        return self._settings.uses_emulator

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            self._base_url = _local_url()  # started only when first needed
        return self._base_url

    def _token(self) -> str:
        key = self._settings.api_key
        if key is None and not self.emulated:
            platform = self._settings.platform
            raise ConfigError(
                t(
                    "no API key for {url}: set {var} or pass api_key=... (a {platform} key: a key works "
                    "only on its own platform)",
                    url=self._base_url,
                    var=platform.key_env,
                    platform=platform.title,
                )
            )
        return key.reveal() if key is not None else _EMULATOR_TOKEN

    def _key_text(self) -> str:
        key = self._settings.api_key
        return key.reveal() if key is not None else ""

    def __repr__(self) -> str:
        where = "emulator" if self.emulated else self._base_url
        key = "set" if self._settings.api_key else "unset"
        return f"{type(self).__name__}(base_url={where!r}, api_key={key})"

    # -- requests, shared ------------------------------------------------------------------------
    def _as_request(self, request: VideoRequest | str | None, options: dict[str, Any]) -> VideoRequest:
        if isinstance(request, VideoRequest):
            if options:
                raise TypeError("pass either a VideoRequest or keyword options, not both")
            return request
        return build_request(request, **options)

    def _submit_args(self, req: VideoRequest) -> dict[str, Any]:
        return {
            "method": "POST",
            "url": f"{self.base_url}/videos/generations",
            "json": req.to_body(),
            "auth": self._bearer,
            "headers": dict(self._settings.platform.headers),
        }

    def _post_args(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Another endpoint of the same API (the chat model): this client's URL and auth."""
        return {"method": "POST", "url": f"{self.base_url}{path}", "json": body, "auth": self._bearer}

    def _poll_args(self, task_id: str) -> dict[str, Any]:
        if not isinstance(task_id, str) or usable_task_id(task_id) is None:
            shown = f"{task_id!r:.60}"
            raise ValidationError(t("bad task id {shown}", shown=shown), field="task_id")
        # Percent-encoded, dots included: an id is one path segment, never '..', '?' or '#'.
        quoted = urllib.parse.quote(task_id, safe="").replace(".", "%2E")
        return {
            "method": "GET",
            "url": f"{self.base_url}/async-result/{quoted}",
            "auth": self._bearer,
            "headers": dict(self._settings.platform.headers),
        }

    def _retry_delay(
        self, state: RetryState, exc: BaseException, *, unknown: bool = False, deadline: float | None = None
    ) -> float:
        """Seconds to wait before trying again, or raise the (scrubbed) error: the shared decision.

        ``unknown``: an earlier attempt of this submit may have reached the server, so a final
        error says the outcome is unknown rather than that nothing happened. ``deadline``
        (monotonic) bounds the whole call: no attempt starts at or after it.
        """
        if isinstance(exc, _UNSENDABLE):
            # the request itself cannot leave (bad scheme, illegal header): no retry fixes it
            # h11 quotes the offending header (the key, escaped past the redactor's reach): not shown
            shown = t("an illegal header (is the API key one line?)") if isinstance(
                exc, httpx.LocalProtocolError) else str(exc)  # fmt: skip
            error: CogVideoError = ConfigError(
                t(
                    "the request cannot be sent ({kind}): {shown}; retrying cannot help",
                    kind=type(exc).__name__,
                    shown=shown,
                )
            )
        elif isinstance(exc, CogVideoError):
            error = exc
        else:
            said = str(exc).strip()  # some (a TLS or connect failure) say nothing at all
            kind = type(exc).__name__
            error = NetworkError(
                t("network problem talking to the API ({kind}): {said}", kind=kind, said=said)
                if said
                else t("network problem talking to the API ({kind})", kind=kind)
            )
            del said
        del exc  # a library's message may echo the key; keep it out of this frame's locals
        delay = state.next_delay(error)
        if delay is not None and deadline is not None and time.monotonic() + delay >= deadline:
            delay = None  # the call's time is up: this error is its answer
        if delay is None:
            if unknown and not error.outcome_known:
                error.outcome_unknown = True
            raise self._redact.error(error) from None
        for hook in (self.on_retry, *self.retry_listeners):
            if hook is not None:
                hook(error, delay)
        return delay

    def _next_poll(self, state: TaskState, deadline: float, poll_interval: float, timeout: float) -> bool:
        """True when the task is done; raises on FAIL or when the next poll would miss the deadline."""
        if self._finished(state):
            return True
        if time.monotonic() + poll_interval > deadline:
            seconds = f"{timeout:g}"
            raise WaitTimeoutError(
                t(
                    "task {task} still {status} after {seconds} s",
                    task=state.id,
                    status=state.status.value,
                    seconds=seconds,
                ),
                task_id=state.id,
            )
        return False

    def _finished(self, state: TaskState) -> bool:
        if state.status is TaskStatus.FAIL:
            raise self._redact.error(
                TaskFailedError(
                    t("task {task} failed: {reason}", task=state.id, reason=state.fail_reason),
                    task_id=state.id,
                    detail=state.raw,
                )
            )
        return state.status is TaskStatus.SUCCESS

    @staticmethod
    def _dest(dest: str | Path) -> Path:
        return Path(dest).expanduser()
