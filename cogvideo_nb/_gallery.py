"""The output folder as a gallery: every job of its ledger, a page at a time, as posters.

Pure (no IPython), so the widget (``widgets/_gallery``) and the saved page are thin, and tests
call it directly. Filters and sort run in SQL (``Ledger.browse``) and a page is built from light
rows, never from Jobs; a poster is a small JPEG made once per cover, then kept on disk
(``.cogvideo-thumbs/`` beside the ledger) and in memory; no video is read: the page plays one
from the Jupyter server when a person hovers or opens it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._errors import ValidationError
from ._html import (
    FG,
    LINK,
    MUTED,
    jpeg_thumbnail,
    make_poster,
    params_text,
    rel_url,
    under_root,
    unserved,
)
from ._i18n import N_, t, tn
from ._jobs import Job, JobStatus
from ._ledger import Ledger
from ._pipeline import rewrite_steps
from ._request import VideoRequest

__all__ = [
    "ACTIVE",
    "PAGE_SIZE",
    "POSTER_SLOT",
    "SORTS",
    "THUMBS_DIR",
    "THUMB_WIDTH",
    "Filters",
    "Item",
    "Link",
    "Page",
    "browse",
    "card_data",
    "choices",
    "describe",
    "gallery_html",
    "lineage",
    "poster",
    "tile_html",
]

PAGE_SIZE = 48  # a page: what the kernel sends at once (posters included)
THUMB_WIDTH = 240  # px: a tile's poster, a few kB of JPEG
THUMBS_DIR = ".cogvideo-thumbs"  # beside the ledger: posters made once, for every kernel
POSTER_SLOT = "\x00poster:{id}\x00"  # where a tile's poster goes in a snapshot the page fills
SORTS = {"newest": N_("newest first"), "oldest": N_("oldest first"), "rating": N_("best rated first")}
ACTIVE = ("queued", "submitting", "running", "downloading")  # the status filter's "in flight"
_RATINGS = ("", "unrated", "5", "4", "3", "2", "1")


def _day(text: str, name: str) -> float:
    """Local midnight of ``YYYY-MM-DD`` as a timestamp."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            t("{name} must be a date like 2026-01-31, not {value}", name=name, value=repr(text)), field=name
        ) from None
    return time.mktime(day.timetuple())


@dataclass(frozen=True)
class Filters:
    """What the gallery shows: each field empty for "any"; every value checked by :meth:`of`."""

    text: str = ""  # in the prompt, the prompt before a rewrite, the label, the note or the id
    model: str = ""
    status: str = ""  # a status, or "active" (in flight)
    rating: str = ""  # "unrated", or "1".."5": that many stars or more
    since: str = ""  # YYYY-MM-DD, local time, inclusive
    until: str = ""  # YYYY-MM-DD, inclusive
    sort: str = "newest"  # newest, oldest, rating

    @classmethod
    def of(cls, raw: Mapping[str, Any] | None = None, **given: Any) -> Filters:
        """Filters from a page's message or a command's options; a bad value is a
        ValidationError that says what is allowed."""
        values = {**(raw or {}), **given}
        unknown = sorted(set(values) - {f for f in cls.__dataclass_fields__})
        if unknown:
            raise ValidationError(t("unknown filter {name}", name=", ".join(unknown)), field="filters")
        clean = {k: "" if v is None else str(v).strip() for k, v in values.items()}
        made = cls(**clean)
        statuses = {s.value for s in JobStatus} | {"active", ""}
        if made.status not in statuses:
            allowed = ", ".join(sorted(statuses - {""}))
            raise ValidationError(t("status must be one of: {allowed}", allowed=allowed), field="status")
        if made.rating not in _RATINGS:
            raise ValidationError(
                t("rating must be unrated or 1 to 5 (that many stars or more), not {value}",
                  value=repr(made.rating)),
                field="rating",
            )  # fmt: skip
        if made.sort not in SORTS:
            allowed = ", ".join(SORTS)
            raise ValidationError(t("sort must be one of: {allowed}", allowed=allowed), field="sort")
        if len(made.text) > 500:
            raise ValidationError(t("the text to look for is over 500 characters"), field="text")
        for name in ("since", "until"):
            if getattr(made, name):
                _day(getattr(made, name), name)
        return made

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def query(self) -> dict[str, Any]:
        """The ledger's arguments (``Ledger.browse``)."""
        until = None
        if self.until:
            next_day = dt.date.fromisoformat(self.until) + dt.timedelta(days=1)
            until = time.mktime(next_day.timetuple())
        return dict(
            text=self.text,
            model=self.model,
            statuses=ACTIVE if self.status == "active" else (self.status,) if self.status else (),
            rating=None if not self.rating else 0 if self.rating == "unrated" else int(self.rating),
            since=_day(self.since, "since") if self.since else None,
            until=until,
            order=self.sort,
        )


