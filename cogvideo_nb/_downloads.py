"""Every result download in one place: stream to a temp file with one size cap, hash, rename.

The plain clients' ``download`` and the engine's saving of a finished job (video and cover at
once, fresh URLs when they expired) both go through here, so the cap, the content-type check,
the atomic rename and the ``.part`` clean-up are written once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx

from ._errors import ConfigError, DownloadError
from ._jobs import Job
from ._wire import Download

if TYPE_CHECKING:
    from ._client import AsyncClient

__all__ = [
    "MAX_COVER_BYTES", "MAX_VIDEO_BYTES", "FileSink", "accept", "cap_for", "clean_stale_parts",
    "file_stem", "save_results", "stream_async", "stream_sync", "unplayable", "verify", "web_url",
]  # fmt: skip

MAX_VIDEO_BYTES = 2 << 30  # 4K, 10 s, 60 fps stays far below this; anything larger is wrong
MAX_COVER_BYTES = 50 << 20
_STALE_PART_SECONDS = 6 * 3600.0
_BATCH = 1 << 20  # bytes gathered before one write, done off the loop
REFRESHES = 4  # fresh URLs asked for when links expire before we fetch them (one poll each)

_ACCEPT = {"video": ("video/",), "image": ("image/",)}
_NEUTRAL = ("application/octet-stream", "binary/octet-stream", "")


def cap_for(kind: str) -> int:
    return MAX_VIDEO_BYTES if kind == "video" else MAX_COVER_BYTES


def file_stem(job: Job) -> str:
    """A readable, unique, filesystem-safe name: prompt words plus the request id's tail."""
    words = re.sub(r"[^\w]+", "-", job.prompt.lower(), flags=re.UNICODE).strip("-")[:48].strip("-")
    return f"{words or 'video'}-{job.id[-8:]}"


def _local(dest: Path, exc: OSError) -> ConfigError:
    return ConfigError(f"cannot write {dest}: {exc.strerror or exc}")


