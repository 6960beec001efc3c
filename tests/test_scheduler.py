"""The scheduler against the emulator: faults, caps, deadlines, stop, ledger agreement, downloads."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from cogvideo_nb import AsyncClient, Job, JobStatus, build_request
from cogvideo_nb._downloads import verify
from cogvideo_nb._ledger import Ledger
from cogvideo_nb._polling import PollPolicy, duration_key
from cogvideo_nb._scheduler import Scheduler
from cogvideo_nb.emulator import Emulator

from ._mock import Script, mp4, ok_submit, status
from ._wait import async_wait_for_status
from .conftest import FAST, FAST_RETRY, EmulatorFactory, fast_poll


def scheduler(emu: Emulator, out: Path, *, key: str = "sk-test", **kw: Any) -> Scheduler:
    client = AsyncClient(key, emu.base_url, retry=FAST_RETRY, timeout=5)
    opts: dict[str, Any] = dict(output_dir=out, policy=fast_poll(), submit_gap=0.0, seed=1)
    opts.update(kw)
    return Scheduler(client, **opts)


def tasks_by_request(emu: Emulator) -> Counter[str]:
    return Counter(t["request_id"] for t in emu.stats()["tasks"])


@pytest.mark.slow
async def test_hundred_jobs_with_faults_end_right(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    emu = emulator_factory(
        FAST, seconds=None, timing="uniform", min_seconds=0.2, max_seconds=0.8, max_in_flight=20,
        p_500=0.03, p_429=0.02, p_drop=0.02, p_malformed=0.02, p_drop_after=0.01, p_fail=0.08, seed=11,
    )  # fmt: skip
    s = scheduler(emu, tmp_path / "out", concurrency=8)
    s.calm_seconds = 0.5  # injected 429s are noise here, not overload: recover quickly
    jobs = [s.add(build_request(f"scene {i}: a paper boat on a river")) for i in range(100)]
    await asyncio.wait_for(s.wait(), 120)
    server = {t["request_id"]: t for t in emu.stats()["tasks"]}
    assert max(tasks_by_request(emu).values()) == 1, "a retried submit made a second task"
    assert len(server) == 100
    for job in jobs:
        task = server[job.id]
        assert job.task_id == task["id"]
        if task["status"] == "FAIL":
            assert job.status is JobStatus.FAILED and "FAIL" in (job.error or "")
        else:
            assert job.status is JobStatus.SUCCEEDED, (job.status, job.error)
            assert verify(job.video_path, job.video_sha256) and verify(job.cover_path, job.cover_sha256)
    fails = sum(j.status is JobStatus.FAILED for j in jobs)
    assert 0 < fails < 20
    rows = {j.id: j for j in Ledger(tmp_path / "out" / "ledger.sqlite").history(200)}
    assert {k: v.status for k, v in rows.items()} == {j.id: j.status for j in jobs}
    await s.aclose()


async def test_cap_limits_tasks_in_flight(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    emu = emulator_factory(seconds=0.3)
    s = scheduler(emu, tmp_path, concurrency=2)
    peak = 0

    def watch(_: object) -> None:
        nonlocal peak
        peak = max(peak, sum(j.status in (JobStatus.SUBMITTING, JobStatus.RUNNING) for j in s.jobs.values()))

    for i in range(6):
        s.add(build_request(f"bird {i}")).subscribe(watch)
    await asyncio.wait_for(s.wait(), 30)
    assert peak == 2
    assert all(j.status is JobStatus.SUCCEEDED for j in s.jobs.values())
    await s.aclose()


async def test_rate_limits_slow_us_down_without_duplicates(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emu = emulator_factory(seconds=0.3, max_in_flight=1)
    s = scheduler(emu, tmp_path, concurrency=4)
    for i in range(5):
        s.add(build_request(f"wave {i}"))
    await asyncio.wait_for(s.wait(), 60)
    assert all(j.status is JobStatus.SUCCEEDED for j in s.jobs.values())
    assert max(tasks_by_request(emu).values()) == 1
    flash = s.throttle.model("cogvideox-flash")
    assert flash.slots.limit < 4 and flash.gap > 0  # it backed off


async def test_deadline_detaches_keeping_the_task_and_resume_finishes_it(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emu = emulator_factory(seconds=1.5)
    s = scheduler(emu, tmp_path, deadline=0.4)
    job = s.add(build_request("a slow glacier"))
    await asyncio.wait_for(s.wait(), 10)
    assert job.status is JobStatus.DETACHED and job.task_id and "gave up waiting" in (job.note or "")
    assert job.polls >= 1  # polled before it was given up
    await asyncio.sleep(1.3)  # the server finishes meanwhile; the deadline stays 0.4 s
    again = await s.resume()  # a deadline's detach needs no --all
    assert again == [job] and again[0] is job  # the live object, not a second one
    await asyncio.wait_for(s.wait(again), 20)
    assert job.status is JobStatus.SUCCEEDED and job.task_id == again[0].task_id
    assert len(emu.stats()["tasks"]) == 1
    await s.aclose()


async def test_stop_waiting(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    emu = emulator_factory(seconds=2)
    s = scheduler(emu, tmp_path)
    job = s.add(build_request("a long night"))
    await async_wait_for_status(job, JobStatus.RUNNING)
    s.stop(job)
    await asyncio.wait_for(s.wait([job]), 5)
    assert job.status is JobStatus.DETACHED and job.note == "stopped waiting" and job.task_id
    assert job.stopped
    assert Ledger(tmp_path / "ledger.sqlite").load(job.id).status is JobStatus.DETACHED  # type: ignore[union-attr]
    assert await s.resume() == []  # a job the user stopped comes back only when asked
    assert await s.resume(include_stopped=True) == [job]
    await asyncio.wait_for(s.wait([job]), 10)
    assert job.status is JobStatus.SUCCEEDED
    await s.aclose()


async def test_a_queued_job_can_be_stopped_before_it_is_sent(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emu = emulator_factory(seconds=1)
    s = scheduler(emu, tmp_path, concurrency=1)
    first, second = s.add(build_request("one")), s.add(build_request("two"))
    await asyncio.sleep(0.1)
    assert second.status is JobStatus.QUEUED
    s.stop(second)
    await asyncio.wait_for(s.wait(), 10)
    assert first.status is JobStatus.SUCCEEDED and second.status is JobStatus.DETACHED
    assert [t["request_id"] for t in emu.stats()["tasks"]] == [first.id]


async def test_server_fail_shows_its_reason(emulator: Emulator, tmp_path: Path) -> None:
    s = scheduler(emulator, tmp_path)
    job = s.add(build_request("a storm #fail"))
    await asyncio.wait_for(s.wait(), 10)
    assert job.status is JobStatus.FAILED
    assert job.error == "the server reported FAIL: emulated failure requested by #fail"


async def test_hopeless_submit_error_fails_the_job(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    emu = emulator_factory(accepted_keys=frozenset({"right"}))
    s = scheduler(emu, tmp_path, key="wrong")
    job = s.add(build_request("a fox"))
    await asyncio.wait_for(s.wait(), 10)
    assert job.status is JobStatus.FAILED and job.error_type == "AuthenticationError"


async def test_ledger_row_is_written_before_the_submit_leaves(emulator: Emulator, tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite"
    seen: list[str | None] = []

    async def spy(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            row = sqlite3.connect(ledger_path).execute("SELECT status FROM jobs").fetchone()
            seen.append(row[0] if row else None)
        async with httpx.AsyncClient() as real:
            answer = await real.send(request)
            await answer.aread()  # read before the real client closes
            return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    client = AsyncClient("sk", emulator.base_url, transport=httpx.MockTransport(spy), retry=FAST_RETRY)
    s = Scheduler(client, output_dir=tmp_path, policy=fast_poll(), submit_gap=0)
    job = s.add(build_request("a heron"))
    await asyncio.wait_for(s.wait(), 10)
    assert seen == ["submitting"] and job.status is JobStatus.SUCCEEDED


async def test_expired_urls_are_refreshed(tmp_path: Path) -> None:
    fresh = {"url": "https://cdn.test/new.mp4", "cover_image_url": "https://cdn.test/new.png"}
    stale = {"url": "https://cdn.test/old.mp4", "cover_image_url": "https://cdn.test/old.png"}

    def files(request: httpx.Request) -> httpx.Response:
        if "old" in request.url.path:
            return httpx.Response(403, text="<Error><Code>AccessDenied</Code></Error>")
        video = request.url.path.endswith(".mp4")
        return httpx.Response(
            200, content=mp4(request.url.path.encode()) if video else b"cover",
            headers={"content-type": "video/mp4" if video else "image/png"},
        )  # fmt: skip

    script = Script(
        [
            ok_submit("t1"),
            status("SUCCESS", "t1", video_result=[stale]),
            files,
            files,
            status("SUCCESS", "t1", video_result=[fresh]),
            files,
            files,
        ]
    )
    client = AsyncClient("sk", "https://api.test/v4", transport=script.async_(), retry=FAST_RETRY)
    s = Scheduler(client, output_dir=tmp_path, policy=fast_poll(), submit_gap=0)
    job = s.add(build_request("a kite"))
    await asyncio.wait_for(s.wait(), 10)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.video_path is not None and job.video_path.read_bytes() == mp4(b"/new.mp4")


async def test_key_never_reaches_the_ledger(emulator: Emulator, tmp_path: Path) -> None:
    sentinel = "sk-LEDGER-SENTINEL-93b1"
    s = scheduler(emulator, tmp_path, key=sentinel)
    s.add(build_request("a quiet pond"))
    await asyncio.wait_for(s.wait(), 10)
    await s.aclose()
    for f in tmp_path.glob("ledger.sqlite*"):
        assert sentinel.encode() not in f.read_bytes()


async def test_history_seeds_the_poll_policy(emulator: Emulator, tmp_path: Path) -> None:
    s = scheduler(emulator, tmp_path)
    for i in range(3):
        s.add(build_request(f"clouds {i}"))
    await asyncio.wait_for(s.wait(), 20)
    await s.aclose()
    again = scheduler(emulator, tmp_path)
    key = "model=cogvideox-flash|size=None|fps=None|duration=None|quality=None|with_audio=None"
    assert again.policy.model.count(key) == 3
    expected = again.policy.expected(key)
    assert expected is not None and 0.2 < expected < 1.5
    await again.aclose()


async def test_closing_leaves_running_jobs_resumable(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    """A kernel restart closes the engine; its jobs must stay unfinished in the ledger."""
    emu = emulator_factory(seconds=2)
    s = scheduler(emu, tmp_path)
    job = s.add(build_request("a night train"))
    await async_wait_for_status(job, JobStatus.RUNNING)
    await s.aclose()
    row = Ledger(tmp_path / "ledger.sqlite").load(job.id)
    assert row is not None and row.status is JobStatus.RUNNING and row.task_id == job.task_id
    again = scheduler(emu, tmp_path)
    [resumed] = await again.resume()
    await asyncio.wait_for(again.wait([resumed]), 20)
    assert resumed.status is JobStatus.SUCCEEDED and len(emu.stats()["tasks"]) == 1
    await again.aclose()


async def test_resume_leaves_alone_a_job_that_ended_after_the_rows_were_read(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    """resume() reads the resumable rows, then looks at each live job: one that finished in
    between (its row read as running, its task now done) is ours and done, not an orphan."""
    emu = emulator_factory(seconds=0.2)
    s = scheduler(emu, tmp_path)
    job = s.add(build_request("a quick fox"))
    await asyncio.wait_for(s.wait(), 20)
    assert job.status is JobStatus.SUCCEEDED
    import copy

    stale = copy.copy(job)  # the row as a read made just before the job ended saw it
    stale.status = JobStatus.RUNNING
    read = s.ledger.resumable
    s.ledger.resumable = lambda **kw: [stale]  # type: ignore[method-assign]
    try:
        assert await s.resume() == []
    finally:
        s.ledger.resumable = read  # type: ignore[method-assign]
    assert job.status is JobStatus.SUCCEEDED and len(emu.stats()["tasks"]) == 1
    await s.aclose()


async def test_a_stop_that_reaches_a_job_mid_submit_keeps_its_task(tmp_path: Path) -> None:
    """Cancelled while its submit request was on the wire, the job ended detached with no task
    id, so a plain resume() submitted it again."""
    posts: list[int] = []
    sending = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(1)
            sending.set()
            await asyncio.sleep(0.4)  # the stop arrives while this answer is on its way
            return ok_submit("t-1")
        return status("PROCESSING", "t-1")

    client = AsyncClient(
        "sk", "https://api.test/v4", transport=httpx.MockTransport(handler), retry=FAST_RETRY
    )
    s = Scheduler(client, output_dir=tmp_path, policy=fast_poll(), submit_gap=0)
    job = s.add(build_request("a kite"))
    await asyncio.wait_for(sending.wait(), 5)
    s.stop(job)
    await asyncio.wait_for(s.wait([job]), 10)
    assert job.status is JobStatus.DETACHED and job.task_id == "t-1" and job.stopped
    row = s.ledger.load(job.id)
    assert row is not None and row.task_id == "t-1" and row.stopped
    assert s.ledger.resumable() == []  # stopped: only resume(include_stopped=True) brings it back
    [again] = await s.resume(include_stopped=True)
    assert again is job and job.task_id == "t-1" and posts == [1]
    await s.aclose()


async def test_a_stop_during_the_submitting_write_is_kept(tmp_path: Path) -> None:
    """The write's snapshot, taken before the stop, overwrote the stop: the job ended detached
    with stopped=0, so a plain resume() sent it."""
    import threading
    import time

    entered = threading.Event()

    class SlowDisk(Ledger):
        def record_if_room(self, job, total, model_cap):  # type: ignore[no-untyped-def]
            entered.set()
            time.sleep(0.3)
            return super().record_if_room(job, total, model_cap)

    posts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posts.append(1)
        return ok_submit("t-1")

    client = AsyncClient(
        "sk", "https://api.test/v4", transport=httpx.MockTransport(handler), retry=FAST_RETRY
    )
    s = Scheduler(
        client, output_dir=tmp_path, ledger=SlowDisk(tmp_path / "ledger.sqlite"),
        policy=fast_poll(), submit_gap=0,
    )  # fmt: skip
    job = s.add(build_request("a kite"))
    while not entered.is_set():
        await asyncio.sleep(0.01)
    s.stop(job)
    await asyncio.wait_for(s.wait([job]), 10)
    assert job.status is JobStatus.DETACHED and job.stopped and posts == []
    row = s.ledger.load(job.id)
    assert row is not None and row.stopped
    assert await s.resume() == [] and posts == []
    await s.aclose()


async def test_a_wall_clock_jump_mid_job_teaches_nothing(tmp_path: Path) -> None:
    """A +1 day jump of the wall clock taught the poll policy a run of 86414 s, kept in the
    ledger: the next job of that kind was polled only at its deadline."""
    import time

    jump = 0.0
    polls = 0

    def clock() -> float:
        return time.time() + jump

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal jump, polls
        if request.method == "POST":
            return ok_submit("t-1")
        if "async-result" in request.url.path:
            polls += 1
            if polls == 2:
                jump = 86_400.0  # NTP, a suspended laptop, a user's date command
            return status("PROCESSING" if polls < 4 else "SUCCESS", "t-1")
        video = request.url.path.endswith(".mp4")
        return httpx.Response(200, content=mp4() if video else b"png",
                              headers={"content-type": "video/mp4" if video else "image/png"})  # fmt: skip

    client = AsyncClient(
        "sk", "https://api.test/v4", transport=httpx.MockTransport(handler), retry=FAST_RETRY
    )
    policy = PollPolicy(min_interval=0.05, first_poll=0.05, max_interval=0.1)
    s = Scheduler(client, output_dir=tmp_path, policy=policy, submit_gap=0, clock=clock)
    job = s.add(build_request("a kite"))
    await asyncio.wait_for(s.wait([job]), 10)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.run_seconds is None or job.run_seconds < 10, job.run_seconds
    assert all(seconds < 10 for _, seconds in s.ledger.durations())
    expected = s.policy.expected(duration_key(job.request.params()))
    assert expected is None or expected < 10
    await s.aclose()


async def test_learned_durations_longer_than_the_deadline_are_not_believed(tmp_path: Path) -> None:
    """A ledger that already holds such a value (from before the fix) does not teach it."""
    import sqlite3

    ledger = Ledger(tmp_path / "ledger.sqlite")
    job = Job(request=build_request("a kite"))
    ledger.record(job)
    key = duration_key(job.request.params())
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        db.execute("UPDATE jobs SET run_seconds = 86414, finished_at = 1 WHERE id = ?", (job.id,))
    client = AsyncClient("sk", "https://api.test/v4", retry=FAST_RETRY)
    s = Scheduler(client, output_dir=tmp_path, ledger=ledger, deadline=900)
    assert s.policy.expected(key) is None
    await s.aclose()
