"""Ratings, notes, the enhanced prompt's origin and chain links live in the ledger, beside the job."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cogvideo_nb import Job, ValidationError, build_request, generate, get_engine, rate
from cogvideo_nb._ledger import Ledger

# generate() and rate() make their engine with get_engine(): it polls fast too.
pytestmark = pytest.mark.usefixtures("fast_default_polls")


def test_a_rating_and_note_are_kept_in_the_ledger(engine_opts: dict[str, Any], tmp_path: Path) -> None:
    job = generate("a heron lifts off a pond", timeout=30, **engine_opts)
    rate(job, 4, "wings too stiff", **engine_opts)
    assert (job.rating, job.rating_note) == (4, "wings too stiff")
    fresh = Ledger(tmp_path / "out" / "ledger.sqlite")  # as another kernel would read it
    stored = fresh.load(job.id)
    assert stored is not None and (stored.rating, stored.rating_note) == (4, "wings too stiff")
    assert stored.to_dict()["rating"] == 4
    # a later state write by the engine does not erase it
    get_engine(**engine_opts).ledger.record(job)
    again = fresh.load(job.id)
    assert again is not None and again.rating == 4
    rate(job.id[:14], None, **engine_opts)  # by id prefix, and None clears
    cleared = fresh.load(job.id)
    assert cleared is not None and cleared.rating is None and cleared.rating_note is None
    for bad in (0, 6, True, 2.5):
        with pytest.raises(ValidationError, match="rating must be 1 to 5"):
            rate(job, bad, **engine_opts)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="under 500"):
        rate(job, 3, "x" * 501, **engine_opts)
    with pytest.raises(ValidationError, match="no job matches"):
        rate("nope-nothing", 3, **engine_opts)


def test_original_prompt_and_chain_link_survive_a_reload(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    job = Job(
        request=build_request("A red fox trots through snow."), original_prompt="fox", continues="cvnb-1"
    )
    ledger.record(job)
    back = Ledger(tmp_path / "l.sqlite").load(job.id)
    assert back is not None
    assert (back.prompt, back.original_prompt, back.continues) == (
        "A red fox trots through snow.",
        "fox",
        "cvnb-1",
    )


def test_an_older_ledger_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE jobs (id TEXT PRIMARY KEY, task_id TEXT, status TEXT NOT NULL, label TEXT, "
        "request TEXT NOT NULL, duration_key TEXT NOT NULL, created_at REAL NOT NULL, submitted_at REAL, "
        "finished_at REAL, run_seconds REAL, video_url TEXT, cover_url TEXT, video_path TEXT, "
        "cover_path TEXT, video_sha256 TEXT, cover_sha256 TEXT, error TEXT, error_type TEXT, "
        "emulated INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL)"
    )
    db.commit()
    db.close()
    ledger = Ledger(path)
    job = Job(request=build_request("x"))
    ledger.record(job)
    ledger.rate(job.id, 5, "best")
    loaded = ledger.load(job.id)
    assert loaded is not None and loaded.rating == 5
