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

FIRST = """
import sys, time
from cogvideo_nb._engine import get_engine
engine = get_engine(api_key="sk-child", base_url=sys.argv[1], output_dir=sys.argv[2], concurrency=2)
for i in range(int(sys.argv[3])):
    engine.submit(f"a river at dawn, take {i}")
print("submitted", flush=True)
time.sleep(120)
"""

SECOND = """
import json, sys
from cogvideo_nb import _engine
jobs = _engine.resume(api_key="sk-child", base_url=sys.argv[1], output_dir=sys.argv[2], wait=True)
print(json.dumps([j.to_dict() for j in jobs]))
"""


@pytest.mark.slow
def test_kill_mid_flight_then_resume(emulator_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
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
