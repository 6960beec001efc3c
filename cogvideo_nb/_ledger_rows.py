"""The ledger's file format: the table, how an older file is brought up to it, the Job <-> row
codec, and which rows are mirrored to journal files.

Apart from the store (``_ledger``: opening, locking, ownership, queries), so what a row holds is
read in one place; nothing here opens a file.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import fields
from pathlib import Path
from typing import Any

from ._errors import ConfigError
from ._i18n import t
from ._jobs import Job, JobStatus
from ._polling import duration_key
from ._ratings import Rating
from ._request import VideoRequest

__all__ = [
    "ADDED", "MUTABLE", "RATINGS", "REQUEST_FIELDS", "SCHEMA", "SCHEMA_VERSION", "column_value", "encode",
    "job_from_row", "journaled", "migrate", "rating_from_row",
]  # fmt: skip

SCHEMA_VERSION = 5  # PRAGMA user_version; raise it with every change to SCHEMA, ADDED or RATINGS

SCHEMA = """
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
# Ratings by several people (version 5): a row per rater and clip, blind or sighted (``_ratings``).
# A job's own ``rating``/``rating_note`` columns stay its card's sighted rating.
RATINGS = """
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    stars INTEGER,
    rater TEXT,
    blind INTEGER NOT NULL DEFAULT 0,
    session TEXT,
    letter TEXT,
    won INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ratings_job ON ratings(job_id);
"""
# Columns added after the first release; old ledgers get them on open.
ADDED = {
    "note": "TEXT", "stopped": "INTEGER NOT NULL DEFAULT 0", "owner": "TEXT", "lease_until": "REAL",
    # a prompt study: the enhanced prompt's origin, the chain link, a person's rating and note
    "original_prompt": "TEXT", "continues": "TEXT", "rating": "INTEGER", "rating_note": "TEXT",
    # the request's model, a column of its own so tasks in flight are counted per model by it,
    # not by the poll policy's key format (version 3; filled from the request on migration)
    "model": "TEXT",
    # how the sent prompt came from original_prompt: enhanced, translated, or both (version 4)
    "rewrite": "TEXT",
}  # fmt: skip

MUTABLE = (
    "task_id", "status", "label", "submitted_at", "finished_at", "video_url", "cover_url",
    "video_path", "cover_path", "video_sha256", "cover_sha256", "error", "error_type", "emulated",
    "run_seconds", "note", "stopped", "original_prompt", "continues", "rewrite",
)  # fmt: skip
REQUEST_FIELDS = {f.name for f in fields(VideoRequest)}


def migrate(db: sqlite3.Connection) -> None:
    """Create or upgrade the table in one write transaction; every step may already be done
    (by a release without versions, or by another opener), so each is idempotent."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in filter(str.strip, (SCHEMA + RATINGS).split(";")):
            db.execute(statement)
        have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
        for name, kind in ADDED.items():
            if name not in have:
                db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
        for row_id, request in db.execute("SELECT id, request FROM jobs WHERE model IS NULL").fetchall():
            model = _model_of(request)
            if model is not None:
                db.execute("UPDATE jobs SET model = ? WHERE id = ?", (model, row_id))
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise


def _model_of(request: Any) -> str | None:
    """The model named in a stored request body; None for a row that cannot tell (left for
    ``_select`` to skip, as before)."""
    try:
        body = json.loads(request)
    except (TypeError, ValueError):
        return None
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def encode(job: Job) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job's columns (all but the store's own: owner, lease, update time) and its request
    body; refuses a server string that is not text rather than store it as something else."""
    req = job.request
    body = {f: getattr(req, f) for f in REQUEST_FIELDS}
    if isinstance(body["image_url"], tuple):
        body["image_url"] = list(body["image_url"])
    cols = {name: column_value(job, name) for name in MUTABLE}
    for name in ("video_url", "cover_url", "task_id", "error", "note"):
        if cols[name] is not None and not isinstance(cols[name], str):
            kind = type(cols[name]).__name__
            raise ConfigError(t("refusing to record a non-text {name} ({kind})", name=name, kind=kind))
    cols.update(
        id=job.id,
        request=json.dumps(body),
        duration_key=duration_key(req.params()),
        model=req.model,
        created_at=job.created_at,
    )
    return cols, body


def column_value(job: Job, name: str) -> Any:
    value = getattr(job, name)
    if isinstance(value, JobStatus):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    return value


def journaled(job: Job) -> bool:
    """Rows a corrupt ledger must not forget: any that may have a task on the server. The
    DOWNLOADING step is left out: it adds nothing a rebuild needs (the RUNNING file has the task
    id, and the job polls again), and a file write per move is a third of the ledger's CPU."""
    if job.status is JobStatus.DOWNLOADING:
        return False
    return bool(job.task_id) or job.status in (JobStatus.SUBMITTING, JobStatus.UNKNOWN)


def rating_from_row(row: dict[str, Any]) -> Rating:
    """A Rating back from a row of the ratings table (a dict of columns)."""
    return Rating(
        job_id=str(row["job_id"]), stars=row["stars"], rater=row["rater"], blind=bool(row["blind"]),
        session=row["session"], letter=row["letter"], won=bool(row["won"]), note=row["note"],
        created_at=float(row["created_at"]),
    )  # fmt: skip


def job_from_row(row: dict[str, Any]) -> Job:
    """A Job back from a row (a dict of columns); raises on a row it cannot read."""
    body = json.loads(row["request"])
    if not isinstance(body, dict):
        raise TypeError("request is not an object")
    if isinstance(body.get("image_url"), list):
        body["image_url"] = tuple(body["image_url"])
    job = Job(request=VideoRequest(**body), status=JobStatus(row["status"]), created_at=row["created_at"])
    job.rating, job.rating_note = row.get("rating"), row.get("rating_note")
    for name in MUTABLE:
        value = row.get(name)
        if name == "status":
            continue
        if name in ("video_path", "cover_path") and value is not None:
            value = Path(value)
        if name in ("emulated", "stopped"):
            value = bool(value)
        setattr(job, name, value)
    if job.status.terminal:
        job._done.set()
    return job
