"""Sync and async API clients: the shared logic is ``_client_base.BaseClient``; these two
repeat only the I/O.

With no API key and no base URL, the client talks to the bundled emulator (wired in by
``_local``), started on first use in a background process, and every answer it returns says
``emulated=True``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ._client_base import BaseClient, Sent, grow
from ._config import Secret, hide_key
from ._errors import CogVideoError, NetworkError, WaitTimeoutError
from ._files import cap_for, past_deadline, stream_async, stream_sync
from ._i18n import t
from ._request import VideoRequest
from ._retry import RetryPolicy, RetryState
from ._wire import Download, TaskState, parse_task

__all__ = ["AsyncClient", "Client"]

T = TypeVar("T")


class Client(BaseClient):
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
        api_key = hide_key(api_key)  # first: a refused key must not show in this frame's locals
        super().__init__(
            api_key, base_url, timeout=timeout, retry=retry, seed=seed, download_timeout=download_timeout,
            provider=provider,
        )  # fmt: skip
        self._http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)
        self._sleep = sleep

    def _call(
        self, attempt: Callable[[], T], *, sent: Sent | None = None, deadline: float | None = None
    ) -> T:
        """Retries around ``attempt``; none starts once ``deadline`` (monotonic) is near.
        ``sent``: a submit's, so its final error says whether the outcome is unknown."""
        state = RetryState(self.retry, self._rng)
        reached = False
        while True:
            if sent is not None:
                sent.start()
            try:
                return attempt()
            except (httpx.HTTPError, httpx.InvalidURL, CogVideoError) as exc:
                reached = reached or (sent is not None and sent.reached(exc))
                delay = self._retry_delay(state, exc, unknown=reached, deadline=deadline)
            self._sleep(delay)

    def _request(
        self, args: dict[str, Any], deadline: float | None = None, *, sent: Sent | None = None
    ) -> httpx.Response:
        """One API request whose whole answer (a trickled body too) must come by the deadline;
        ``sent`` learns whether the request left."""
        limit = time.monotonic() + self.timeout
        limit = min(limit, deadline) if deadline is not None else limit
        body = bytearray()
        # each connect and read waits at most what is left, so a silent server is cut too
        left = httpx.Timeout(max(limit - time.monotonic(), 0.001))
        traced = {"trace": sent.trace} if sent is not None else None
        with self._http.stream(**args, extensions=traced, timeout=left) as response:
            for chunk in response.iter_bytes():
                grow(body, chunk)
                if time.monotonic() > limit:
                    seconds = f"{self.timeout:g}"
                    raise NetworkError(t("no complete answer within {seconds} s", seconds=seconds))
        return self._redact.answer(response, body)

    def submit(self, request: VideoRequest | str | None = None, **options: Any) -> TaskState:
        """Send one task; retries reuse its request_id so the server cannot make two."""
        req = self._as_request(request, options)
        args = self._submit_args(req)
        sent = Sent()
        return self._call(lambda: parse_task(self._request(args, sent=sent), submit=True), sent=sent)

    def get(self, task_id: str, *, _deadline: float | None = None) -> TaskState:
        """The task's state, asked once (with retries for passing faults)."""
        args = self._poll_args(task_id)
        return self._call(lambda: parse_task(self._request(args, _deadline), task_id=task_id))

    def post(self, path: str, body: dict[str, Any], parse: Callable[[httpx.Response], T]) -> T:
        """POST to another endpoint of the same API (``/chat/completions``) with this client's
        auth, retries, whole-call deadline, size cap and scrubbing; ``parse`` reads the answer."""
        args = self._post_args(path, body)
        deadline = time.monotonic() + self.timeout
        return self._call(lambda: parse(self._request(args, deadline)), deadline=deadline)

    def wait(self, task_id: str, *, timeout: float = 600.0, poll_interval: float = 5.0) -> TaskState:
        """Poll until SUCCESS; FAIL raises TaskFailedError, the deadline WaitTimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                state = self.get(task_id, _deadline=deadline)
            except CogVideoError as exc:
                if exc.retryable and time.monotonic() >= deadline:
                    seconds = f"{timeout:g}"
                    raise WaitTimeoutError(
                        t("task {task} not done after {seconds} s", task=task_id, seconds=seconds),
                        task_id=task_id,
                    ) from None
                raise
            if self._next_poll(state, deadline, poll_interval, timeout):
                return state
            self._sleep(poll_interval)

    def download(
        self, url: str, dest: str | Path, *, kind: str = "video", max_bytes: int | None = None
    ) -> Download:
        """Stream a result file to ``dest`` atomically, the whole call (retries included) within
        ``download_timeout``. No Authorization header leaves for it."""
        path = self._dest(dest)
        cap = max_bytes if max_bytes is not None else cap_for(kind)
        deadline = time.monotonic() + self.download_timeout

        def attempt() -> Download:
            return stream_sync(self._http, url, path, kind=kind, max_bytes=cap, deadline=deadline)

        return self._call(attempt, deadline=deadline)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(BaseClient):
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
        api_key = hide_key(api_key)  # first: a refused key must not show in this frame's locals
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
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        sent: Sent | None = None,
        budget: float | None = None,
        deadline: float | None = None,
        late: Callable[[], CogVideoError] | None = None,
    ) -> T:
        """Retries around ``attempt``; each attempt, body included, is cut at ``budget`` seconds
        and at ``deadline`` (monotonic), which bounds the whole call. ``late``: the error an
        attempt cut short becomes (by default a NetworkError naming the time it had).
        ``sent``: a submit's, so its final error says whether the outcome is unknown."""
        state = RetryState(self.retry, self._rng)
        reached = False
        while True:
            limit = budget or self.timeout
            if deadline is not None:
                limit = min(limit, deadline - time.monotonic())
            if sent is not None:
                sent.start()
            try:
                return await asyncio.wait_for(attempt(), max(limit, 0.0))
            except asyncio.TimeoutError:
                shown = f"{limit:g}"
                cut = (
                    late()
                    if late is not None
                    else NetworkError(t("no complete answer within {seconds} s", seconds=shown))
                )
                reached = reached or (sent is not None and sent.reached(cut))
                delay = self._retry_delay(state, cut, unknown=reached, deadline=deadline)
            except (httpx.HTTPError, httpx.InvalidURL, CogVideoError) as exc:
                reached = reached or (sent is not None and sent.reached(exc))
                delay = self._retry_delay(state, exc, unknown=reached, deadline=deadline)
            await self._sleep(delay)

    async def _request(self, args: dict[str, Any], *, sent: Sent | None = None) -> httpx.Response:
        """One API request (the caller's ``wait_for`` bounds it); ``sent`` learns whether it left."""
        body = bytearray()
        traced = {"trace": sent.atrace} if sent is not None else None
        async with self._http.stream(**args, extensions=traced) as response:
            async for chunk in response.aiter_bytes():
                grow(body, chunk)
        return self._redact.answer(response, body)

    async def _base(self) -> None:
        """Start the emulator off the loop: spawning it blocks for a moment."""
        if self._base_url is None:
            await asyncio.get_running_loop().run_in_executor(None, lambda: self.base_url)

    async def submit(self, request: VideoRequest | str | None = None, **options: Any) -> TaskState:
        req = self._as_request(request, options)
        await self._base()
        args = self._submit_args(req)
        sent = Sent()

        async def attempt() -> TaskState:
            return parse_task(await self._request(args, sent=sent), submit=True)

        return await self._call(attempt, sent=sent)

    async def get(self, task_id: str) -> TaskState:
        await self._base()
        args = self._poll_args(task_id)

        async def attempt() -> TaskState:
            return parse_task(await self._request(args), task_id=task_id)

        return await self._call(attempt)

    async def post(self, path: str, body: dict[str, Any], parse: Callable[[httpx.Response], T]) -> T:
        """:meth:`Client.post` as a coroutine."""
        deadline = time.monotonic() + self.timeout
        await self._base()
        args = self._post_args(path, body)

        async def attempt() -> T:
            return parse(await self._request(args))

        return await self._call(attempt, deadline=deadline)

    async def wait(self, task_id: str, *, timeout: float = 600.0, poll_interval: float = 5.0) -> TaskState:
        """Poll until SUCCESS under one deadline that also cuts a slow answer short."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                state = await asyncio.wait_for(self.get(task_id), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                seconds = f"{timeout:g}"
                raise WaitTimeoutError(
                    t("task {task} not done after {seconds} s", task=task_id, seconds=seconds),
                    task_id=task_id,
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
        deadline = time.monotonic() + self.download_timeout

        async def attempt() -> Download:
            return await stream_async(self._files, url, path, kind=kind, max_bytes=cap)

        return await self._call(
            attempt, budget=self.download_timeout, deadline=deadline, late=lambda: past_deadline(url)
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._files.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