def describe(filters: Filters) -> str:
    """The filters in force, in words (a saved page's heading); "" for none."""
    said = []
    if filters.text:
        said.append(t("with “{text}”", text=filters.text))
    if filters.model:
        said.append(filters.model)
    if filters.status:
        said.append(t("in flight") if filters.status == "active" else JobStatus(filters.status).word)
    if filters.rating == "unrated":
        said.append(t("unrated"))
    elif filters.rating:
        said.append(t("{stars} or more", stars="★" * int(filters.rating)))
    if filters.since:
        said.append(t("since {day}", day=filters.since))
    if filters.until:
        said.append(t("until {day}", day=filters.until))
    if filters.sort != "newest":
        said.append(t(SORTS[filters.sort]))
    return " · ".join(said)


def choices(models: Sequence[str]) -> dict[str, list[list[str]]]:
    """What each filter offers, as (value, words) in the language in force."""
    statuses = [[s.value, s.word] for s in JobStatus]
    ratings = [["", t("any rating")], ["unrated", t("unrated")]]
    ratings += [[str(n), t("{stars} or more", stars="★" * n) if n < 5 else "★" * 5] for n in range(5, 0, -1)]
    return {
        "model": [["", t("any model")], *([m, m] for m in models)],
        "status": [["", t("any status")], ["active", t("in flight")], *statuses],
        "rating": ratings,
        "sort": [[k, t(v)] for k, v in SORTS.items()],
    }


@dataclass(frozen=True)
class Item:
    """One tile: a ledger row as the gallery shows it (light: no Job, no image, no video)."""

    id: str
    prompt: str
    status: JobStatus
    model: str
    params: str
    created_at: float
    label: str = ""
    finished_at: float | None = None
    rating: int | None = None
    rating_note: str | None = None
    original_prompt: str | None = None
    rewrite: str | None = None
    continues: str | None = None
    cover_path: Path | None = None
    video_path: Path | None = None
    emulated: bool = False
    error: str = ""
    has_image: bool = False

    @property
    def short_id(self) -> str:
        return self.id[-8:]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Item:
        """From ``Ledger.browse``'s row; raises on a row it cannot read."""
        import json

        body = json.loads(row["request"])
        if not isinstance(body, dict):
            raise TypeError("request is not an object")
        req = VideoRequest(**body)
        params = " · ".join(f"{k}={v}" for k, v in req.params().items() if v is not None)
        return cls(
            id=str(row["id"]), prompt=req.prompt, status=JobStatus(row["status"]), model=req.model,
            params=params, created_at=float(row["created_at"]), label=row.get("label") or "",
            finished_at=row.get("finished_at"), rating=row.get("rating"), rating_note=row.get("rating_note"),
            original_prompt=row.get("original_prompt"), rewrite=row.get("rewrite"),
            continues=row.get("continues"),
            cover_path=Path(row["cover_path"]) if row.get("cover_path") else None,
            video_path=Path(row["video_path"]) if row.get("video_path") else None,
            emulated=bool(row.get("emulated")), error=row.get("error") or "",
            has_image=bool(row.get("has_image")),
        )  # fmt: skip

    def to_dict(self, poster: str | None) -> dict[str, Any]:
        """What the page draws of a tile (JSON): its words in the language in force; the video as a
        path under the Jupyter server's root (played from there on hover, never read here)."""
        done = self.status is JobStatus.SUCCEEDED and self.video_path is not None
        return {
            "id": self.id, "short_id": self.short_id, "prompt": self.prompt, "status": self.status.value,
            "status_word": self.status.word, "model": self.model, "params": self.params, "label": self.label,
            "created": _when(self.created_at), "rating": self.rating or 0,
            "rating_note": self.rating_note or "", "emulated": self.emulated, "error": self.error,
            "poster": poster or "", "poster_pending": poster is None,
            "video_rel": (under_root(self.video_path) or "") if done and self.video_path else "",
            "rewritten": bool(self.original_prompt), "continues": self.continues or "",
        }  # fmt: skip


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


