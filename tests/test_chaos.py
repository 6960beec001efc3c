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
import dataclasses
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cogvideo_nb import AsyncClient, CogVideoError, Job, JobStatus, build_request
from cogvideo_nb._downloads import verify
from cogvideo_nb._ledger import Ledger
from cogvideo_nb._scheduler import Scheduler
from cogvideo_nb.emulator import Emulator
from cogvideo_nb.emulator._server import FILES_PREFIX

from .browser.conftest import BROWSER_1
from .conftest import FAST, FAST_RETRY, fast_poll

# One after another on one xdist worker, after the first group of browser tests (the browser
# tests are collected first): each runs 200 jobs at 32 at a time with the emulator in its own
# process (the last in three), and side by side with each other and two browsers they starved
# one another past their time budgets on two cores (17 s alone, 157 s and failing beside them).
pytestmark = BROWSER_1

JOBS = 200
URL_TTL = 2.0  # the emulator truncates expiry to whole seconds: links live 1-2 s
HOLD_BACK = 3.2  # > URL_TTL: a held-back first download always meets an expired link
# A healthy answer must never take CLIENT_TIMEOUT, even with the machine busy (the suite runs on
# several xdist workers beside two browsers; the emulator shares this process's GIL): at 1 s,
# and still at 2 s, runs of healthy answers did, each taken for a lost one, until a job's
# retries ran out and it failed. The retry budget is FAST_RETRY's with more time for the same
# reason; attempts stay capped as they were.
CLIENT_TIMEOUT = 5.0
SLOW = 6.0  # > CLIENT_TIMEOUT: a slow answer is a timeout, after the server did the work
CHAOS_RETRY = dataclasses.replace(FAST_RETRY, max_elapsed=60.0)


class LateDownloads(httpx.AsyncBaseTransport):
    """The real transport, except that the first download of some tasks' files starts late."""

    def __init__(self, late: Callable[[str], bool]) -> None:
        self._real = httpx.AsyncHTTPTransport()
        self._late = late
        self._held: set[tuple[str, bool]] = set()
        self.file_status: Counter[int] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        is_file = path.startswith(FILES_PREFIX)
        if is_file:
            # <task id (two dash parts)>-<expiry>-<signature>_0.mp4 | _cover_0.png
            name = path.rsplit("/", 1)[1]
            task_id = "-".join(name.split("-")[:2])
            held = (task_id, name.endswith("_cover_0.png"))  # per file, not per (re-minted) URL
            if self._late(task_id) and held not in self._held:
                self._held.add(held)
                await asyncio.sleep(HOLD_BACK)
        response = await self._real.handle_async_request(request)
        if is_file:
            self.file_status[response.status_code] += 1
        return response

    async def aclose(self) -> None:
        await self._real.aclose()


def held_back(task_id: str) -> bool:
    return hashlib.sha256(task_id.encode()).digest()[0] < 26  # about 10% of tasks


def chaos_emulator(factory: Callable[..., Emulator], **extra: object) -> Emulator:
    return factory(
        FAST, seconds=None, timing="uniform", min_seconds=0.2, max_seconds=0.6, max_in_flight=64,
        p_500=0.04, p_429=0.03, p_drop=0.03, p_drop_after=0.03, p_slow=0.02, slow_seconds=SLOW,
        p_malformed=0.03, p_fail=0.06, url_ttl=URL_TTL, seed=20240607, **extra,
    )  # fmt: skip


async def run_chaos(
    base_url: str, out: Path, prompts: list[str], seed: int = 3, start_at: float = 0.0
) -> tuple[list[Job], Counter[str], LateDownloads, list[str]]:
    """Run the prompts through one scheduler, resuming the folder every 0.3 s meanwhile (as a
    second kernel would); returns jobs, retries by kind, the transport and foreign adoptions.
    ``start_at`` (wall clock): open the folder then, at the same instant as other processes."""
    await asyncio.sleep(max(0.0, start_at - time.time()))
    transport = LateDownloads(held_back)
    client = AsyncClient("sk-chaos", base_url, transport=transport, retry=CHAOS_RETRY, timeout=CLIENT_TIMEOUT)
    policy = fast_poll()
    s = Scheduler(
        client, output_dir=out, concurrency=32, policy=policy, submit_gap=0.0, seed=seed,
        model_concurrency={"cogvideox-flash": 32},
    )  # fmt: skip
    s.calm_seconds = 0.2  # injected 429s are noise, not overload: recover quickly
    retried: Counter[str] = Counter()

    def count_retry(error: CogVideoError, delay: float) -> None:
        retried[type(error).__name__] += 1

    client.on_retry = count_retry  # the user's hook: the scheduler listens beside it, not through it
    jobs = [s.add(build_request(p)) for p in prompts]
    mine = {j.id for j in jobs}
    foreign: list[str] = []

    async def keep_resuming() -> None:
        while True:
            await asyncio.sleep(0.3)
            foreign.extend(j.id for j in await s.resume() if j.id not in mine)

    resumer = asyncio.ensure_future(keep_resuming())
    try:
        await asyncio.wait_for(s.wait(jobs), 120)
    except asyncio.TimeoutError:
        stuck = Counter(f"{j.status.value}: {j.note}" for j in jobs if not j.done)
        raise AssertionError(f"jobs still running after 120 s: {stuck}") from None
    resumer.cancel()
    await s.aclose()
    return jobs, retried, transport, foreign


