"""Deadlines that mean what they say: counted from attaching, a poll before giving up, slow
bodies cut, Retry-After capped, downloads bounded. Fake clocks and small hostile servers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cogvideo_nb import AsyncClient, Client, DownloadError, JobStatus, WaitTimeoutError, build_request
from cogvideo_nb._downloads import verify
from cogvideo_nb._ledger import Ledger
from cogvideo_nb._scheduler import Scheduler

from ._mock import BASE, error, mp4, ok_submit, status
from .conftest import FAST_RETRY, EmulatorFactory, fast_poll

DAY = 86400.0


def scheduler(
    base_url: str, out: Path, *, transport: httpx.AsyncBaseTransport | None = None, **kw: Any
) -> Scheduler:
    client = AsyncClient("sk-test", base_url, transport=transport, retry=FAST_RETRY, timeout=5)
    opts: dict[str, Any] = dict(output_dir=out, policy=fast_poll(), submit_gap=0.0, seed=1)
    opts.update(kw)
    return Scheduler(client, **opts)


async def until(check: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_resume_a_job_submitted_a_day_earlier(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emu = emulator_factory(seconds=0.5)
    yesterday = scheduler(emu.base_url, tmp_path, clock=lambda: time.time() - DAY)
    job = yesterday.add(build_request("a harbour at night"))
    await until(lambda: job.status is JobStatus.RUNNING)
    await yesterday.aclose()  # the kernel went away with the job running
    row = Ledger(tmp_path / "ledger.sqlite").load(job.id)
    assert row is not None and row.submitted_at is not None and row.submitted_at < time.time() - DAY + 60
    await asyncio.sleep(0.6)  # the server finished overnight
    today = scheduler(emu.base_url, tmp_path, deadline=900.0)  # far shorter than a day
    [again] = await today.resume()
    await asyncio.wait_for(today.wait([again]), 10)
    assert again.status is JobStatus.SUCCEEDED, (again.status, again.note)
    assert again.polls >= 1 and verify(again.video_path, again.video_sha256)
    assert len(emu.stats()["tasks"]) == 1
    await today.aclose()


FIRST = """
import sys, time
from cogvideo_nb import get_engine
engine = get_engine(api_key="sk-child", base_url=sys.argv[1], output_dir=sys.argv[2])
job = engine.submit("a slow tide")
print(job.id, flush=True)
time.sleep(60)
"""

SECOND = """
import json, sys
import cogvideo_nb
jobs = cogvideo_nb.resume(api_key="sk-child", base_url=sys.argv[1], output_dir=sys.argv[2], wait=True)
print(json.dumps([j.to_dict() for j in jobs]))
"""


def test_resume_after_a_one_second_timeout_process_died(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    """COGVIDEO_TIMEOUT=1 gave up after 1 s, the process died 2 s after the submit; a new
    process with the same 1 s timeout resumes without --all and finishes it."""
    emu = emulator_factory(seconds=1.5)  # longer than the timeout, done before the resume
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COGVIDEO_TIMEOUT": "1"}
    first = subprocess.Popen(
        [sys.executable, "-c", FIRST, emu.base_url, str(out)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert first.stdout is not None
        job_id = first.stdout.readline().strip()
        time.sleep(2.0)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    row = Ledger(out / "ledger.sqlite").load(job_id)
    assert row is not None and row.status is JobStatus.DETACHED and row.task_id and not row.stopped
    assert "gave up waiting after 1 s" in (row.note or "")
    second = subprocess.run(
        [sys.executable, "-c", SECOND, emu.base_url, str(out)],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    [done] = __import__("json").loads(second.stdout.strip().splitlines()[-1])
    assert done["id"] == job_id and done["status"] == "succeeded", (done["note"], done["error"])
    assert len(emu.stats()["tasks"]) == 1


# -- small hostile servers ------------------------------------------------------------------------
async def _trickle(body: bytes, gap: float) -> AsyncIterator[bytes]:
    for i in range(len(body)):
        await asyncio.sleep(gap)
        yield body[i : i + 1]


def _trickle_sync(body: bytes, gap: float) -> Iterator[bytes]:
    for i in range(len(body)):
        time.sleep(gap)
        yield body[i : i + 1]


PROCESSING = b'{"id": "t-1", "task_status": "PROCESSING", "padding": "' + b"x" * 200 + b'"}'


async def test_a_trickled_poll_answer_cannot_stretch_an_async_wait() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_trickle(PROCESSING, 0.05))

    client = AsyncClient("sk", BASE, transport=httpx.MockTransport(handler), retry=FAST_RETRY)
    started = time.monotonic()
    with pytest.raises(WaitTimeoutError):
        await client.wait("t-1", timeout=1.0, poll_interval=0.1)
    assert time.monotonic() - started < 2.0  # the body alone would take 10 s
    await client.aclose()


def test_a_trickled_poll_answer_cannot_stretch_a_sync_wait() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_trickle_sync(PROCESSING, 0.05))

    client = Client(
        "sk", BASE, transport=httpx.MockTransport(handler), retry=FAST_RETRY, sleep=lambda s: None
    )
    started = time.monotonic()
    with pytest.raises(WaitTimeoutError):
        client.wait("t-1", timeout=1.0, poll_interval=0.1)
    assert time.monotonic() - started < 2.5


async def test_the_job_deadline_bounds_trickled_polls(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return ok_submit("t-1")
        return httpx.Response(200, content=_trickle(PROCESSING, 0.05))

    s = scheduler(BASE, tmp_path, transport=httpx.MockTransport(handler), deadline=1.0)
    job = s.add(build_request("a slow river"))
    started = time.monotonic()
    await asyncio.wait_for(s.wait([job]), 10)
    assert job.status is JobStatus.DETACHED and "gave up waiting" in (job.note or "")
    assert time.monotonic() - started < 3.0
    await s.aclose()


async def test_a_huge_retry_after_does_not_park_a_job(tmp_path: Path) -> None:
    posts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        if request.method == "POST":
            posts += 1
            if posts <= 3:
                return error(429, "1302", "slow down", headers={"Retry-After": "86400"})
            return ok_submit("t-1")
        if "async-result" in request.url.path:
            return status("SUCCESS", "t-1")
        if request.url.path.endswith(".mp4"):
            return httpx.Response(200, content=mp4(), headers={"content-type": "video/mp4"})
        return httpx.Response(200, content=b"file", headers={"content-type": "image/png"})

    s = scheduler(BASE, tmp_path, transport=httpx.MockTransport(handler))
    s.client.retry = type(FAST_RETRY)(max_attempts=2, base_delay=0.01, max_delay=0.2, max_elapsed=5)
    s.max_retry_after = 0.3  # the cap under test (a minute by default), small for the test
    job = s.add(build_request("a patient heron"))
    started = time.monotonic()
    await asyncio.wait_for(s.wait([job]), 15)
    assert job.status is JobStatus.SUCCEEDED and posts == 4
    assert time.monotonic() - started < 5.0
    await s.aclose()


async def test_a_trickled_download_is_cut_and_stays_resumable(tmp_path: Path) -> None:
    slow = True

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return ok_submit("t-1")
        if "async-result" in request.url.path:
            return status("SUCCESS", "t-1")
        kind = "video/mp4" if request.url.path.endswith(".mp4") else "image/png"
        body = _trickle(mp4(), 0.05) if slow else mp4()
        return httpx.Response(200, content=body, headers={"content-type": kind})

    s = scheduler(BASE, tmp_path, transport=httpx.MockTransport(handler), download_timeout=0.5)
    job = s.add(build_request("a trickle"))
    await asyncio.wait_for(s.wait([job]), 10)
    assert job.status is JobStatus.DETACHED and job.task_id == "t-1" and not job.stopped
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob(".*.part"))
    slow = False
    assert await s.resume() == [job]  # a failed download needs no --all
    await asyncio.wait_for(s.wait([job]), 10)
    assert job.status is JobStatus.SUCCEEDED and job.video_path and job.video_path.read_bytes() == mp4()
    await s.aclose()


def test_download_timeout_bounds_the_whole_sync_download(tmp_path: Path) -> None:
    """A trickling file host: the deadline covers every attempt, and a passed one is not retried."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, content=_trickle_sync(b"v" * 200, 0.05), headers={"content-type": "video/mp4"}
        )

    client = Client("sk-test", BASE, transport=httpx.MockTransport(handler), download_timeout=1)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="passed its deadline"):
        client.download("https://cdn.test/v.mp4", tmp_path / "v.mp4")
    assert time.monotonic() - started < 2.5 and len(seen) == 1
    assert list(tmp_path.iterdir()) == []


async def test_download_timeout_bounds_the_whole_async_download(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=_trickle(b"v" * 200, 0.05), headers={"content-type": "video/mp4"})

    async with AsyncClient("sk-test", BASE, transport=httpx.MockTransport(handler), download_timeout=1) as c:
        started = time.monotonic()
        with pytest.raises(DownloadError, match="passed its deadline"):
            await c.download("https://cdn.test/v.mp4", tmp_path / "v.mp4")
    assert time.monotonic() - started < 2.5 and len(seen) == 1
    assert list(tmp_path.iterdir()) == []