@dataclass(frozen=True)
class Page:
    items: list[Item]
    total: int
    number: int  # 1-based
    size: int
    filters: Filters = field(default_factory=Filters)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def first(self) -> int:
        """The 1-based place of the first item in all matches (0 when there are none)."""
        return (self.number - 1) * self.size + 1 if self.items else 0


def browse(ledger: Ledger, filters: Filters | None = None, number: int = 1, size: int = PAGE_SIZE) -> Page:
    """Page ``number`` (clamped to the pages there are) of the jobs ``filters`` lets through."""
    filters = filters or Filters()
    size = max(1, size)
    number = max(1, number)
    query = filters.query()
    rows, total = ledger.browse(**query, limit=size, offset=(number - 1) * size)
    last = max(1, math.ceil(total / size))
    if number > last:  # fewer matches than before (a filter, a page gone): its last page
        number = last
        rows, total = ledger.browse(**query, limit=size, offset=(number - 1) * size)
    items = []
    for row in rows:
        try:
            items.append(Item.from_row(row))
        except (ValueError, TypeError, KeyError):  # one bad row must not hide the rest
            continue
    return Page(items, total, number, size, filters)


# -- posters --------------------------------------------------------------------------------------
_MEMORY: OrderedDict[tuple[str, int, int], str] = OrderedDict()
_MEMORY_MAX = 2048
_LOCK = threading.Lock()


def poster(cover: Path | None, folder: Path | None, *, make: bool = True) -> str | None:
    """A tile's poster: the cover as a small inline JPEG. Made once per cover (Pillow, a few ms;
    a 1080p cover tens), then read from ``folder/.cogvideo-thumbs/`` (any kernel) or memory.
    "" when there is none to have (no cover, one that cannot be decoded); None when ``make`` is
    False and it is not made yet: the caller makes it later, off the first page's path."""
    if cover is None:
        return ""
    try:
        st = cover.stat()
    except OSError:
        return ""
    key = (str(cover), st.st_mtime_ns, st.st_size)
    with _LOCK:
        if key in _MEMORY:
            _MEMORY.move_to_end(key)
            return _MEMORY[key]
    name = hashlib.sha1("|".join(map(str, key)).encode(), usedforsecurity=False).hexdigest()[:24] + ".jpg"
    kept = folder / THUMBS_DIR / name if folder is not None else None
    data: bytes | None = None
    if kept is not None:
        try:
            data = kept.read_bytes()
        except OSError:
            data = None
    if data is None:
        if not make:
            return None
        made = jpeg_thumbnail(cover, THUMB_WIDTH, quality=70)
        data = made[0] if made else b""
        if data and kept is not None:
            _keep(kept, data)
    url = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii") if data else ""
    with _LOCK:
        _MEMORY[key] = url
        while len(_MEMORY) > _MEMORY_MAX:
            _MEMORY.popitem(last=False)
    return url


def _keep(path: Path, data: bytes) -> None:
    """Written whole or not at all; an unwritable folder only costs making it again."""
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass


