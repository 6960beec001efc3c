"""The ledger: every job in SQLite beside its outputs, so nothing is lost to a kernel restart.

A row is written before its submit request leaves (with the request_id the server dedups on)
and updated on every transition. SQLite's commit is atomic and WAL keeps readers (a second
notebook, the CLI) from blocking the writer. It never stores the API key: request bodies hold
none, and settings are not written here.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from ._jobs import Job, JobStatus
from ._polling import duration_key
from ._request import VideoRequest

__all__ = ["Ledger"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    task_id TEXT,
    status TEXT NOT NULL,
    label TEXT,
    request TEXT NOT NULL,
    duration_key TEXT NOT NULL,
    created_at REAL NOT NULL,
    submitted_at REAL,
    finished_at REAL,
    run_seconds REAL,
    video_url TEXT, cover_url TEXT,
    video_path TEXT, cover_path TEXT,
    video_sha256 TEXT, cover_sha256 TEXT,
    error TEXT, error_type TEXT,
    emulated INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
"""

_MUTABLE = (
    "task_id", "status", "label", "submitted_at", "finished_at", "video_url", "cover_url",
    "video_path", "cover_path", "video_sha256", "cover_sha256", "error", "error_type", "emulated",
    "run_seconds",
)  # fmt: skip
_REQUEST_FIELDS = {f.name for f in fields(VideoRequest)}


def _value(job: Job, name: str) -> Any:
    value = getattr(job, name)
    if isinstance(value, JobStatus):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    return value


class Ledger:
    """One SQLite file; safe to call from any thread (one connection, one lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def record(self, job: Job) -> None:
        """Insert or update the job's row in one atomic statement."""
        req = job.request
        body = {f: getattr(req, f) for f in _REQUEST_FIELDS}
        if isinstance(body["image_url"], tuple):
            body["image_url"] = list(body["image_url"])
        cols = {name: _value(job, name) for name in _MUTABLE}
        cols.update(
            id=job.id,
            request=json.dumps(body),
            duration_key=duration_key(req.params()),
            created_at=job.created_at,
            updated_at=time.time(),
        )
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)
        updates = ", ".join(f"{n}=excluded.{n}" for n in cols if n not in ("id", "created_at", "request"))
        sql = f"INSERT INTO jobs ({names}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {updates}"  # noqa: S608
        with self._lock:
            self._db.execute(sql, tuple(cols.values()))

    def load(self, job_id: str) -> Job | None:
        rows = self._select("WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    def find(self, prefix: str) -> Job | None:
        """A job by id, task id, or an unambiguous prefix of either (for ``%cogvideo show``)."""
        rows = self._select("WHERE id LIKE ? OR task_id LIKE ?", (prefix + "%", prefix + "%"))
        return rows[0] if len(rows) == 1 else None

    def match(self, ident: str) -> list[Job]:
        """Jobs whose id or task id equals, starts or ends with ``ident`` (the id ``cvnb-`` may
        be left out), exact matches alone when there are any."""
        ident = ident.strip()
        if not ident:
            return []
        like = ident.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pats = (like + "%", "%" + like, "cvnb-" + like + "%")
        rows = self._select(
            "WHERE id LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\' "
            "OR task_id LIKE ? ESCAPE '\\' OR task_id LIKE ? ESCAPE '\\' ORDER BY created_at DESC",
            (*pats, like + "%", "%" + like),
        )
        exact = [j for j in rows if ident in (j.id, j.task_id)]
        return exact or rows

    def unfinished(self, *, include_detached: bool = False) -> list[Job]:
        states = [s.value for s in JobStatus if not s.terminal]
        if include_detached:
            states.append(JobStatus.DETACHED.value)
        marks = ",".join("?" for _ in states)
        return self._select(f"WHERE status IN ({marks}) ORDER BY created_at", tuple(states))

    def history(self, limit: int = 50) -> list[Job]:
        return self._select("ORDER BY created_at DESC LIMIT ?", (limit,))

    def durations(self, limit: int = 2000) -> list[tuple[str, float]]:
        """(duration key, seconds) of finished runs, oldest first, to seed the poll policy."""
        with self._lock:
            rows = self._db.execute(
                "SELECT duration_key, run_seconds FROM jobs WHERE run_seconds IS NOT NULL "
                "ORDER BY finished_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [(k, float(s)) for k, s in reversed(rows)]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Job]:
        with self._lock:
            cur = self._db.execute(f"SELECT * FROM jobs {where}", args)  # noqa: S608
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        return [self._job(row) for row in rows]

    @staticmethod
    def _job(row: dict[str, Any]) -> Job:
        body = json.loads(row["request"])
        if isinstance(body.get("image_url"), list):
            body["image_url"] = tuple(body["image_url"])
        job = Job(request=VideoRequest(**body), status=JobStatus(row["status"]), created_at=row["created_at"])
        for name in _MUTABLE:
            value = row[name]
            if name == "status":
                continue
            if name in ("video_path", "cover_path") and value is not None:
                value = Path(value)
            if name == "emulated":
                value = bool(value)
            setattr(job, name, value)
        if job.status.terminal:
            job._done.set()
        return job
