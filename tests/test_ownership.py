"""One owner per job: kernels sharing a folder never poll, download or submit a job twice."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from cogvideo_nb import AsyncClient, Engine, JobStatus, build_request, get_engine, resolve_settings
from cogvideo_nb._downloads import verify
from cogvideo_nb._jobs import move
from cogvideo_nb._ledger import Ledger
from cogvideo_nb._scheduler import Scheduler
from cogvideo_nb.emulator import Emulator

from .conftest import FAST_RETRY, fast_poll

CHILD = """
import json, sys, time
from cogvideo_nb import get_engine
engine = get_engine(api_key="sk-shared", base_url=sys.argv[1], output_dir=sys.argv[2])
jobs = [engine.submit(f"child {i} #seconds=1.5") for i in range(int(sys.argv[3]))]
print(json.dumps([j.id for j in jobs]), flush=True)
engine.wait(jobs, 60)
print(json.dumps([j.status.value for j in jobs]), flush=True)
time.sleep(60)  # alive, its jobs done: its rows stay owned by a live process
"""


def test_two_processes_share_a_folder_one_resuming_while_the_other_runs(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(seconds=1.0, max_in_flight=20)
    out, n = tmp_path / "out", 4
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, emu.base_url, str(out), str(n)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    assert child.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(child.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    engine: Engine | None = None
    try:
        deadline = time.monotonic() + 30
        while not lines:
            assert time.monotonic() < deadline and child.poll() is None, "child did not start"
            time.sleep(0.05)
        child_ids = set(json.loads(lines[0]))
        engine = Engine(
            resolve_settings(api_key="sk-shared", base_url=emu.base_url, output_dir=out),
            policy=fast_poll(),
            submit_gap=0,
        )
        ours = [engine.submit(f"parent {i} #seconds=1.0") for i in range(n)]
        adopted = []
        while len(lines) < 2:  # resume again and again while the child runs its jobs
            assert time.monotonic() < deadline and child.poll() is None, "child did not finish"
            adopted += engine.resume()
            time.sleep(0.1)
        assert adopted == [], [j.id for j in adopted]
        assert json.loads(lines[1]) == ["succeeded"] * n
        engine.wait(ours, 30)
        assert adopted == [] and engine.resume() == []  # the child is alive: its rows stay its own
    finally:
        child.kill()
        child.wait()
        if engine is not None:
            engine.close()
    stats = emu.stats()
    assert stats["requests"]["submit"] == 2 * n  # submits == jobs
    assert stats["requests"]["file"] == 2 * 2 * n  # video + cover, once per job
    assert Counter(t["request_id"] for t in stats["tasks"]) == Counter(
        {j: 1 for j in child_ids | {j.id for j in ours}}
    )
    rows = Ledger(out / "ledger.sqlite").history(100)
    assert len(rows) == 2 * n and all(r.status is JobStatus.SUCCEEDED for r in rows)
    assert all(verify(r.video_path, r.video_sha256) and verify(r.cover_path, r.cover_sha256) for r in rows)


async def test_a_job_owned_by_a_live_scheduler_is_not_adopted_until_it_lets_go(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(seconds=1.0)

    def make() -> Scheduler:
        client = AsyncClient("sk-own", emu.base_url, retry=FAST_RETRY, timeout=5)
        return Scheduler(client, output_dir=tmp_path, policy=fast_poll(), submit_gap=0.0)

    first, second = make(), make()
    job = first.add(build_request("a heron"))
    for _ in range(500):  # bounded: 10 s at most
        if job.status is JobStatus.RUNNING:
            break
        await asyncio.sleep(0.02)
    assert job.status is JobStatus.RUNNING
    assert await second.resume() == []  # owned, lease fresh
    await first.aclose()  # a clean shutdown gives the lease back at once
    [adopted] = await second.resume()
    await asyncio.wait_for(second.wait([adopted]), 10)
    assert adopted.id == job.id and adopted.status is JobStatus.SUCCEEDED
    assert len(emu.stats()["tasks"]) == 1
    await second.aclose()


def test_a_lost_lease_stops_the_old_owner_quietly(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    """A laptop sleeps past its lease and another kernel adopts the job: when the first wakes,
    it sees the job is no longer its own and stops, so the task is downloaded once."""
    emu = emulator_factory(seconds=1.5)
    settings = resolve_settings(api_key="sk-own", base_url=emu.base_url, output_dir=tmp_path)
    first = Engine(settings, policy=fast_poll(), submit_gap=0, lease=0.3)
    job = first.submit("a night heron")
    deadline = time.monotonic() + 10
    while job.status is not JobStatus.RUNNING:
        assert time.monotonic() < deadline
        job.wait_done(0.02)

    frozen_at = threading.Event()

    async def sleep_hard() -> None:
        frozen_at.set()
        time.sleep(1.5)  # the whole engine is frozen: no polls, no renewals

    frozen = threading.Thread(target=first.call, args=(sleep_hard(),))
    frozen.start()
    assert frozen_at.wait(10)  # counted from the freeze itself: a busy machine may start it late
    time.sleep(0.6)  # past the lease
    second = Engine(settings, policy=fast_poll(), submit_gap=0)
    [adopted] = second.resume()
    assert adopted is not job and adopted.id == job.id
    adopted.wait(15)
    frozen.join(5)
    deadline = time.monotonic() + 5
    while job.note != "adopted by another process":
        assert time.monotonic() < deadline, (job.status, job.note)
        time.sleep(0.05)
    assert emu.stats()["requests"]["file"] == 2 and len(emu.stats()["tasks"]) == 1
    first.close()
    second.close()


@pytest.mark.usefixtures("fast_default_polls")
def test_one_engine_per_folder_whatever_the_concurrency(emulator: Emulator, tmp_path: Path) -> None:
    opts = {"api_key": "sk-x", "base_url": emulator.base_url, "output_dir": tmp_path / "out"}
    a = get_engine(**opts, concurrency=5)
    b = get_engine(**opts)  # `%cogvideo resume` after `%%cogvideo --concurrency 5`
    assert a is b and b.scheduler.concurrency == 5  # not reset by a call that did not ask
    assert get_engine(**opts, concurrency=2) is a and a.scheduler.concurrency == 2  # a live setting
    job = a.submit("a gull")
    [same] = [j for j in b.history() if j.id == job.id]
    assert same is job  # one live Job object per job
    job.wait(30)
    a.close()


async def test_the_cap_holds_across_kernels_sharing_a_folder(tmp_path: Path) -> None:
    import httpx

    from .test_pacing import FakeServer

    server = FakeServer(limited=0)

    def make() -> Scheduler:  # a Ledger of its own: another owner, as another kernel would be
        client = AsyncClient(
            "sk", "https://api.test/v4", transport=httpx.MockTransport(server), retry=FAST_RETRY
        )
        return Scheduler(client, output_dir=tmp_path, concurrency=2, policy=fast_poll(), submit_gap=0.0)

    a, b = make(), make()
    jobs = [s.add(build_request(f"gull {i}")) for i in range(5) for s in (a, b)]
    await asyncio.wait_for(asyncio.gather(a.wait(), b.wait()), 30)
    assert all(j.status is JobStatus.SUCCEEDED for j in jobs)
    assert server.peak["cogvideox-flash"] == 2  # not 2 per kernel
    await a.aclose()
    await b.aclose()


@pytest.mark.usefixtures("fast_default_polls")
def test_a_new_key_for_the_same_folder_goes_to_the_same_engine(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    from cogvideo_nb import TaskFailedError

    emu = emulator_factory(accepted_keys=frozenset({"sk-right-key"}))
    opts = {"base_url": emu.base_url, "output_dir": tmp_path / "out"}
    first = get_engine(api_key="sk-wrong-key", **opts)
    with pytest.raises(TaskFailedError, match="invalid api key"):
        first.submit("a crane").wait(10)
    again = get_engine(api_key="sk-right-key", **opts)
    assert again is first  # one engine per folder; the key is a live setting
    assert again.submit("a crane").wait(30).status is JobStatus.SUCCEEDED
    again.close()


def test_a_move_written_only_while_the_row_is_ours(tmp_path: Path) -> None:
    """The DOWNLOADING move is conditional on ownership in the same statement: a process whose
    job another one adopted writes nothing (and so never downloads what the other one saves)."""
    from cogvideo_nb import Job

    mine, theirs = Ledger(tmp_path / "ledger.sqlite"), Ledger(tmp_path / "ledger.sqlite")
    job = Job(request=build_request("a fox"))
    move(job, JobStatus.SUBMITTING)
    move(job, JobStatus.RUNNING, task_id="task-1")
    mine.record(job)
    downloading = job._prepare(JobStatus.DOWNLOADING, video_url="https://cdn.test/v.mp4")
    assert theirs.record_if_owned(downloading) is False
    assert theirs.history()[0].status is JobStatus.RUNNING  # nothing written by the non-owner
    assert mine.record_if_owned(downloading) is True
    assert theirs.history()[0].status is JobStatus.DOWNLOADING
    mine.close()
    theirs.close()
