"""Saving a finished job's video and cover, at once, before the server's URLs expire."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

from ._client import AsyncClient
from ._errors import DownloadError
from ._jobs import Job
from ._wire import Download

__all__ = ["MAX_COVER_BYTES", "MAX_VIDEO_BYTES", "fetch_results", "file_stem", "verify"]

MAX_VIDEO_BYTES = 2 << 30  # 4K, 10 s, 60 fps stays far below this; anything larger is wrong
MAX_COVER_BYTES = 50 << 20


def file_stem(job: Job) -> str:
    """A readable, unique, filesystem-safe name: prompt words plus the request id's tail."""
    words = re.sub(r"[^\w]+", "-", job.prompt.lower(), flags=re.UNICODE).strip("-")[:48].strip("-")
    return f"{words or 'video'}-{job.id[-8:]}"


async def fetch_results(client: AsyncClient, job: Job, out_dir: Path) -> tuple[Download, Download | None]:
    """Stream video and cover concurrently. A cover that fails does not lose the video."""
    if not job.video_url:
        raise DownloadError("the task succeeded without a video URL")
    stem = file_stem(job)
    video = client.download(job.video_url, out_dir / f"{stem}.mp4", kind="video", max_bytes=MAX_VIDEO_BYTES)
    if not job.cover_url:
        return await video, None
    cover = client.download(job.cover_url, out_dir / f"{stem}.png", kind="image", max_bytes=MAX_COVER_BYTES)
    got_video, got_cover = await asyncio.gather(video, cover, return_exceptions=True)
    if isinstance(got_video, BaseException):
        raise got_video
    if isinstance(got_cover, DownloadError):
        return got_video, None  # the video matters; a lost poster is shown as missing
    if isinstance(got_cover, BaseException):
        raise got_cover
    return got_video, got_cover


def verify(path: Path | None, sha256: str | None) -> bool:
    """True when the file is there and still matches the hash in the ledger."""
    if path is None or sha256 is None or not path.is_file():
        return False
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest() == sha256