def accept(response: httpx.Response, kind: str, max_bytes: int) -> str:
    """The response's content type, or the DownloadError that says why it is not our file.
    Pure, so the engine checks on its loop before reading a byte of the body."""
    if response.status_code in (403, 404, 410):
        raise DownloadError(
            f"result URL refused with HTTP {response.status_code}; it has probably expired",
            status_code=response.status_code,
            expired=True,
        )
    if response.status_code >= 400:
        code = response.status_code
        raise DownloadError(f"download failed with HTTP {code}", status_code=code)
    ctype: str = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (ctype.startswith(_ACCEPT[kind]) or ctype in _NEUTRAL):
        raise DownloadError(f"expected a {kind} file but the server sent {ctype!r}")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise DownloadError(f"file is {int(declared)} bytes, over the {max_bytes}-byte cap")
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
            raise DownloadError(f"file grew over the {self.max_bytes}-byte cap")

    def _open(self) -> IO[bytes]:
        if self._file is None:
            try:
                self.dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(
                    prefix=f".{self.dest.name}.{os.getpid()}.", suffix=".part", dir=self.dest.parent
                )
            except OSError as exc:
                raise _local(self.dest, exc) from None
            self._tmp, self._file = Path(tmp), os.fdopen(fd, "wb")
        return self._file

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        try:
            self._open().write(chunk)
        except OSError as exc:
            raise _local(self.dest, exc) from None
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
            raise _local(self.dest, exc) from None
        return Download(self.dest, self._hash.hexdigest(), self.size, self.content_type)

    def discard(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink(missing_ok=True)


def _late(url: str) -> DownloadError:
    """A download's deadline passed (it bounds the whole call, so no retry follows)."""
    return DownloadError(f"download of {url.split('?')[0]} passed its deadline", status_code=599)


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
                        raise _late(url)
            except BaseException:
                sink.discard()
                raise
            return sink.commit()
    except httpx.TimeoutException:
        if deadline is not None and time.monotonic() >= deadline:
            raise _late(url) from None
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


async def save_results(
    client: AsyncClient,
    job: Job,
    out_dir: Path,
    off: Callable[..., Awaitable[Any]],
) -> dict[str, Any]:
    """Save video and cover at once; ask for fresh URLs when they expired. Returns the fields
    of the SUCCEEDED move. The video is what matters: a cover that cannot be saved (or that the
    server named with an unusable URL) is a note; a video that is no video is a DownloadError."""
    done: dict[str, Download] = {}
    note = None
    video_url, cover_url = job.video_url, job.cover_url
    for attempt in range(REFRESHES + 1):
        if cover_url and not web_url(cover_url):
            note = f"the cover could not be fetched: the server sent an unusable URL {cover_url!r:.80}"
            cover_url = None
        try:
            await _fetch(client, job, out_dir, done, video_url, cover_url)
            break
        except DownloadError as exc:
            if exc.expired and attempt < REFRESHES:
                assert job.task_id is not None
                state = await client.get(job.task_id)  # the URLs died before we got there
                video_url, cover_url = state.video_url, state.cover_url
                continue
            if "video" not in done:
                raise
            note = f"the cover could not be saved: {exc.message}"
            break
    video, cover = done["video"], done.get("cover")
    problem = await off(unplayable, video.path)
    if problem is not None:
        await off(video.path.unlink, True)  # no file that looks like a result but is none
        raise DownloadError(problem)
    return dict(
        video_path=video.path, video_sha256=video.sha256, video_url=video_url, cover_url=cover_url,
        cover_path=cover.path if cover else None, cover_sha256=cover.sha256 if cover else None, note=note,
    )  # fmt: skip


def web_url(url: str) -> bool:
    """Only absolute http(s) URLs are fetched (not file:, javascript:, ftp: or relative ones)."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def unplayable(path: Path) -> str | None:
    """Why a saved video is no video (empty, cut short, not an MP4), or None when it is one.

    The one notion of "the result is on disk": a walk over the MP4's top-level boxes (a few
    small reads, not a decode) that must cover the file exactly and include the index (moov).
    """
    try:
        size = path.stat().st_size
        if size == 0:
            return "the server sent an empty video"
        kinds = set()
        with path.open("rb") as f:
            pos = 0
            while pos < size:
                f.seek(pos)
                head = f.read(16)
                length, kind = int.from_bytes(head[:4], "big"), head[4:8]
                if length == 1 and len(head) == 16:
                    length = int.from_bytes(head[8:16], "big")
                elif length == 0:
                    length = size - pos  # the last box runs to the end of the file
                if len(head) < 8 or length < 8 or pos + length > size or not _box_name(kind):
                    return "the video is cut short or is not an MP4 file"
                kinds.add(kind)
                pos += length
    except OSError as exc:
        return f"the saved video cannot be read: {exc.strerror or exc}"
    return None if b"moov" in kinds else "the video has no index (moov box): not a playable MP4"


def _box_name(kind: bytes) -> bool:
    return len(kind) == 4 and all(32 <= c < 127 for c in kind)


async def _fetch(
    client: AsyncClient,
    job: Job,
    out_dir: Path,
    done: dict[str, Download],
    video: str | None,
    cover: str | None,
) -> None:
    """Stream what ``done`` lacks, concurrently; keep what succeeded, raise the first failure."""
    if not video:
        raise DownloadError("the task succeeded without a video URL")
    stem = file_stem(job)
    wanted = {"video": (video, ".mp4"), "cover": (cover, ".png")}
    todo = [(kind, url, ext) for kind, (url, ext) in wanted.items() if url and kind not in done]
    results = await asyncio.gather(
        *(
            client.download(url, out_dir / f"{stem}{ext}", kind="video" if kind == "video" else "image")
            for kind, url, ext in todo
        ),
        return_exceptions=True,
    )
    failures: list[BaseException] = []
    for (kind, *_), result in zip(todo, results, strict=True):
        if isinstance(result, Download):
            done[kind] = result
        else:
            failures.append(result)
    local = [f for f in failures if isinstance(f, (ConfigError, OSError))]
    if local or failures:
        raise (local or failures)[0]


def clean_stale_parts(folder: Path) -> int:
    """Remove ``.part`` files left by a killed process (dead pid on this host, or very old)."""
    from ._ledger_rows import pid_alive  # the pid check lives with ownership

    removed = 0
    with contextlib.suppress(OSError):
        for part in folder.glob(".*.part"):
            m = re.search(r"\.(\d+)\.[^.]*\.part$", part.name)
            try:
                dead = m is not None and not pid_alive(int(m[1]))
                old = time.time() - part.stat().st_mtime > _STALE_PART_SECONDS
                if dead or old:
                    part.unlink()
                    removed += 1
            except OSError:
                continue
    return removed


def verify(path: Path | None, sha256: str | None) -> bool:
    """True when the file is there and still matches the hash in the ledger."""
    if path is None or sha256 is None or not path.is_file():
        return False
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest() == sha256
