"""Kill a process mid-flight, resume in a new one: nothing lost, nothing submitted twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cogvideo_nb._downloads import verify
from cogvideo_nb._ledger import Ledger

from .conftest import EmulatorFactory

FIRST = """
import sys, time
from cogvideo_nb import get_engine
engine = get_engine(api_key="sk-child", base_url=sys.argv[1], output_dir=sys.argv[2], concurrency=2)
for i in range(int(sys.argv[3])):
    engine.submit(f"a river at dawn, take {i}")
print("submitted", flush=True)
time.sleep(120)
"""

SECOND = """
import json, sys
import cogvideo_nb
jobs = cogvideo_nb.resume(api_key="sk-child", base_url=sys.argv[1], output_dir=sys.argv[2], wait=True)
print(json.dumps([j.to_dict() for j in jobs]))
"""


@pytest.mark.slow
def test_kill_mid_flight_then_resume(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    emu = emulator_factory(seconds=1.5)
    out, n = tmp_path / "out", 6
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(
        [sys.executable, "-c", FIRST, emu.base_url, str(out), str(n)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "submitted"
        deadline = time.time() + 20
        while len(emu.stats()["tasks"]) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(emu.stats()["tasks"]) >= 2
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    before = Counter(j.status.value for j in Ledger(out / "ledger.sqlite").history(100))
    assert sum(before.values()) == n and before["succeeded"] < n, before  # really killed mid-flight

    second = subprocess.run(
        [sys.executable, "-c", SECOND, emu.base_url, str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=True,
    )
    resumed = json.loads(second.stdout.strip().splitlines()[-1])
    assert len(resumed) == n - before["succeeded"]

    jobs = Ledger(out / "ledger.sqlite").history(100)
    assert len(jobs) == n and all(j.status.value == "succeeded" for j in jobs), [
        (j.status, j.error) for j in jobs
    ]
    for job in jobs:
        assert verify(job.video_path, job.video_sha256) and verify(job.cover_path, job.cover_sha256)
    per_request = Counter(t["request_id"] for t in emu.stats()["tasks"])
    assert len(per_request) == n and max(per_request.values()) == 1
    assert {j.task_id for j in jobs} == {t["id"] for t in emu.stats()["tasks"]}


async def test_two_resumes_at_once_share_one_live_job_per_id(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    """The Resume button and ``%cogvideo resume`` together returned two Job objects for one job;
    one of them never ran, and history() showed it 'running' after the job had succeeded."""
    import asyncio

    from cogvideo_nb import AsyncClient, JobStatus, build_request
    from cogvideo_nb._scheduler import Scheduler

    from .conftest import FAST_RETRY, fast_poll

    emu = emulator_factory(seconds=1.0)
    policy = fast_poll()

    def scheduler() -> Scheduler:
        client = AsyncClient("sk-resume", emu.base_url, retry=FAST_RETRY, timeout=5)
        return Scheduler(client, output_dir=tmp_path, policy=policy, submit_gap=0.0, concurrency=8)

    first = scheduler()
    sent = [first.add(build_request(f"a heron, take {i}")) for i in range(4)]
    deadline = time.monotonic() + 10
    while not all(j.task_id for j in sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await first.aclose()  # a restart: the jobs stay in the ledger, unowned

    again = scheduler()
    one, two = await asyncio.gather(again.resume(), again.resume())
    handles: dict[str, object] = {}
    for job in [*one, *two]:
        assert handles.setdefault(job.id, job) is job, "two live objects for one job"
    assert set(handles) == {j.id for j in sent}
    assert all(again.jobs[i] is h for i, h in handles.items())
    await asyncio.wait_for(again.wait(list(again.jobs.values())), 20)
    assert all(j.status is JobStatus.SUCCEEDED for j in again.jobs.values())
    assert len(emu.stats()["tasks"]) == 4
    await again.aclose()