def problems_with(emu: Emulator, out: Path, jobs: list[Job], *, unknown_ok: bool) -> list[str]:
    """Every discrepancy at once, so one run shows the whole picture."""
    server = {t["request_id"]: t for t in emu.stats()["tasks"]}
    ledger = {j.id: j for j in Ledger(out / "ledger.sqlite").history(10_000)}
    outcome = {"SUCCESS": JobStatus.SUCCEEDED, "FAIL": JobStatus.FAILED}
    problems: list[str] = []
    for job in jobs:
        task, row = server.get(job.id), ledger.get(job.id)
        if task is None or row is None:
            problems.append(f"{job.id}: lost (task {task is not None}, ledger row {row is not None})")
            continue
        if job.status is JobStatus.UNKNOWN and unknown_ok:
            # The task exists but the server would not name it (1231): kept, flagged, not resubmitted.
            if row.status is not JobStatus.UNKNOWN or job.task_id is not None:
                problems.append(f"{job.id}: unknown job recorded as {row.status.value}")
            continue
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
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("duplicates", ["echo", "error"])
async def test_two_hundred_jobs_under_faults(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, duplicates: str
) -> None:
    emu = chaos_emulator(emulator_factory, duplicates=duplicates)
    out = tmp_path / "out"
    jobs, retried, transport, foreign = await run_chaos(
        emu.base_url, out, [f"chaos {i}: a kite over dunes" for i in range(JOBS)]
    )

    # The faults really happened, each kind of them.
    for kind in ("ServerError", "RateLimitError", "NetworkError", "ProtocolError"):
        assert retried[kind] > 0, (kind, retried)
    assert transport.file_status[403] > 0, "no download met an expired link"
    assert foreign == []

    per_request = Counter(t["request_id"] for t in emu.stats()["tasks"])
    assert len(per_request) == JOBS and max(per_request.values()) == 1, "a retried submit made a second task"
    assert set(j.id for j in Ledger(out / "ledger.sqlite").history(JOBS + 10)) == {j.id for j in jobs}
    problems = problems_with(emu, out, jobs, unknown_ok=duplicates == "error")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
    unknown = sum(j.status is JobStatus.UNKNOWN for j in jobs)
    if duplicates == "error":
        assert 0 < unknown < JOBS // 5, unknown  # lost submit answers met 1231: flagged, not failed
    else:
        assert unknown == 0
    fails = sum(t["status"] == "FAIL" for t in emu.stats()["tasks"])
    assert 0 < fails < JOBS // 4
    late = [j for j in jobs if j.task_id and held_back(j.task_id) and j.status is JobStatus.SUCCEEDED]
    assert late, "no successful job went through the fresh-URL path"


CHILD = """
import asyncio, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from tests.test_chaos import run_chaos
prompts = [f"child {sys.argv[6]} {i}: a gull" for i in range(int(sys.argv[4]))]
jobs, _, _, foreign = asyncio.run(
    run_chaos(sys.argv[1], Path(sys.argv[2]), prompts, seed=int(sys.argv[6]), start_at=float(sys.argv[5]))
)
print(json.dumps({"ids": [j.id for j in jobs], "foreign": foreign}))
"""


@pytest.mark.slow
async def test_three_processes_opening_one_fresh_folder_at_once_under_faults(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    """Three processes open the same fresh folder at the same instant, then share it under
    faults: zero lost, zero duplicate tasks, no ledger moved aside."""
    emu = chaos_emulator(emulator_factory)
    out, share = tmp_path / "out", JOBS // 3
    root = str(Path(__file__).resolve().parents[1])
    start_at = time.time() + 2.0  # past the children's imports
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            emu.base_url,
            str(out),
            root,
            str(share),
            str(start_at),
            str(seed),
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        for seed in (5, 6)
    ]
    jobs, _, _, foreign = await run_chaos(
        emu.base_url, out, [f"parent {i}: a kite" for i in range(JOBS - 2 * share)], start_at=start_at
    )
    theirs = []
    for child in children:
        stdout, _ = await asyncio.wait_for(child.communicate(), 120)
        assert child.returncode == 0
        theirs.append(json.loads(stdout.decode().strip().splitlines()[-1]))
    assert foreign == [] and all(t["foreign"] == [] for t in theirs), "a live process's job was adopted"
    assert list(out.glob("*.corrupt-*")) == [], "a live ledger was moved aside"
    per_request = Counter(t["request_id"] for t in emu.stats()["tasks"])
    assert len(per_request) == JOBS and max(per_request.values()) == 1, "a job was submitted twice"
    rows = Ledger(out / "ledger.sqlite").history(JOBS + 10)
    assert len(rows) == JOBS, "the folder's history lost jobs"
    problems = problems_with(emu, out, jobs, unknown_ok=False)
    for t in theirs:
        child_jobs = [j for j in rows if j.id in set(t["ids"])]
        assert len(child_jobs) == share
        problems += problems_with(emu, out, child_jobs, unknown_ok=False)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
