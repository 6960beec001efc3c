"""Sync and async API clients. Logic lives in ``_BaseClient``; the two subclasses repeat only I/O.

With no API key and no base URL, the client talks to the bundled emulator, started on first use
in a background process, and every answer it returns says ``emulated=True``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ._config import Secret, Settings, resolve_settings
from ._errors import CogVideoError, ConfigError, NetworkError, TaskFailedError, WaitTimeoutError
from ._request import VideoRequest, build_request
from ._retry import RetryPolicy, RetryState
from ._wire import Download, FileSink, TaskState, TaskStatus, parse_task

__all__ = ["AsyncClient", "Client"]

T = TypeVar("T")
_EMULATOR_TOKEN = "emulator-local-token"  # noqa: S105 (not a secret: the emulator takes any)
DEFAULT_MAX_DOWNLOAD = 1 << 30
# httpx errors raised before anything is sent, or by a redirect loop: permanent, never retried.
_UNSENDABLE = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.TooManyRedirects, httpx.InvalidURL)


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
    ) -> None:
        self._settings: Settings = resolve_settings(api_key=api_key, base_url=base_url, provider=provider)
        self._base_url: str | None = self._settings.base_url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._rng = random.Random(seed)
        self._bearer = _BearerAuth(self._token)
        # Told of every retry decision, so a scheduler can slow down on 429 without re-parsing.
        self.on_retry: Callable[[CogVideoError, float], None] | None = None

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
        if not task_id or "/" in task_id:
            raise ValueError(f"bad task id {task_id!r}")
        return {
            "method": "GET",
            "url": f"{self.base_url}/async-result/{task_id}",
            "auth": self._bearer,
            "headers": dict(self._settings.platform.headers),
        }

    def _retry_delay(
        self, state: RetryState, exc: httpx.HTTPError | httpx.InvalidURL | CogVideoError
    ) -> float:
        """Seconds to wait before trying again, or raise the (scrubbed) error: the shared decision."""
        if isinstance(exc, _UNSENDABLE):
            # the request itself cannot leave (bad scheme, illegal header): no retry fixes it
            # h11 quotes the offending header (the key, escaped past _scrub's reach): not shown
            shown = "an illegal header (is the API key one line?)" if isinstance(
                exc, httpx.LocalProtocolError) else str(exc)  # fmt: skip
            error: CogVideoError = ConfigError(
                f"the request cannot be sent ({type(exc).__name__}): {shown}; retrying cannot help"
            )
        elif isinstance(exc, httpx.HTTPError):
            error = NetworkError(f"network problem talking to the API ({type(exc).__name__}): {exc}")
        else:
            error = exc
        del exc  # a library's message may echo the key; keep it out of this frame's locals
        delay = state.next_delay(error)
        if delay is None:
            raise self._scrub(error) from None
        if self.on_retry is not None:
            self.on_retry(error, delay)
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
        provider: str | None = None,
    ) -> None:
        super().__init__(api_key, base_url, timeout=timeout, retry=retry, seed=seed, provider=provider)
        self._http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)
        self._sleep = sleep

    def _call(self, attempt: Callable[[], T]) -> T:
        state = RetryState(self.retry, self._rng)
        while True:
            try:
                return attempt()
            except (httpx.HTTPError, httpx.InvalidURL, CogVideoError) as exc:
                delay = self._retry_delay(state, exc)
            self._sleep(delay)

    def submit(self, request: VideoRequest | str | None = None, **options: Any) -> TaskState:
        """Send one task; retries reuse its request_id so the server cannot make two."""
        req = self._as_request(request, options)
        args = self._submit_args(req)
        return self._call(lambda: parse_task(self._http.request(**args), submit=True))

    def get(self, task_id: str) -> TaskState:
        """The task's state, asked once (with retries for passing faults)."""
        args = self._poll_args(task_id)
        return self._call(lambda: parse_task(self._http.request(**args), task_id=task_id))

    def wait(self, task_id: str, *, timeout: float = 600.0, poll_interval: float = 5.0) -> TaskState:
        """Poll until SUCCESS; FAIL raises TaskFailedError, the deadline WaitTimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.get(task_id)
            if self._next_poll(state, deadline, poll_interval, timeout):
                return state
            self._sleep(poll_interval)

    def download(
        self,
        url: str,
        dest: str | Path,
        *,
        kind: str = "video",
        max_bytes: int = DEFAULT_MAX_DOWNLOAD,
    ) -> Download:
        """Stream a result file to ``dest`` atomically. No Authorization header leaves for it."""
        path = self._dest(dest)

        def attempt() -> Download:
            with self._http.stream("GET", url) as response:
                sink = FileSink(response, path, kind=kind, max_bytes=max_bytes)
                try:
                    for chunk in response.iter_bytes():
                        sink.write(chunk)
                except BaseException:
                    sink.discard()
                    raise
                return sink.commit()

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
        provider: str | None = None,
    ) -> None:
        super().__init__(api_key, base_url, timeout=timeout, retry=retry, seed=seed, provider=provider)
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=True)
        self._sleep = sleep

    async def _call(self, attempt: Callable[[], Awaitable[T]]) -> T:
        state = RetryState(self.retry, self._rng)
        while True:
            try:
                return await attempt()
            except (httpx.HTTPError, httpx.InvalidURL, CogVideoError) as exc:
                delay = self._retry_delay(state, exc)
            await self._sleep(delay)

    async def _base(self) -> None:
        """Start the emulator off the loop: spawning it blocks for a moment."""
        if self._base_url is None:
            await asyncio.get_running_loop().run_in_executor(None, lambda: self.base_url)

    async def submit(self, request: VideoRequest | str | None = None, **options: Any) -> TaskState:
        req = self._as_request(request, options)
        await self._base()
        args = self._submit_args(req)

        async def attempt() -> TaskState:
            return parse_task(await self._http.request(**args), submit=True)

        return await self._call(attempt)

    async def get(self, task_id: str) -> TaskState:
        await self._base()
        args = self._poll_args(task_id)

        async def attempt() -> TaskState:
            return parse_task(await self._http.request(**args), task_id=task_id)

        return await self._call(attempt)

    async def wait(self, task_id: str, *, timeout: float = 600.0, poll_interval: float = 5.0) -> TaskState:
        deadline = time.monotonic() + timeout
        while True:
            state = await self.get(task_id)
            if self._next_poll(state, deadline, poll_interval, timeout):
                return state
            await self._sleep(poll_interval)

    async def download(
        self,
        url: str,
        dest: str | Path,
        *,
        kind: str = "video",
        max_bytes: int = DEFAULT_MAX_DOWNLOAD,
    ) -> Download:
        path = self._dest(dest)

        async def attempt() -> Download:
            async with self._http.stream("GET", url) as response:
                sink = FileSink(response, path, kind=kind, max_bytes=max_bytes)
                try:
                    async for chunk in response.aiter_bytes():
                        sink.write(chunk)
                except BaseException:
                    sink.discard()
                    raise
                return sink.commit()

        return await self._call(attempt)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
