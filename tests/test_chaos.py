"""200 jobs through an emulator that misbehaves on about one request in five.

Faults: 500s, 429s, connections dropped before and after the work (a submit's task exists but
its answer is lost), answers slower than the client's timeout, truncated JSON, tasks that end
FAIL, and result URLs that have expired by the time the download starts (for a tenth of the
tasks the first download is held back past ``url_ttl``, so the scheduler must ask for fresh
ones). Whatever happens, each job must end as its task did, no request may make two tasks, no
result may be lost, and the ledger must agree with the server.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cogvideo_nb import AsyncClient, CogVideoError, build_request
from cogvideo_nb._downloads import verify
from cogvideo_nb._jobs import JobStatus
from cogvideo_nb._ledger import Ledger
from cogvideo_nb._polling import PollPolicy
from cogvideo_nb._scheduler import Scheduler
from cogvideo_nb.emulator import Emulator

from .conftest import FAST, FAST_RETRY

JOBS = 200
URL_TTL = 2.0  # the emulator truncates expiry to whole seconds: links live 1-2 s
HOLD_BACK = 3.2  # > URL_TTL: a held-back first download always meets an expired link
CLIENT_TIMEOUT = 1.0
SLOW = 1.5  # > CLIENT_TIMEOUT: a slow answer is a timeout, after the server did the work


class LateDownloads(httpx.AsyncBaseTransport):
    """The real transport, except that the first download of some tasks' files starts late."""

    def __init__(self, late: Callable[[str], bool]) -> None:
        self._real = httpx.AsyncHTTPTransport()
        self._late = late
        self._held: set[str] = set()
        self.file_status: Counter[int] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/files/"):
            task_id = path.rsplit("/", 1)[1].split(".")[0].removesuffix("_cover")
            if self._late(task_id) and path not in self._held:
                self._held.add(path)
                await asyncio.sleep(HOLD_BACK)
        response = await self._real.handle_async_request(request)
        if path.startswith("/files/"):
            self.file_status[response.status_code] += 1
        return response

    async def aclose(self) -> None:
        await self._real.aclose()


def held_back(task_id: str) -> bool:
    return hashlib.sha256(task_id.encode()).digest()[0] < 26  # about 10% of tasks


@pytest.mark.slow
async def test_two_hundred_jobs_under_faults(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(
        FAST, seconds=None, timing="uniform", min_seconds=0.2, max_seconds=0.6, max_in_flight=64,
        p_500=0.04, p_429=0.03, p_drop=0.03, p_drop_after=0.03, p_slow=0.02, slow_seconds=SLOW,
        p_malformed=0.03, p_fail=0.06, url_ttl=URL_TTL, seed=20240607,
    )  # fmt: skip
    transport = LateDownloads(held_back)
    client = AsyncClient(
        "sk-chaos", emu.base_url, transport=transport, retry=FAST_RETRY, timeout=CLIENT_TIMEOUT
    )
    out = tmp_path / "out"
    policy = PollPolicy(min_interval=0.05, first_poll=0.1, max_interval=0.5)
    s = Scheduler(client, output_dir=out, concurrency=32, policy=policy, submit_gap=0.0, seed=3)
    s.calm_seconds = 0.2  # injected 429s are noise, not overload: recover quickly
    retried: Counter[str] = Counter()

    def count_retry(error: CogVideoError, delay: float) -> None:
        retried[type(error).__name__] += 1

    client.on_retry = count_retry  # the user's hook: the scheduler listens beside it, not through it
    jobs = [s.add(build_request(f"chaos {i}: a kite over dunes")) for i in range(JOBS)]
    await asyncio.wait_for(s.wait(), 90)
    await s.aclose()

    # The faults really happened, each kind of them.
    for kind in ("ServerError", "RateLimitError", "NetworkError", "ProtocolError"):
        assert retried[kind] > 0, (kind, retried)
    assert transport.file_status[403] > 0, "no download met an expired link"

    server = {t["request_id"]: t for t in emu.stats()["tasks"]}
    per_request = Counter(t["request_id"] for t in emu.stats()["tasks"])
    assert len(server) == JOBS and max(per_request.values()) == 1, "a retried submit made a second task"

    ledger = {j.id: j for j in Ledger(out / "ledger.sqlite").history(JOBS + 10)}
    assert set(ledger) == {j.id for j in jobs}
    outcome = {"SUCCESS": JobStatus.SUCCEEDED, "FAIL": JobStatus.FAILED}
    problems: list[str] = []  # every discrepancy at once, so one run shows the whole picture
    for job in jobs:
        task, row = server[job.id], ledger[job.id]
        if job.status is not outcome[task["status"]]:
            problems.append(f"{job.id}: {job.status.value} ({job.error}) but the task ended {task['status']}")
            continue
        if not job.task_id == row.task_id == task["id"] or row.status is not job.status:
            problems.append(f"{job.id}: ledger {row.task_id}/{row.status.value} vs server {task['id']}")
        if job.status is JobStatus.SUCCEEDED:
            # Nothing lost: both files on disk, and what is on disk is what the ledger recorded.
            for kind, path, digest in (
                ("video", row.video_path, row.video_sha256),
                ("cover", row.cover_path, row.cover_sha256),
            ):
                if not verify(path, digest):
                    problems.append(f"{job.id}: {kind} lost ({path})")
        elif "FAIL" not in (job.error or ""):
            problems.append(f"{job.id}: failed without the server's reason: {job.error}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
    fails = sum(t["status"] == "FAIL" for t in server.values())
    assert 0 < fails < JOBS // 4
    late = [j for j in jobs if j.task_id and held_back(j.task_id) and j.status is JobStatus.SUCCEEDED]
    assert late, "no successful job went through the fresh-URL path"