# -- one job's card: parameters, lineage, rating --------------------------------------------------
@dataclass(frozen=True)
class Link:
    """One line of a job's lineage; ``job``: the job it names (its card opens on a click)."""

    said: str
    job: str | None = None


def _named(ledger: Ledger, job_id: str) -> str:
    found = ledger.load(job_id)
    prompt = found.prompt if found else ""
    return f"{job_id[-8:]} · {prompt[:60]}" if prompt else job_id[-8:]


def lineage(ledger: Ledger, job: Job) -> list[Link]:
    """Where the job came from and what came of it: the prompt it was enhanced or translated
    from (and the job that sent that prompt as written, if any), the clip it continues, the
    request it repeats (``--n``, Retry: same request, another task) and the clips continuing it."""
    links: list[Link] = []
    if job.original_prompt:
        enhanced, into = rewrite_steps(job.rewrite)
        if into is None:
            said = t("enhanced from: {prompt}", prompt=job.original_prompt)
        elif enhanced:
            said = t("enhanced and translated from: {prompt}", prompt=job.original_prompt)
        else:
            said = t("translated from: {prompt}", prompt=job.original_prompt)
        links.append(Link(said, ledger.sent_prompt(job.original_prompt, job.created_at)))
    if job.continues:
        links.append(Link(t("continues {job}", job=_named(ledger, job.continues)), job.continues))
    runs = ledger.runs_of(job.id)
    if len(runs) > 1 and job.id in runs:
        i = runs.index(job.id)
        if i:
            said = t("repeat of {job} (run {i} of {n})", job=_named(ledger, runs[0]), i=i + 1, n=len(runs))
            links.append(Link(said, runs[0]))
        else:
            n, after = len(runs) - 1, _named(ledger, runs[1])
            said = tn(
                "repeated {n} more time, next {job}", "repeated {n} more times, next {job}", n, job=after
            )
            links.append(Link(said, runs[1]))
    for child, prompt in ledger.continued_by(job.id):
        links.append(Link(t("continued by {job}", job=f"{child[-8:]} · {prompt[:60]}"), child))
    return links


def card_data(ledger: Ledger, job: Job) -> dict[str, Any]:
    """What the gallery's card of one job shows (JSON): its parameters, prompt, lineage, rating and
    player. The poster is read (a cover); the video is not: the page plays it from the server."""
    done = job.status is JobStatus.SUCCEEDED and job.video_path is not None
    cover = make_poster(job.cover_path) if done else None
    took = ""
    if job.finished_at and job.created_at and job.done:
        took = t("{seconds} s", seconds=f"{job.finished_at - job.created_at:.0f}")
    meta = ""
    if done and job.video_path is not None:
        meta = f"{os.path.abspath(job.video_path)} · {t('task {task}', task=job.task_id or '')}"
        if why := unserved(job.video_path):
            meta += f" · {t(why)}"
    return {
        "id": job.id, "short_id": job.short_id, "prompt": job.prompt, "status": job.status.value,
        "status_word": job.status.word, "params": params_text(job), "label": job.label or "",
        "emulated": job.emulated, "created": _when(job.created_at), "took": took,
        "rating": job.rating or 0, "rating_note": job.rating_note or "", "error": job.error or "",
        "note": job.note or "", "poster": cover.url if cover else "",
        "video_rel": (under_root(job.video_path) or "") if done and job.video_path else "",
        "video_name": job.video_path.name if done and job.video_path else "", "meta": meta,
        "lineage": [{"said": link.said, "job": link.job or ""} for link in lineage(ledger, job)],
    }  # fmt: skip


# -- the saved page, and what a selection becomes ---------------------------------------------------
_BADGE = {
    "succeeded": "#1a7f37", "failed": "#cf222e", "detached": "#9a6700", "unknown": "#9a6700",
}  # fmt: skip


