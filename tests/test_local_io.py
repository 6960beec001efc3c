"""Local trouble after the server did its work: unwritable or full folders, a locked or corrupt
ledger, odd answers. The task is never lost, no waiter hangs, and resume finishes the job."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cogvideo_nb import (
    AsyncClient,
    CogVideoError,
    ConfigError,
    Engine,
    JobStatus,
    TaskFailedError,
    build_request,
    resolve_settings,
)
from cogvideo_nb._downloads import verify
from cogvideo_nb._jobs import move
from cogvideo_nb._ledger import Ledger
from cogvideo_nb._scheduler import Scheduler
from cogvideo_nb.emulator import Emulator

from ._mock import BASE, ok_submit, status
from .conftest import FAST_RETRY, fast_poll


def make(emu: Emulator, out: Path, ledger: Ledger | None = None) -> Scheduler:
    client = AsyncClient("sk-local", emu.base_url, retry=FAST_RETRY, timeout=5)
    return Scheduler(client, output_dir=out, ledger=ledger, policy=fast_poll(), submit_gap=0.0, seed=1)


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_unwritable_folder_after_success_then_resume(emulator: Emulator, tmp_path: Path) -> None:
    """Root ignores permission bits, so unwritability is made the way root also meets it: the
    output folder's parent is a regular file (mkdir and every write fail with ENOTDIR)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    out = blocker / "videos"
    s = make(emulator, out, Ledger(tmp_path / "ledger.sqlite"))
    job = s.add(build_request("a kite over a cliff"))
    await asyncio.wait_for(s.wait([job]), 15)
    assert job.status is JobStatus.DETACHED and job.task_id and job.video_url, (job.status, job.error)
    assert "cannot write" in (job.error or "") and str(out) in (job.error or "")
    row = Ledger(tmp_path / "ledger.sqlite").load(job.id)
    assert row is not None and row.status is JobStatus.DETACHED and row.task_id == job.task_id
    blocker.unlink()  # the user fixes the folder
    assert await s.resume() == [job]
    await asyncio.wait_for(s.wait([job]), 15)
    assert job.status is JobStatus.SUCCEEDED and verify(job.video_path, job.video_sha256)
    assert len(emulator.stats()["tasks"]) == 1
    await s.aclose()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs, filled up: writes fail with ENOSPC as on a full disk."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        with contextlib.suppress(OSError), (mnt / "filler").open("wb", buffering=0) as f:
            for _ in range(10_000):  # a 64 KiB disk is full long before this
                f.write(b"\0" * 4096)
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


async def test_full_disk_after_success_then_resume(
    emulator: Emulator, tmp_path: Path, tiny_disk: Path
) -> None:
    out = tiny_disk / "videos"
    out.mkdir()
    s = make(emulator, out, Ledger(tmp_path / "ledger.sqlite"))
    job = s.add(build_request("a snowy owl"))
    await asyncio.wait_for(s.wait([job]), 15)
    assert job.status is JobStatus.DETACHED and job.task_id, (job.status, job.error)
    assert "No space left" in (job.error or "")
    assert not list(out.glob(".*.part"))  # nothing half-written left behind
    (tiny_disk / "filler").unlink()  # space again
    assert await s.resume() == [job]
    await asyncio.wait_for(s.wait([job]), 15)
    assert job.status is JobStatus.SUCCEEDED and verify(job.video_path, job.video_sha256)
    await s.aclose()


