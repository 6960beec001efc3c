"""Sync and async API clients. Logic lives in ``_BaseClient``; the two subclasses repeat only I/O.

With no API key and no base URL, the client talks to the bundled emulator, started on first use
in a background process, and every answer it returns says ``emulated=True``.
"""

from __future__ import annotations

import asyncio
import random
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ._config import Secret, Settings, resolve_settings
from ._downloads import cap_for, stream_async, stream_sync
from ._errors import (
    CogVideoError,
    ConfigError,
    NetworkError,
    ProtocolError,
    ServerError,
    TaskFailedError,
    WaitTimeoutError,
)
from ._request import VideoRequest, build_request
from ._retry import RetryPolicy, RetryState
from ._wire import MAX_ANSWER_BYTES, Download, TaskState, TaskStatus, parse_task

__all__ = ["AsyncClient", "Client"]

T = TypeVar("T")
_EMULATOR_TOKEN = "emulator-local-token"  # noqa: S105 (not a secret: the emulator takes any)
# httpx errors raised before anything is sent, or by a redirect loop: permanent, never retried.
_UNSENDABLE = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.TooManyRedirects, httpx.InvalidURL)
RetryHook = Callable[[CogVideoError, float], None]
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_HOP_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


def _may_have_reached(exc: BaseException) -> bool:
    """Could this failed attempt have reached the server (so a submit may have made a task)?"""
    if isinstance(exc, _NOT_SENT):
        return False
    if isinstance(exc, (httpx.HTTPError, asyncio.TimeoutError, ProtocolError, ServerError)):
        return True
    return isinstance(exc, NetworkError)


def _grow(body: bytearray, chunk: bytes) -> None:
    body.extend(chunk)
    if len(body) > MAX_ANSWER_BYTES:  # counted after decompression: a gzip bomb stops here
        raise ProtocolError(f"the server's answer is over {MAX_ANSWER_BYTES} bytes; not reading it")


class _BearerAuth(httpx.Auth):
    """Adds the key at send time, so no frame of ours holds it in a local a traceback could show.

    Passed per request, never set on the httpx client: result files live on other hosts and
    must never receive the key.
    """

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = "Bearer " + self._token()
        yield request

    def __repr__(self) -> str:
        return "_BearerAuth('********')"


