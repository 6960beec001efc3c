"""A result file, streamed to disk: one size cap, a content-type check, sha256, atomic rename.

The client's ``download`` is built on this, and so is every file the engine saves (through the
client). It sits in the client layer, under both, so the engine's download policy
(``_downloads``: which files, fresh URLs, is it playable) depends on the client and never the
reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import httpx

from ._errors import ConfigError, DownloadError
from ._i18n import t
from ._wire import Download

__all__ = [
    "MAX_COVER_BYTES", "MAX_VIDEO_BYTES", "FileSink", "accept", "cap_for", "past_deadline", "stream_async",
    "stream_sync",
]  # fmt: skip

MAX_VIDEO_BYTES = 2 << 30  # 4K, 10 s, 60 fps stays far below this; anything larger is wrong
MAX_COVER_BYTES = 50 << 20
_BATCH = 1 << 20  # bytes gathered before one write, done off the loop

_ACCEPT = {"video": ("video/",), "image": ("image/",)}
_NEUTRAL = ("application/octet-stream", "binary/octet-stream", "")


def cap_for(kind: str) -> int:
    return MAX_VIDEO_BYTES if kind == "video" else MAX_COVER_BYTES


def _unwritable(dest: Path, exc: OSError) -> ConfigError:
    return ConfigError(t("cannot write {path}: {reason}", path=dest, reason=exc.strerror or exc))


def accept(response: httpx.Response, kind: str, max_bytes: int) -> str:
    """The response's content type, or the DownloadError that says why it is not our file.
    Pure, so the engine checks on its loop before reading a byte of the body."""
    if response.status_code in (403, 404, 410):
        raise DownloadError(
            t("result URL refused with HTTP {code}; it has probably expired", code=response.status_code),
            status_code=response.status_code,
            expired=True,
        )
    if response.status_code >= 400:
        code = response.status_code
        raise DownloadError(t("download failed with HTTP {code}", code=code), status_code=code)
    ctype: str = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (ctype.startswith(_ACCEPT[kind]) or ctype in _NEUTRAL):
        sent = repr(ctype)
        raise DownloadError(
            t("expected a video file but the server sent {sent}", sent=sent)
            if kind == "video"
            else t("expected an image file but the server sent {sent}", sent=sent)
        )
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise DownloadError(t("file is {n} bytes, over the {cap}-byte cap", n=int(declared), cap=max_bytes))
    return ctype


class FileSink:
    """Streams one response into ``dest`` atomically: temp file, size cap, sha256, then rename.

    The temp file is made by the first write, so a small file costs the engine one worker-thread
    hop (open, write, commit) instead of three. The temp name carries our pid, so a clean-up on
    start never removes a live process's file. Local write failures are ConfigErrors naming the
    file (retrying the download cannot help).
    """

    def __init__(self, response: httpx.Response, dest: Path, *, kind: str, max_bytes: int) -> None:
        self.content_type = accept(response, kind, max_bytes)
        self.dest, self.max_bytes = dest, max_bytes
        self.size = 0  # bytes received (counted against the cap)
        self.written = 0
        self._hash = hashlib.sha256()
        self._file: IO[bytes] | None = None
        self._tmp: Path | None = None

    def count(self, chunk: bytes) -> None:
        """Account for a chunk before it is written: the cap holds for decoded bytes too."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise DownloadError(t("file grew over the {cap}-byte cap", cap=self.max_bytes))

    def _open(self) -> IO[bytes]:
        if self._file is None:
            try:
                self.dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(
                    prefix=f".{self.dest.name}.{os.getpid()}.", suffix=".part", dir=self.dest.parent
                )
            except OSError as exc:
                raise _unwritable(self.dest, exc) from None
            self._tmp, self._file = Path(tmp), os.fdopen(fd, "wb")
        return self._file

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        try:
            self._open().write(chunk)
        except OSError as exc:
            raise _unwritable(self.dest, exc) from None
        self.written += len(chunk)

    def write_all(self, chunks: list[bytes]) -> None:
        """A batch joined here, in the worker thread, not on the loop."""
        self.write(b"".join(chunks))

    def commit(self, rest: list[bytes] | None = None) -> Download:
        """Write ``rest``, then fsync and rename: the last hop of a download."""
        if rest:
            self.write_all(rest)
        file, tmp = self._open(), self._tmp  # an empty body still makes its (empty) file
        assert tmp is not None
        try:
            file.flush()
            os.fsync(file.fileno())
            file.close()
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
            os.replace(tmp, self.dest)
        except OSError as exc:
            self.discard()
            raise _unwritable(self.dest, exc) from None
        return Download(self.dest, self._hash.hexdigest(), self.size, self.content_type)

    def discard(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink(missing_ok=True)


def past_deadline(url: str) -> DownloadError:
    """A download's deadline passed (it bounds the whole call, so no retry follows)."""
    return DownloadError(t("download of {url} passed its deadline", url=url.split("?")[0]), status_code=599)


def stream_sync(
    http: httpx.Client, url: str, dest: Path, *, kind: str, max_bytes: int, deadline: float | None = None
) -> Download:
    """One attempt, blocking; ``deadline`` (monotonic) bounds the whole body, however slow:
    each connect and read waits at most what is left of it, and each chunk is checked."""
    timeout: Any = httpx.USE_CLIENT_DEFAULT
    if deadline is not None:
        timeout = httpx.Timeout(max(deadline - time.monotonic(), 0.001))
    try:
        with http.stream("GET", url, timeout=timeout) as response:
            sink = FileSink(response, dest, kind=kind, max_bytes=max_bytes)
            try:
                for chunk in response.iter_bytes():
                    sink.count(chunk)
                    sink.write(chunk)
                    if deadline is not None and time.monotonic() > deadline:
                        raise past_deadline(url)
            except BaseException:
                sink.discard()
                raise
            return sink.commit()
    except httpx.TimeoutException:
        if deadline is not None and time.monotonic() >= deadline:
            raise past_deadline(url) from None
        raise


async def stream_async(
    http: httpx.AsyncClient, url: str, dest: Path, *, kind: str, max_bytes: int
) -> Download:
    """One attempt on the loop; disk writes go to a worker thread in batches.

    The caller bounds it with ``asyncio.wait_for``, which also cuts a trickling body.
    """
    loop = asyncio.get_running_loop()
    async with http.stream("GET", url) as response:
        sink = FileSink(response, dest, kind=kind, max_bytes=max_bytes)  # no I/O until a write
        try:
            batch: list[bytes] = []
            async for chunk in response.aiter_bytes():
                sink.count(chunk)
                batch.append(chunk)
                if sink.size - sink.written >= _BATCH:
                    await loop.run_in_executor(None, sink.write_all, batch)
                    batch = []
            return await loop.run_in_executor(None, sink.commit, batch)
        except BaseException:
            sink.discard()
            raise