async def test_locked_ledger_fails_the_job_visibly_wakes_waiters_then_resume(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(seconds=0.8)
    path = tmp_path / "ledger.sqlite"
    s = make(emu, tmp_path, Ledger(path, busy_timeout=0.2))
    job = s.add(build_request("a lighthouse"))
    await until(lambda: job.status is JobStatus.RUNNING)
    other = sqlite3.connect(path, isolation_level=None)  # another process holding the write lock
    other.execute("BEGIN EXCLUSIVE")
    raised: list[BaseException] = []

    def waiter() -> None:
        try:
            job.wait(30)
        except BaseException as exc:
            raised.append(exc)

    t = threading.Thread(target=waiter)
    t.start()
    await asyncio.wait_for(s.wait([job]), 15)
    await asyncio.get_running_loop().run_in_executor(None, t.join, 10)
    assert not t.is_alive() and isinstance(raised[0], TaskFailedError)
    assert job.status is JobStatus.FAILED and "database is locked" in (job.error or "")
    assert str(path) in (job.error or "")
    other.execute("ROLLBACK")
    other.close()
    row = Ledger(path).load(job.id)
    assert row is not None and row.status is JobStatus.RUNNING and row.task_id == job.task_id
    [again] = await s.resume()  # the ledger still knows the task: nothing is lost
    await asyncio.wait_for(s.wait([again]), 15)
    assert again is job and job.status is JobStatus.SUCCEEDED
    assert len(emu.stats()["tasks"]) == 1
    await s.aclose()


def test_success_with_a_non_string_url_ends_the_job_and_wakes_its_waiter(tmp_path: Path) -> None:
    weird = [{"url": {"href": "https://cdn.test/v.mp4"}, "cover_image_url": ["x"]}]

    def handler(request: httpx.Request) -> httpx.Response:
        return ok_submit("t-1") if request.method == "POST" else status("SUCCESS", "t-1", video_result=weird)

    settings = resolve_settings(api_key="sk-x", base_url=BASE, output_dir=tmp_path)
    client = AsyncClient("sk-x", BASE, transport=httpx.MockTransport(handler), retry=FAST_RETRY)
    engine = Engine(settings, client=client, policy=fast_poll(), submit_gap=0)
    started = time.monotonic()
    job = engine.submit("a fox")
    with pytest.raises(TaskFailedError, match="usable video url"):
        job.wait(30)  # what generate() does
    assert time.monotonic() - started < 5 and job.task_id == "t-1"
    row = engine.ledger.load(job.id)
    assert row is not None and row.status is JobStatus.FAILED and row.task_id == "t-1"
    engine.close()
    with pytest.raises(CogVideoError, match="closed"):
        engine.submit("after close")


async def test_corrupt_ledger_is_moved_aside_and_rebuilt(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu = emulator_factory(seconds=0.3)
    s = make(emu, tmp_path)
    done = s.add(build_request("a finished one"))
    await asyncio.wait_for(s.wait([done]), 10)
    slow = s.add(build_request("a running one #seconds=1.5"))
    await until(lambda: slow.status is JobStatus.RUNNING)
    await s.aclose()
    path = tmp_path / "ledger.sqlite"
    for extra in ("-wal", "-shm"):
        Path(str(path) + extra).unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="cogvideo_nb"):
        again = make(emu, tmp_path)
    assert "unreadable" in caplog.text and str(path) in caplog.text
    assert list(tmp_path.glob("ledger.sqlite.corrupt-*"))
    rows = {j.id: j for j in again.ledger.history()}
    assert set(rows) == {done.id, slow.id} and rows[slow.id].task_id == slow.task_id
    assert rows[done.id].status is JobStatus.SUCCEEDED and verify(rows[done.id].video_path, done.video_sha256)
    [resumed] = await again.resume()
    await asyncio.wait_for(again.wait([resumed]), 10)
    assert resumed.id == slow.id and resumed.status is JobStatus.SUCCEEDED
    assert len(emu.stats()["tasks"]) == 2
    await again.aclose()


def test_one_bad_row_does_not_hide_the_others(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    from cogvideo_nb import Job

    good = Job(request=build_request("a good row"))
    ledger.record(good)
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:  # another writer, or a bad disk
        db.execute(
            "INSERT INTO jobs (id, status, request, duration_key, created_at, updated_at) "
            "VALUES ('bad', 'no-such-status', 'not json', '', 1, 1)"
        )
    with caplog.at_level(logging.WARNING, logger="cogvideo_nb"):
        assert [j.id for j in ledger.history()] == [good.id]
    assert "skipping unreadable ledger row 'bad'" in caplog.text


def test_unwritable_folder_is_a_config_error_and_starts_no_thread(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    folder = tmp_path / "file" / "out"
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(ConfigError, match=f"output folder {folder} is not writable"):
        Engine(resolve_settings(api_key="sk-x", base_url=BASE, output_dir=folder))
    assert {t.name for t in threading.enumerate()} - before == set()


def test_stale_part_files_of_dead_processes_are_cleaned(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".clip.mp4.{dead.pid}.abc123.part"
    live = tmp_path / f".clip.mp4.{os.getpid()}.def456.part"
    for p in (stale, live):
        p.write_bytes(b"half")
    client = AsyncClient("sk-x", BASE, retry=FAST_RETRY)
    Scheduler(client, output_dir=tmp_path, policy=fast_poll())
    assert not stale.exists() and live.exists()


@pytest.mark.usefixtures("fast_default_polls")
def test_generate_wakes_on_a_success_whose_url_is_not_a_string(tmp_path: Path) -> None:
    """A small hostile server over real HTTP: the task 'succeeds' with a dict for its URL."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cogvideo_nb import generate

    class Hostile(BaseHTTPRequestHandler):
        def _send(self, obj: object) -> None:
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._send({"id": "t-1", "task_status": "PROCESSING"})

        def do_GET(self) -> None:
            self._send({"id": "t-1", "task_status": "SUCCESS", "video_result": [{"url": {"href": "x"}}]})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises(TaskFailedError, match="usable video url"):
            generate(
                "a fox", api_key="sk-hostile", base_url=f"http://127.0.0.1:{server.server_port}",
                output_dir=tmp_path / "out", timeout=60,
            )  # fmt: skip
        assert time.monotonic() - started < 10  # woken by the failure, not by the 60 s timeout
    finally:
        server.shutdown()


def test_a_job_whose_submit_may_have_left_survives_a_corrupt_ledger(tmp_path: Path) -> None:
    from cogvideo_nb import Job

    ledger = Ledger(tmp_path / "ledger.sqlite")
    sending = Job(request=build_request("on its way"))
    move(sending, JobStatus.SUBMITTING, write=ledger.record)  # the row the submit leaves after
    queued = Job(request=build_request("not sent yet"))
    ledger.record(queued)
    ledger.close()
    (tmp_path / "ledger.sqlite").write_bytes(b"garbage" * 1000)
    rebuilt = Ledger(tmp_path / "ledger.sqlite")
    rows = {j.id: j for j in rebuilt.history()}
    # The one that may have a task comes back (and resumes with the same request_id); the
    # queued one never reached the server, so nothing paid is lost with it.
    assert set(rows) == {sending.id} and rows[sending.id].status is JobStatus.SUBMITTING
    assert [j.id for j in rebuilt.resumable()] == [sending.id]