class _BaseClient:
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
        self._settings: Settings = resolve_settings(api_key=api_key, base_url=base_url, provider=provider)
        self._base_url: str | None = self._settings.base_url
        self.timeout = timeout  # bounds one whole API request, body included, however slow
        self.download_timeout = download_timeout  # the same for one result file
        self.retry = retry or RetryPolicy()
        self._rng = random.Random(seed)
        self._bearer = _BearerAuth(self._token)
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
            from .emulator._process import ensure_background  # started only when first needed

            self._base_url = ensure_background().rstrip("/")
        return self._base_url

    def _token(self) -> str:
        key = self._settings.api_key
        if key is None and not self.emulated:
            platform = self._settings.platform
            raise ConfigError(
                f"no API key for {self._base_url}: set {platform.key_env} or pass api_key=... "
                f"(a {platform.title} key: a key works only on its own platform)"
            )
        return key.reveal() if key is not None else _EMULATOR_TOKEN

    def _scrub(self, error: CogVideoError) -> CogVideoError:
        """Remove the key from anything a server or library echoed back, before anyone sees it."""
        key = self._settings.api_key
        if key is not None and key.reveal() and key.reveal() in str(error.args):
            error.message = error.message.replace(key.reveal(), "********")
            error.args = (error.message,)
        return error

    def _scrub_body(self, body: bytes) -> bytes:
        """Every string a server sends passes here before it is parsed, stored or shown."""
        key = self._settings.api_key
        secret = key.reveal().encode() if key is not None else b""
        # Real keys are long and random; replacing a 2-letter test key would mangle the JSON.
        if len(secret) < 8 or secret not in body:
            return body
        return body.replace(secret, b"********")

    def _answer(self, response: httpx.Response, body: bytearray) -> httpx.Response:
        """The answer rebuilt from its capped, decoded, scrubbed body."""
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_HEADERS]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=self._scrub_body(bytes(body)),
            request=response.request,
        )

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

    def _poll_args(self, task_id: str) -> dict[str, Any]:
        if not isinstance(task_id, str) or not task_id or "/" in task_id or task_id.strip(".") == "":
            raise ValueError(f"bad task id {task_id!r}")
        # Percent-encoded, dots included: an id is one path segment, never '..', '?' or '#'.
        quoted = urllib.parse.quote(task_id, safe="").replace(".", "%2E")
        return {
            "method": "GET",
            "url": f"{self.base_url}/async-result/{quoted}",
            "auth": self._bearer,
            "headers": dict(self._settings.platform.headers),
        }

    def _retry_delay(self, state: RetryState, exc: BaseException, *, unknown: bool = False) -> float:
        """Seconds to wait before trying again, or raise the (scrubbed) error: the shared decision.

        ``unknown``: an earlier attempt of this submit may have reached the server, so a final
        error says the outcome is unknown rather than that nothing happened.
        """
        if isinstance(exc, _UNSENDABLE):
            # the request itself cannot leave (bad scheme, illegal header): no retry fixes it
            # h11 quotes the offending header (the key, escaped past _scrub's reach): not shown
            shown = "an illegal header (is the API key one line?)" if isinstance(
                exc, httpx.LocalProtocolError) else str(exc)  # fmt: skip
            error: CogVideoError = ConfigError(
                f"the request cannot be sent ({type(exc).__name__}): {shown}; retrying cannot help"
            )
        elif isinstance(exc, CogVideoError):
            error = exc
        elif isinstance(exc, asyncio.TimeoutError):
            error = NetworkError(f"no complete answer within {self.timeout:g} s")
        else:
            error = NetworkError(f"network problem talking to the API ({type(exc).__name__}): {exc}")
        del exc  # a library's message may echo the key; keep it out of this frame's locals
        delay = state.next_delay(error)
        if delay is None:
            if unknown:
                error.outcome_unknown = True
            raise self._scrub(error) from None
        for hook in (self.on_retry, *self.retry_listeners):
            if hook is not None:
                hook(error, delay)
        return delay

    def _next_poll(self, state: TaskState, deadline: float, poll_interval: float, timeout: float) -> bool:
        """True when the task is done; raises on FAIL or when the next poll would miss the deadline."""
        if self._finished(state):
            return True
        if time.monotonic() + poll_interval > deadline:
            raise WaitTimeoutError(
                f"task {state.id} still {state.status.value} after {timeout:g} s", task_id=state.id
            )
        return False

    @staticmethod
    def _finished(state: TaskState) -> bool:
        if state.status is TaskStatus.FAIL:
            raise TaskFailedError(
                f"task {state.id} failed: {state.fail_reason}", task_id=state.id, detail=state.raw
            )
        return state.status is TaskStatus.SUCCESS

    @staticmethod
    def _dest(dest: str | Path) -> Path:
        return Path(dest).expanduser()


