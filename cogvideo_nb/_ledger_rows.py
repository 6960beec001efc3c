"""The ledger's row format: schema, columns, Job <-> row conversion, and which rows are mirrored
to journal files. Pure, so the format is read and checked without a database."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from ._jobs import Job, JobStatus
from ._request import VideoRequest

__all__ = [
    "ADDED",
    "MUTABLE",
    "REQUEST_FIELDS",
    "SCHEMA",
    "column_value",
    "job_from_row",
    "journaled",
]  # fmt: skip

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
# Columns added after the first release; old ledgers get them on open.
ADDED = {
    "note": "TEXT", "stopped": "INTEGER NOT NULL DEFAULT 0", "owner": "TEXT", "lease_until": "REAL",
    # a prompt study: the enhanced prompt's origin, the chain link, a person's rating and note
    "original_prompt": "TEXT", "continues": "TEXT", "rating": "INTEGER", "rating_note": "TEXT",
}  # fmt: skip

MUTABLE = (
    "task_id", "status", "label", "submitted_at", "finished_at", "video_url", "cover_url",
    "video_path", "cover_path", "video_sha256", "cover_sha256", "error", "error_type", "emulated",
    "run_seconds", "note", "stopped", "original_prompt", "continues",
)  # fmt: skip
REQUEST_FIELDS = {f.name for f in fields(VideoRequest)}


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
