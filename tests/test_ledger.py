"""The ledger file itself: safe to open from any number of processes at once, and never
forgetting a job its journal knows (issue 19)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cogvideo_nb import Job, JobStatus, build_request
from cogvideo_nb._jobs import move
from cogvideo_nb._ledger import JOURNAL_DIR, Ledger
from cogvideo_nb._ledger_rows import ADDED, SCHEMA, SCHEMA_VERSION

ROOT = str(Path(__file__).resolve().parents[1])
OPENER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from cogvideo_nb import build_request
from cogvideo_nb._jobs import Job
from cogvideo_nb._ledger import Ledger
start, path, n = float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
time.sleep(max(0.0, start - time.time()))  # every process opens at the same instant
ledger = Ledger(path)
ids = []
for i in range(n):
    job = Job(request=build_request(f"opener {i}"))
    ledger.record(job)
    ids.append(job.id)
ledger.close()
print(" ".join(ids))
"""


def open_together(path: Path, processes: int = 6, jobs: int = 2) -> list[str]:
    start = time.time() + 1.5  # past every child's imports
    children = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, ROOT, str(start), str(path), str(jobs)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    ids: list[str] = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        ids += out.split()
    return ids


@pytest.mark.parametrize("trial", range(4))
def test_processes_opening_a_fresh_folder_at_once_share_one_ledger(tmp_path: Path, trial: int) -> None:
    """'database is locked' or another opener's column was taken for corruption: the live
    ledger was moved aside and that process wrote on into the moved file."""
    path = tmp_path / "out" / "ledger.sqlite"
    ids = open_together(path)
    assert list(path.parent.glob("*.corrupt-*")) == []
    assert {j.id for j in Ledger(path).history(100)} == set(ids) and len(ids) == 12


def test_processes_migrating_an_old_ledger_at_once_share_it(tmp_path: Path) -> None:
    """Each opener adds the columns a newer release needs: adding one twice is no corruption."""
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)  # the first release's table, without the columns added since
    ids = open_together(path)
    assert list(tmp_path.glob("*.corrupt-*")) == []
    assert {j.id for j in Ledger(path).history(100)} == set(ids)


def test_only_a_file_that_is_not_sqlite_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.executescript(SCHEMA)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a long write
    try:
        with pytest.raises(Exception, match="locked"):
            Ledger(path, busy_timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert list(tmp_path.glob("*.corrupt-*")) == []


def running_job(ledger: Ledger, prompt: str, task_id: str) -> Job:
    job = Job(request=build_request(prompt))
    move(job, JobStatus.SUBMITTING, write=ledger.record)
    move(job, JobStatus.RUNNING, write=ledger.record, task_id=task_id)
    return job


@pytest.mark.parametrize("how", ["deleted", "emptied", "rows deleted"])
def test_a_lost_ledger_is_rebuilt_from_the_journal(tmp_path: Path, how: str) -> None:
    """The journal knew two running paid tasks the ledger no longer had: history and resume()
    came back empty, as if they had never been sent."""
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path)
    first, second = running_job(ledger, "a paid one", "t-1"), running_job(ledger, "another", "t-2")
    ledger.close()
    if how == "rows deleted":
        with sqlite3.connect(path) as db:
            db.execute("DELETE FROM jobs")
    else:
        for extra in ("-wal", "-shm"):
            Path(str(path) + extra).unlink(missing_ok=True)
        path.unlink() if how == "deleted" else path.write_bytes(b"")
    again = Ledger(path)
    rows = {j.id: j for j in again.history()}
    assert set(rows) == {first.id, second.id}
    assert rows[first.id].task_id == "t-1" and rows[first.id].status is JobStatus.RUNNING
    assert {j.id for j in again.resumable()} == {first.id, second.id}
    assert "rebuilt from the journal" in (rows[first.id].note or "")


def test_a_rebuilt_row_stays_with_its_live_owner(tmp_path: Path) -> None:
    """A process still running the job keeps it: the rebuild restores the owner, so that
    process's lease renewal still holds and no second process polls the task."""
    path = tmp_path / "ledger.sqlite"
    runner = Ledger(path)
    job = running_job(runner, "still running here", "t-9")
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM jobs")
    other = Ledger(path)
    assert other.claim(job.id) is False  # its owner lives
    assert runner.renew([job.id]) == {job.id}
    journal = json.loads((tmp_path / JOURNAL_DIR / f"{job.id}.json").read_text("utf-8"))
    assert "lease_until" not in journal


def version_2_ledger(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """A ledger as release 2 left it: no model column; ``rows`` are (id, request, duration key)
    of tasks in flight under a live lease."""
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        for name, kind in ADDED.items():
            if name != "model":
                db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
        for row_id, request, key in rows:
            db.execute(
                "INSERT INTO jobs (id, status, request, duration_key, created_at, updated_at, lease_until) "
                "VALUES (?, 'running', ?, ?, 1, 1, ?)",
                (row_id, request, key, time.time() + 600),
            )
        db.execute("PRAGMA user_version = 2")


def test_a_version_2_ledger_gets_each_rows_model_from_its_request(tmp_path: Path) -> None:
    """The model column is filled on open, once, from the stored request; a row that cannot
    tell stays as it was and does not stop the migration."""
    path = tmp_path / "ledger.sqlite"
    three = json.dumps({"model": "cogvideox-3", "prompt": "a kite"})
    version_2_ledger(path, [("a", three, "model=cogvideox-3|x"), ("bad", "not json", "")])
    Ledger(path).close()
    Ledger(path).close()  # a second open finds the file current: nothing to do, nothing breaks
    with sqlite3.connect(path) as db:
        assert dict(db.execute("SELECT id, model FROM jobs")) == {"a": "cogvideox-3", "bad": None}
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_tasks_in_flight_are_counted_per_model_by_its_column_not_the_duration_key(tmp_path: Path) -> None:
    """The count once matched ``duration_key LIKE 'model=X|%'``: a change to the poll policy's key
    format would have let every kernel on a folder past a model's cap."""
    path = tmp_path / "ledger.sqlite"
    three = json.dumps({"model": "cogvideox-3", "prompt": "a kite"})
    version_2_ledger(path, [("a", three, "a key in some other format")])
    ledger = Ledger(path)
    try:
        assert not ledger.record_if_room(Job(request=build_request("b", model="cogvideox-3")), 5, 1)
        assert ledger.record_if_room(Job(request=build_request("c", model="cogvideox-2")), 5, 1)
    finally:
        ledger.close()