class Client(_BaseClient):
    """Blocking client, for scripts and threads."""

    def __init__(
        self,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
        download_timeout: float = 600.0,
        provider: str | None = None,
    ) -> None:
        super().__init__(
            api_key, base_url, timeout=timeout, retry=retry, seed=seed, download_timeout=download_timeout,
            provider=provider,
        )  # fmt: skip
        self._http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)
        self._sleep = sleep

    def _call(self, attempt: Callable[[], T], *, submit: bool = False) -> T:
        state = RetryState(self.retry, self._rng)
        reached = False
        while True:
            try:
                return attempt()
            except (httpx.HTTPError, httpx.InvalidURL, CogVideoError) as exc:
                reached = reached or (submit and _may_have_reached(exc))
                delay = self._retry_delay(state, exc, unknown=reached)
            self._sleep(delay)

    def _request(self, args: dict[str, Any], deadline: float | None = None) -> httpx.Response:
        """One API request whose whole answer (a trickled body too) must come by the deadline."""
        limit = time.monotonic() + self.timeout
        limit = min(limit, deadline) if deadline is not None else limit
        body = bytearray()
        with self._http.stream(**args) as response:
            for chunk in response.iter_bytes():
                _grow(body, chunk)
                if time.monotonic() > limit:
                    raise NetworkError(f"no complete answer within {self.timeout:g} s")
        return self._answer(response, body)

    def submit(self, request: VideoRequest | str | None = None, **options: Any) -> TaskState:
        """Send one task; retries reuse its request_id so the server cannot make two."""
        req = self._as_request(request, options)
        args = self._submit_args(req)
        return self._call(lambda: parse_task(self._request(args), submit=True), submit=True)

    def get(self, task_id: str, *, _deadline: float | None = None) -> TaskState:
        """The task's state, asked once (with retries for passing faults)."""
        args = self._poll_args(task_id)
        return self._call(lambda: parse_task(self._request(args, _deadline), task_id=task_id))

    def wait(self, task_id: str, *, timeout: float = 600.0, poll_interval: float = 5.0) -> TaskState:
        """Poll until SUCCESS; FAIL raises TaskFailedError, the deadline WaitTimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                state = self.get(task_id, _deadline=deadline)
            except CogVideoError as exc:
                if exc.retryable and time.monotonic() >= deadline:
                    raise WaitTimeoutError(
                        f"task {task_id} not done after {timeout:g} s", task_id=task_id
                    ) from None
                raise
            if self._next_poll(state, deadline, poll_interval, timeout):
                return state
            self._sleep(poll_interval)

    def download(
        self, url: str, dest: str | Path, *, kind: str = "video", max_bytes: int | None = None
    ) -> Download:
        """Stream a result file to ``dest`` atomically. No Authorization header leaves for it."""
        path = self._dest(dest)
        cap = max_bytes if max_bytes is not None else cap_for(kind)

        def attempt() -> Download:
            deadline = time.monotonic() + self.download_timeout
            return stream_sync(self._http, url, path, kind=kind, max_bytes=cap, deadline=deadline)

        return self._call(attempt)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_BaseClient):
    """Asyncio client: the job engine runs many of these calls at once on one loop."""

    def __init__(
        self,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        seed: int | None = None,
        download_timeout: float = 600.0,
        provider: str | None = None,
    ) -> None:
        super().__init__(
            api_key, base_url, timeout=timeout, retry=retry, seed=seed, download_timeout=download_timeout,
            provider=provider,
        )  # fmt: skip
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=True)
        # Result files come from another origin: their own pool, so each API request checks only
        # the API's idle connections (httpcore looks at every idle one per request; bench/scale.py)
        self._files = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=True)
        self._sleep = sleep

    async def _call(
        self, attempt: Callable[[], Awaitable[T]], *, submit: bool = False, budget: float | None = None
    ) -> T:
        """Retries around ``attempt``; each attempt, body included, is cut at ``budget`` seconds."""
        state = RetryState(self.retry, self._rng)
        reached = False
        while True:
            try:
                return await asyncio.wait_for(attempt(), budget or self.timeout)
            except (httpx.HTTPError, httpx.InvalidURL, CogVideoError, asyncio.TimeoutError) as exc:
                reached = reached or (submit and _may_have_reached(exc))
                delay = self._retry_delay(state, exc, unknown=reached)
            await self._sleep(delay)

    async def _request(self, args: dict[str, Any]) -> httpx.Response:
        body = bytearray()
        async with self._http.stream(**args) as response:
            async for chunk in response.aiter_bytes():
                _grow(body, chunk)
        return self._answer(response, body)

    async def _base(self) -> None:
        """Start the emulator off the loop: spawning it blocks for a moment."""
        if self._base_url is None:
            await asyncio.get_running_loop().run_in_executor(None, lambda: self.base_url)

    async def submit(self, request: VideoRequest | str | None = None, **options: Any) -> TaskState:
        req = self._as_request(request, options)
        await self._base()
        args = self._submit_args(req)

        async def attempt() -> TaskState:
            return parse_task(await self._request(args), submit=True)

        return await self._call(attempt, submit=True)

    async def get(self, task_id: str) -> TaskState:
        await self._base()
        args = self._poll_args(task_id)

        async def attempt() -> TaskState:
            return parse_task(await self._request(args), task_id=task_id)

        return await self._call(attempt)

    async def wait(self, task_id: str, *, timeout: float = 600.0, poll_interval: float = 5.0) -> TaskState:
        """Poll until SUCCESS under one deadline that also cuts a slow answer short."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                state = await asyncio.wait_for(self.get(task_id), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                raise WaitTimeoutError(
                    f"task {task_id} not done after {timeout:g} s", task_id=task_id
                ) from None
            if self._next_poll(state, deadline, poll_interval, timeout):
                return state
            await self._sleep(poll_interval)

    async def download(
        self, url: str, dest: str | Path, *, kind: str = "video", max_bytes: int | None = None
    ) -> Download:
        """Stream a result file to ``dest`` atomically, the whole file within ``download_timeout``."""
        path = self._dest(dest)
        cap = max_bytes if max_bytes is not None else cap_for(kind)

        async def attempt() -> Download:
            return await stream_async(self._files, url, path, kind=kind, max_bytes=cap)

        return await self._call(attempt, budget=self.download_timeout)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._files.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