def _tile(item: Item, poster_url: str | None) -> str:
    e = html.escape
    src = POSTER_SLOT.format(id=item.id) if poster_url is None else poster_url
    picture = (
        f'<img src="{e(src)}" alt="" loading="lazy" '
        'style="width:100%;aspect-ratio:16/9;object-fit:cover;display:block;border-radius:6px;background:#000">'
        if src
        else '<div style="width:100%;aspect-ratio:16/9;border-radius:6px;background:#57606a"></div>'
    )
    if item.status is JobStatus.SUCCEEDED and item.video_path is not None:
        picture = f'<a href="{e(rel_url(item.video_path) or "")}" target="_blank">{picture}</a>'
    badge = ""
    if item.status is not JobStatus.SUCCEEDED:
        color = _BADGE.get(item.status.value, "#0969da")
        badge = (
            f'<span style="background:{color};color:#fff;border-radius:10px;padding:0 6px;margin-left:4px">'
            f"{e(item.status.word)}</span>"
        )
    stars = f' <span style="color:#9a6700">{"★" * item.rating}</span>' if item.rating else ""
    label = f" · <b>{e(item.label)}</b>" if item.label else ""
    clipped = item.prompt if len(item.prompt) <= 120 else item.prompt[:119] + "…"
    return (
        f'<div class="cvnb-static-tile" data-cvnb-tile="{e(item.id)}" style="min-width:0">{picture}'
        f'<div style="font-size:11px;color:{MUTED};margin-top:3px">'
        f"<code>{e(item.short_id)}</code>{badge}{stars}{label} · {e(item.model)} · "
        f"{e(_when(item.created_at))}</div>"
        f'<div style="font-size:12px;overflow-wrap:anywhere" title="{e(item.prompt)}">{e(clipped)}</div>'
        "</div>"
    )


def gallery_html(page: Page, posters: Mapping[str, str] | None = None, *, key: str = "") -> str:
    """The page as static HTML: what a saved notebook keeps of the gallery (no widget state, no
    kernel). Every prompt and server string escaped. ``posters`` (id -> data URL): inline; None:
    a :data:`POSTER_SLOT` per tile, which the page fills from what it holds when it saves."""
    e = html.escape
    if page.total:
        head = t("{first}-{last} of {total} jobs", first=page.first, last=page.first + len(page.items) - 1,
                 total=page.total)  # fmt: skip
    else:
        head = t("no jobs match")
    if page.pages > 1:
        head += " · " + t("page {n} of {pages}", n=page.number, pages=page.pages)
    if said := describe(page.filters):
        head += " · " + said
    tiles = "".join(_tile(i, None if posters is None else posters.get(i.id, "")) for i in page.items)
    return (
        f'<div class="cvnb-static-gallery" data-cvnb-gallery="{e(key)}" '
        f'style="font-family:system-ui,sans-serif;color:{FG}">'
        f'<div style="font-size:13px;margin:4px 0"><b>{e(t("Gallery"))}</b> · {e(head)}</div>'
        '<div style="display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px">'
        f"{tiles}</div></div>"
    )


def tile_html(jobs: Sequence[Job], out: str | os.PathLike[str]) -> str:
    """Tile finished clips side by side into ``out`` (plus a contact sheet) and return a player."""
    from ._media import contact_sheet_path, tile  # PyAV loads when a media tool runs

    path = tile(jobs, out, columns=min(len(jobs), 3))
    sheet = contact_sheet_path(path)
    src = html.escape(rel_url(path) or "")
    what = tn("{n} clip side by side", "{n} clips side by side", len(jobs))
    return (
        f'<video src="{src}" controls muted playsinline style="max-width:720px;width:100%"></video>'
        f'<div style="font-size:12px"><a href="{src}" target="_blank" style="color:{LINK}">'
        f"{html.escape(path.name)}</a>"
        f' · <a href="{html.escape(rel_url(sheet) or "")}" target="_blank" style="color:{LINK}">'
        f"{html.escape(sheet.name)}</a> · {html.escape(what)}</div>"
    )
