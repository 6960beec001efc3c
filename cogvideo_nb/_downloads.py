"""Saving a finished job's results: video and cover at once, fresh URLs when links expired, the
video checked to be a playable MP4, stale ``.part`` files cleaned, saved files verified.

This is the engine's download policy. The streaming itself (cap, content type, hash, atomic
rename) is the client's (``_files``), reached through ``client.download``: one way to write
a result file, and the engine depends on the client, never the reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import ConfigError, DownloadError
from ._i18n import t
from ._jobs import Job
from ._owners import pid_alive
from ._wire import Download

if TYPE_CHECKING:
    from ._client import AsyncClient

__all__ = ["clean_stale_parts", "file_stem", "save_results", "unplayable", "verify", "web_url"]

_STALE_PART_SECONDS = 6 * 3600.0
REFRESHES = 4  # fresh URLs asked for when links expire before we fetch them (one poll each)


def file_stem(job: Job) -> str:
    """A readable, unique, filesystem-safe name: prompt words plus the request id's tail."""
    words = re.sub(r"[^\w]+", "-", job.prompt.lower(), flags=re.UNICODE).strip("-")[:48].strip("-")
    return f"{words or 'video'}-{job.id[-8:]}"


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
            shown = f"{cover_url!r:.80}"
            note = t("the cover could not be fetched: the server sent an unusable URL {shown}", shown=shown)
            cover_url = None
        try:
            await _fetch(client, job, out_dir, done, video_url, cover_url)
            break
        except DownloadError as exc:
            # An expired link, or a file host failing again and again with the video already
            # saved: ask anew rather than give the cover up at the first passing 5xx.
            again = exc.expired or ("video" in done and exc.retryable)
            if again and attempt < REFRESHES:
                assert job.task_id is not None
                state = await client.get(job.task_id)  # the URLs died before we got there
                video_url, cover_url = state.video_url, state.cover_url
                continue
            if "video" not in done:
                raise
            note = t("the cover could not be saved: {reason}", reason=exc.message)
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
            return t("the server sent an empty video")
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
                    return t("the video is cut short or is not an MP4 file")
                kinds.add(kind)
                pos += length
    except OSError as exc:
        return t("the saved video cannot be read: {reason}", reason=exc.strerror or exc)
    return None if b"moov" in kinds else t("the video has no index (moov box): not a playable MP4")


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
        raise DownloadError(t("the task succeeded without a video URL"))
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
