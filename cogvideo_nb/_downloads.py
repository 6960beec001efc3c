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


async def fetch_results(client: AsyncClient, job: Job, out_dir: Path, done: dict[str, Download]) -> None:
    """Stream what ``done`` lacks of video and cover, concurrently, into ``done``.

    Whatever succeeded is kept there even when the other file fails, so a retry after
    refreshing expired URLs fetches only what is missing. Raises the first failure.
    """
    if not job.video_url:
        raise DownloadError("the task succeeded without a video URL")
    stem = file_stem(job)
    wanted = {
        "video": (job.video_url, ".mp4", MAX_VIDEO_BYTES),
        "cover": (job.cover_url, ".png", MAX_COVER_BYTES),
    }
    todo = [(kind, url, ext, cap) for kind, (url, ext, cap) in wanted.items() if url and kind not in done]
    results = await asyncio.gather(
        *(
            client.download(
                url, out_dir / f"{stem}{ext}", kind="video" if kind == "video" else "image", max_bytes=cap
            )
            for kind, url, ext, cap in todo
        ),
        return_exceptions=True,
    )
    failures = []
    for (kind, *_), result in zip(todo, results, strict=True):
        if isinstance(result, Download):
            done[kind] = result
        else:
            failures.append(result)
    if failures:
        raise failures[0]


def verify(path: Path | None, sha256: str | None) -> bool:
    """True when the file is there and still matches the hash in the ledger."""
    if path is None or sha256 is None or not path.is_file():
        return False
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest() == sha256
