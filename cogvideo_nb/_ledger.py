"""The ledger: every job in SQLite beside its outputs, so nothing is lost to a kernel restart.

A row is written before its submit request leaves (with the request_id the server dedups on)
and updated on every transition. SQLite's commit is atomic and WAL keeps readers (a second
notebook, the CLI) from blocking the writer. It never stores the API key: request bodies hold
none, and settings are not written here.

Ownership: each row names the live process that runs it (``owner``) and until when
(``lease_until``, renewed). Any number of kernels can share a folder; a job is adopted only
when its owner is gone, so no task is polled, downloaded or submitted by two of them.

Every row that may have a task on the server (submitting, unknown, or naming a task) is also
mirrored to ``.cogvideo-jobs/<id>.json`` (with its owner): a ledger found corrupt is moved
aside, and any ledger that lacks a job its journal knows (corrupt, deleted, emptied) gets the
row back on open, so no paid task is forgotten. Opening is safe under any number of
concurrent openers: one at a time (a lock file), the schema made or migrated in one write
transaction, versioned, and only a file SQLite cannot read counts as corrupt.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ._errors import ConfigError, ValidationError
from ._i18n import t
from ._jobs import Job, JobStatus
from ._ledger_rows import (
    REQUEST_FIELDS,
    SCHEMA_VERSION,
    encode,
    job_from_row,
    journaled,
    migrate,
    rating_from_row,
)
from ._owners import LIVE_OWNERS, new_owner, owner_alive
from ._ratings import Rating

__all__ = ["JOURNAL_DIR", "Ledger", "waits_in"]

log = logging.getLogger("cogvideo_nb")
JOURNAL_DIR = ".cogvideo-jobs"
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26
# What a gallery tile needs of a row: no Job is built, and the request comes without its image.
_LIGHT = (
    "id, status, label, created_at, submitted_at, finished_at, run_seconds, model, rating, rating_note, "
    "original_prompt, rewrite, continues, cover_path, video_path, error, note, emulated, task_id, "
    "json_remove(request, '$.image_url') AS request, "
    "COALESCE(json_type(request, '$.image_url') NOT IN ('null'), 0) AS has_image"
)
_ORDERS = {
    "newest": "created_at DESC, id DESC",
    "oldest": "created_at ASC, id ASC",
    "rating": "rating IS NULL, rating DESC, created_at DESC, id DESC",
}
# A repeat sends the same request under another request id (user_id: who, not what).
_SAME_REQUEST = tuple(sorted(REQUEST_FIELDS - {"request_id", "user_id"}))


def waits_in(path: str | Path, limit: int = 2000) -> list[tuple[str, float]]:
    """(duration key, seconds from submission to the video on disk) of the latest succeeded jobs
    in the ledger at ``path``, watched from start to end (a resumed job has no run_seconds): what
    a plan's estimate (``_estimate``) counts a job's wait by. Read-only, without a Ledger: a dry
    run creates no folder, file or owner, and a missing or unreadable ledger is no history."""
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error:
        return []
    try:
        rows = db.execute(
            "SELECT duration_key, finished_at - submitted_at FROM jobs WHERE status = ? AND "
            "run_seconds IS NOT NULL AND submitted_at IS NOT NULL AND finished_at IS NOT NULL "
            "ORDER BY finished_at DESC LIMIT ?",
            (JobStatus.SUCCEEDED.value, limit),
        ).fetchall()
    except sqlite3.Error:
        return []
    finally:
        db.close()
    return [(str(k), float(s)) for k, s in rows if isinstance(s, (int, float))]


def _corrupt(exc: sqlite3.Error) -> bool:
    """Only a file SQLite cannot read is corrupt: a lock, or a column another opener just
    added, is not (and moving a live ledger aside splits the folder's history)."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return isinstance(exc, sqlite3.DatabaseError) and any(
        text in str(exc) for text in ("not a database", "malformed")
    )


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """A cross-process lock (POSIX ``flock``) held while the ledger is opened. Where there is
    none (Windows), SQLite's own write transaction still keeps the migration whole."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        reason = exc.strerror or exc
        raise ConfigError(
            t("cannot open the ledger's lock file {path}: {reason}", path=lock_path, reason=reason)
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Ledger:
    """One SQLite file; safe to call from any thread (one connection, one lock).

    Every failure to open, read or write is a ConfigError naming the file, never a raw
    ``sqlite3``/``OSError``.
    """

    def __init__(self, path: str | Path, *, lease: float = 60.0, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.lease = lease
        self.busy_timeout = busy_timeout  # how long a write waits for another process's lock
        self.owner = new_owner()
        self.journal = self.path.parent / JOURNAL_DIR
        self._lock = threading.Lock()
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".cogvideo-write-test-{os.getpid()}-{secrets.token_hex(4)}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            reason = exc.strerror or exc
            raise ConfigError(
                t("the output folder {folder} is not writable: {reason}", folder=folder, reason=reason)
            ) from None
        # Open, migrate and repair one process at a time: two openers of a fresh folder must
        # not take each other's lock or half-added column for corruption, nor both repair.
        with _exclusive(self.path.with_name(self.path.name + ".lock")):
            try:
                self._db = self._open()
            except sqlite3.Error as exc:
                if not _corrupt(exc):
                    raise ConfigError(
                        t("cannot open the ledger {path}: {reason}", path=self.path, reason=exc)
                    ) from None
                aside = self._move_aside(exc)
                try:
                    self._db = self._open()
                except sqlite3.Error as again:
                    raise ConfigError(
                        t("cannot open the ledger {path}: {reason}", path=self.path, reason=again)
                    ) from None
                log.warning(
                    "the ledger %s was unreadable (%s); moved it to %s and started a fresh one",
                    self.path, exc, aside,
                )  # fmt: skip
            restored = self._restore()
        LIVE_OWNERS.add(self.owner)
        if restored:
            log.warning(
                "restored %d job(s) from %s that the ledger %s lacked", restored, self.journal, self.path
            )

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=self.busy_timeout
        )
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                migrate(db)
            db.execute("SELECT COUNT(*) FROM jobs").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self, exc: BaseException) -> Path:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                try:
                    os.replace(src, Path(str(aside) + suffix))
                except OSError as err:
                    raise ConfigError(
                        t(
                            "the ledger {path} is corrupt ({problem}) and cannot be moved aside: {reason}",
                            path=self.path,
                            problem=exc,
                            reason=err,
                        )
                    ) from None
        return aside

    def _restore(self) -> int:
        """Rows back from the journal files wherever the ledger lacks them (it was corrupt,
        deleted, emptied or had rows deleted), so no task that may exist is forgotten. Each
        keeps its owner: a process still running the job keeps it, a dead one's is adoptable."""
        files = {p.stem: p for p in self.journal.glob("*.json")} if self.journal.is_dir() else {}
        if not files:
            return 0
        with self._lock:
            have = {row[0] for row in self._exec("SELECT id FROM jobs")}
        count = 0
        for job_id in sorted(files.keys() - have):
            path = files[job_id]
            try:
                row = json.loads(path.read_text("utf-8"))
                job = job_from_row(row)
                job.note = t("rebuilt from the journal: the ledger had lost this job")
                owner = row.get("owner") if isinstance(row.get("owner"), str) else None
                self._write(job, journal=False, owner=owner, only_new=True)
                count += 1
            except (ValueError, TypeError, KeyError, OSError, ConfigError) as exc:
                log.warning("skipping unreadable journal file %s: %s", path, exc)
        return count

    # -- writes ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE: a check and its write see no
        other process in between), committed when the block ends, rolled back on any error; a
        database error is a ConfigError. Holds the connection's lock throughout."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, OSError) as exc:
                raise ConfigError(
                    t("could not write the ledger {path}: {reason}", path=self.path, reason=exc)
                ) from None

    def record(self, job: Job, *, journal: bool = True) -> None:
        """Insert or update the job's row in one atomic statement; new rows are owned by us."""
        self._write(job, journal=journal)

    def record_if_owned(self, job: Job) -> bool:
        """Write the job's move only while its row is still ours, in one statement: False (and
        nothing written) when another process has adopted it. Saves the engine a separate
        ownership read before each download."""
        return self._write(job, condition=" WHERE jobs.owner IS excluded.owner")

    def _write(
        self,
        job: Job,
        *,
        condition: str = "",
        journal: bool = True,
        owner: str | None = None,
        only_new: bool = False,
    ) -> bool:
        sql, args, cols, body = self._upsert(job, owner=owner, only_new=only_new)
        try:
            with self._lock:
                cur = self._db.execute(sql + condition, args)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(
                t("could not write the ledger {path}: {reason}", path=self.path, reason=exc)
            ) from None
        if cur.rowcount == 0:
            return False
        if journal and journaled(job):
            self._journal(cols, body)
        return True

    def record_if_room(self, job: Job, total: int, model_cap: int) -> bool:
        """Write the job (about to be submitted) only if the tasks in flight of every live
        process on this folder leave room under both caps: check and write in one transaction,
        so two kernels cannot both take the last slot."""
        sql, args, cols, body = self._upsert(job)
        with self._transaction() as db:
            busy, busy_model = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(model = ?), 0) FROM jobs "
                "WHERE status IN ('submitting', 'running') AND id != ? AND lease_until > ?",
                (job.request.model, job.id, time.time()),
            ).fetchone()
            if busy >= total or busy_model >= model_cap:
                return False  # nothing written: the transaction ends empty
            db.execute(sql, args)
        if journaled(job):
            self._journal(cols, body)
        return True

    def _upsert(
        self, job: Job, *, owner: str | None = None, only_new: bool = False
    ) -> tuple[str, tuple[Any, ...], dict[str, Any], dict[str, Any]]:
        """The row's statement: an upsert owned by us, or (``only_new``, a restore) an insert
        that leaves an existing row alone, owned by ``owner``."""
        cols, body = encode(job)
        now = time.time()
        cols.update(
            updated_at=now,
            owner=owner if only_new else self.owner,
            lease_until=now + self.lease if (owner or not only_new) else None,
        )
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)
        keep = ("id", "created_at", "request", "model", "owner", "lease_until")
        updates = ", ".join(f"{n}=excluded.{n}" for n in cols if n not in keep)
        conflict = "DO NOTHING" if only_new else f"DO UPDATE SET {updates}"
        sql = f"INSERT INTO jobs ({names}) VALUES ({marks}) ON CONFLICT(id) {conflict}"  # noqa: S608
        return sql, tuple(cols.values()), cols, body

    def _journal(self, cols: dict[str, Any], body: dict[str, Any]) -> None:
        row = {k: v for k, v in cols.items() if k != "lease_until"}  # the owner: see _restore
        row["request"] = json.dumps(body)
        try:
            self.journal.mkdir(exist_ok=True)
            tmp = self.journal / f".{cols['id']}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(row), "utf-8")
            os.replace(tmp, self.journal / f"{cols['id']}.json")
        except OSError as exc:
            raise ConfigError(
                t("could not write the job journal in {folder}: {reason}", folder=self.journal, reason=exc)
            ) from None

    def rate(self, job_id: str, rating: int | None, note: str | None = None) -> None:
        """Store a 1-5 rating and note (checked by the engine). Only these two columns change (not
        a state move, and never the owner's), so a rating cannot overwrite what the engine wrote."""
        with self._lock:
            cur = self._exec(
                "UPDATE jobs SET rating = ?, rating_note = ? WHERE id = ?", (rating, note or None, job_id)
            )
        if cur.rowcount == 0:
            raise ValidationError(t("no job {job} in the ledger", job=repr(job_id)), field="job")

    def add_ratings(self, ratings: Sequence[Rating]) -> None:
        """Store several people's ratings (checked by the engine) in one transaction: a blind
        pass is recorded whole or not at all."""
        if not ratings:
            return
        rows = [
            (r.job_id, r.stars, r.rater or None, int(r.blind), r.session, r.letter, int(r.won),
             r.note or None, r.created_at)
            for r in ratings
        ]  # fmt: skip
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO ratings (job_id, stars, rater, blind, session, letter, won, note, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def ratings(self, job_ids: Iterable[str] | None = None) -> list[Rating]:
        """The ratings table's rows (of these jobs, or all), oldest first."""
        ids = None if job_ids is None else list(dict.fromkeys(job_ids))
        if ids == []:
            return []
        where = "" if ids is None else f"WHERE job_id IN ({','.join('?' for _ in ids)})"
        with self._lock:
            cur = self._exec(f"SELECT * FROM ratings {where} ORDER BY created_at, id", tuple(ids or ()))  # noqa: S608
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        return [rating_from_row(row) for row in rows]

    # -- ownership -------------------------------------------------------------------------------
    def claim(self, job_id: str, status: JobStatus | None = None) -> bool:
        """Take the job if nobody live owns it; True when it is ours now. With ``status``, only
        if the row still has the status it was read with: a job that ended since is no orphan."""
        now = time.time()
        with self._lock:
            row = self._exec("SELECT owner, lease_until, status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return False
            owner, until, current = row
            if status is not None and current != status.value:
                return False
            if owner not in (None, self.owner) and (until or 0) > now and owner_alive(owner):
                return False
            cur = self._exec(
                "UPDATE jobs SET owner = ?, lease_until = ? WHERE id = ? AND owner IS ? AND status = ?",
                (self.owner, now + self.lease, job_id, owner, current),
            )
            return cur.rowcount == 1

    def renew(self, job_ids: list[str]) -> set[str]:
        """Extend our lease on these jobs; returns those still ours (others were adopted)."""
        if not job_ids:
            return set()
        marks = ",".join("?" for _ in job_ids)
        with self._lock:
            self._exec(
                f"UPDATE jobs SET lease_until = ? WHERE owner = ? AND id IN ({marks})",  # noqa: S608
                (time.time() + self.lease, self.owner, *job_ids),
            )
            rows = self._exec(
                f"SELECT id FROM jobs WHERE owner = ? AND id IN ({marks})",  # noqa: S608
                (self.owner, *job_ids),
            ).fetchall()
        return {r[0] for r in rows}

    def release(self) -> None:
        """Give up every job we own (on close), so another process may adopt them at once."""
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.execute(
                "UPDATE jobs SET owner = NULL, lease_until = NULL WHERE owner = ?", (self.owner,)
            )

    # -- reads -----------------------------------------------------------------------------------
    def load(self, job_id: str) -> Job | None:
        rows = self._select("WHERE id = ?", (job_id,))
        return rows[0] if rows else None

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

    def resumable(self, *, include_stopped: bool = False) -> list[Job]:
        """Jobs worth picking up: not sent yet, or a task with no result on disk.

        Excluded: successes, tasks the server said FAIL, failures before any task existed,
        unknown submit outcomes (never resubmitted on our own) and, unless asked, jobs the
        user stopped.
        """
        return self._select(
            "WHERE status IN ('queued', 'submitting') "
            "OR (task_id IS NOT NULL AND status IN ('running', 'downloading', 'detached', 'failed') "
            "    AND COALESCE(error_type, '') != 'TaskFailedError' AND (stopped = 0 OR ?)) "
            "OR (task_id IS NULL AND status = 'detached' AND (stopped = 0 OR ?)) "
            "ORDER BY created_at",
            (int(include_stopped), int(include_stopped)),
        )

    def history(self, limit: int = 50) -> list[Job]:
        return self._select("ORDER BY created_at DESC LIMIT ?", (limit,))

    # -- the gallery's reads: light rows (no Job, no image bytes), filtered and ordered in SQL ------
    def browse(
        self,
        *,
        text: str = "",
        model: str = "",
        statuses: Sequence[str] = (),
        rating: int | None = None,
        since: float | None = None,
        until: float | None = None,
        order: str = "newest",
        limit: int = 48,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of rows and how many match in all. ``text``: in the prompt, the user's own
        prompt before a rewrite, the label, the note or the id (case-blind for ASCII); ``rating``:
        at least that many stars, 0 for unrated; ``since``/``until``: created in [since, until);
        ``order``: newest, oldest or rating (best first, unrated last, then newest). A row holds
        the columns a tile shows, ``request`` without its image (a first frame can be megabytes of
        Base64) and ``has_image``; nothing is read of a video."""
        where, args = self._browse_where(text, model, statuses, rating, since, until)
        by = _ORDERS.get(order)
        if by is None:
            raise ValidationError(t("unknown order {order}", order=repr(order)), field="order")
        with self._lock:
            total = int(self._exec(f"SELECT COUNT(*) FROM jobs{where}", args).fetchone()[0])  # noqa: S608
            cur = self._exec(
                f"SELECT {_LIGHT} FROM jobs{where} ORDER BY {by} LIMIT ? OFFSET ?",  # noqa: S608
                (*args, max(0, limit), max(0, offset)),
            )
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        return rows, total

    @staticmethod
    def _browse_where(
        text: str,
        model: str,
        statuses: Sequence[str],
        rating: int | None,
        since: float | None,
        until: float | None,
    ) -> tuple[str, tuple[Any, ...]]:
        terms: list[str] = []
        args: list[Any] = []
        if text.strip():
            like = "%" + text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            fields = ("json_extract(request, '$.prompt')", "original_prompt", "label", "rating_note", "id")
            terms.append("(" + " OR ".join(f"{f} LIKE ? ESCAPE '\\'" for f in fields) + ")")
            args += [like] * len(fields)
        if model:
            terms.append("model = ?")
            args.append(model)
        if statuses:
            terms.append(f"status IN ({','.join('?' for _ in statuses)})")
            args += list(statuses)
        if rating == 0:
            terms.append("rating IS NULL")
        elif rating is not None:
            terms.append("rating >= ?")
            args.append(rating)
        if since is not None:
            terms.append("created_at >= ?")
            args.append(since)
        if until is not None:
            terms.append("created_at < ?")
            args.append(until)
        return (" WHERE " + " AND ".join(terms) if terms else ""), tuple(args)

    def models(self) -> list[str]:
        """Every model this folder's jobs used, sorted (what a filter offers)."""
        with self._lock:
            rows = self._exec("SELECT DISTINCT model FROM jobs WHERE model IS NOT NULL ORDER BY model")
            return [str(r[0]) for r in rows.fetchall()]

    def runs_of(self, job_id: str) -> list[str]:
        """Ids of every job that sent the same request as ``job_id`` (all but the request id:
        ``--n 3``, a Retry), oldest first, itself included; [] when it is not in the ledger.
        Compared field by field: a body's keys are stored in no fixed order."""
        same = " AND ".join(
            f"json_extract(a.request, '$.{f}') IS json_extract(b.request, '$.{f}')" for f in _SAME_REQUEST
        )
        with self._lock:
            rows = self._exec(
                "SELECT b.id FROM jobs a JOIN jobs b ON a.duration_key = b.duration_key "  # noqa: S608
                f"AND {same} WHERE a.id = ? ORDER BY b.created_at, b.id",
                (job_id,),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def continued_by(self, job_id: str) -> list[tuple[str, str]]:
        """(id, prompt) of the jobs that start from this one's last frame, oldest first."""
        with self._lock:
            rows = self._exec(
                "SELECT id, json_extract(request, '$.prompt') FROM jobs WHERE continues = ? "
                "ORDER BY created_at",
                (job_id,),
            ).fetchall()
        return [(str(i), str(p or "")) for i, p in rows]

    def sent_prompt(self, prompt: str, before: float) -> str | None:
        """The id of the latest job created by ``before`` that sent exactly ``prompt`` (the
        unenhanced cell beside an enhanced one), or None."""
        with self._lock:
            row = self._exec(
                "SELECT id FROM jobs WHERE json_extract(request, '$.prompt') = ? AND created_at <= ? "
                "ORDER BY created_at DESC LIMIT 1",
                (prompt, before),
            ).fetchone()
        return str(row[0]) if row else None

    def durations(self, limit: int = 2000) -> list[tuple[str, float]]:
        """(duration key, seconds) of finished runs, oldest first, to seed the poll policy."""
        with self._lock:
            rows = self._exec(
                "SELECT duration_key, run_seconds FROM jobs WHERE run_seconds IS NOT NULL "
                "ORDER BY finished_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        out = []
        for k, s in reversed(rows):
            with contextlib.suppress(TypeError, ValueError):
                out.append((str(k), float(s)))
        return out

    def count(self) -> int:
        with self._lock:
            return int(self._exec("SELECT COUNT(*) FROM jobs").fetchone()[0])

    def close(self) -> None:
        LIVE_OWNERS.discard(self.owner)
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise ConfigError(
                t("could not use the ledger {path}: {reason}", path=self.path, reason=exc)
            ) from None

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Job]:
        with self._lock:
            cur = self._exec(f"SELECT * FROM jobs {where}", args)  # noqa: S608
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        jobs = []
        for row in rows:
            try:
                jobs.append(job_from_row(row))
            except (ValueError, TypeError, KeyError) as exc:  # one bad row must not hide the rest
                log.warning("skipping unreadable ledger row %r in %s: %s", row.get("id"), self.path, exc)
        return jobs
