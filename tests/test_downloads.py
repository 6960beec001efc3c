"""What counts as a result on disk: a non-empty file that is an MP4, saved even when the server
names its cover badly (issue 19)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cogvideo_nb import AsyncClient, JobStatus, build_request
from cogvideo_nb._downloads import unplayable
from cogvideo_nb._scheduler import Scheduler

from ._mock import BASE, mp4, ok_submit, status
from .conftest import FAST_RETRY, fast_poll

Files = Callable[[httpx.Request], httpx.Response]


def server(files: Files, cover: str = "https://cdn.test/c.png") -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return ok_submit("t-1")
        if "async-result" in request.url.path:
            return status(
                "SUCCESS", "t-1", video_result=[{"url": "https://cdn.test/v.mp4", "cover_image_url": cover}]
            )
        return files(request)

    return httpx.MockTransport(handler)


def scheduler(tmp_path: Path, transport: httpx.MockTransport) -> Scheduler:
    client = AsyncClient("sk-files", BASE, transport=transport, retry=FAST_RETRY)
    return Scheduler(client, output_dir=tmp_path, policy=fast_poll(), submit_gap=0)


def video(body: bytes) -> Files:
    def files(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(".mp4"):
            return httpx.Response(200, content=body, headers={"content-type": "video/mp4"})
        return httpx.Response(200, content=b"png", headers={"content-type": "image/png"})

    return files


@pytest.mark.parametrize(
    "body, why",
    [
        (b"", "empty video"),
        (mp4()[:-10], "cut short"),
        (b"<html>Access denied</html>", "not an MP4"),
        (mp4().replace(b"moov", b"free"), "no index"),
    ],
)
async def test_an_empty_or_undecodable_video_is_a_failed_download_kept_for_resume(
    tmp_path: Path, body: bytes, why: str
) -> None:
    """A 0-byte video/mp4 ended 'succeeded' with an empty file."""
    s = scheduler(tmp_path, server(video(body)))
    job = s.add(build_request("a fox"))
    await asyncio.wait_for(s.wait([job]), 10)
    assert job.status is JobStatus.DETACHED and job.task_id == "t-1", (job.status, job.error)
    assert why in (job.error or "") and job.video_path is None
    assert not list(tmp_path.glob("*.mp4"))  # nothing that looks like a result
    assert [j.id for j in s.ledger.resumable()] == [job.id]
    await s.aclose()


@pytest.mark.parametrize(
    "cover", ["file:///etc/passwd", "javascript:alert(1)", "ftp://cdn.test/c.png", "c.png"]
)
async def test_a_bad_cover_url_does_not_cost_the_video(tmp_path: Path, cover: str) -> None:
    """The job stayed 'detached' with the video on disk, again on every resume."""
    s = scheduler(tmp_path, server(video(mp4()), cover=cover))
    job = s.add(build_request("a fox"))
    await asyncio.wait_for(s.wait([job]), 10)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.video_path is not None and job.video_path.read_bytes() == mp4()
    assert job.cover_path is None and "cover could not be fetched" in (job.note or "")
    from cogvideo_nb._html import job_html

    assert "cover could not be fetched" in job_html(job)  # the card says so
    assert s.ledger.resumable() == []
    await s.aclose()


def test_unplayable_reads_only_box_headers(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(mp4())
    assert unplayable(path) is None
    path.write_bytes(mp4() + b"\0\0")  # trailing bytes that are no box
    assert unplayable(path) == "the video is cut short or is not an MP4 file"
    assert "cannot be read" in (unplayable(tmp_path / "missing.mp4") or "")


async def test_a_cover_host_failing_past_the_retries_is_asked_again_not_given_up(tmp_path: Path) -> None:
    """The video saved, the cover's host answered 503 past one download's retries: the cover was
    dropped for good (found by the chaos test under load). It is asked again with fresh URLs."""
    failures = {"left": FAST_RETRY.max_attempts + 1}  # one whole download's worth, and one more

    def files(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(".mp4"):
            return httpx.Response(200, content=mp4(), headers={"content-type": "video/mp4"})
        if failures["left"] > 0:
            failures["left"] -= 1
            return httpx.Response(503)
        return httpx.Response(200, content=b"\x89PNG\r\n\x1a\n", headers={"content-type": "image/png"})

    s = scheduler(tmp_path, server(files))
    job = s.add(build_request("a fox"))
    await asyncio.wait_for(s.wait([job]), 20)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.cover_path is not None and job.cover_path.read_bytes().startswith(b"\x89PNG"), job.note
    await s.aclose()
