"""The gallery: every job of the output folder as posters, a page at a time (``%cogvideo gallery``,
``cv.gallery()``).

The kernel sends one page (48 tiles, small posters); the page asks for filters, sort and other
pages, answered from the ledger (``_gallery``: SQL over light rows) on the UI thread. The first
page carries the posters already made (kept on disk, ``.cogvideo-thumbs/``); those not made yet
follow a few at a time, then the next page's are made ahead. No video is read: a poster plays
its video from the Jupyter server while hovered. A click opens a job's card (parameters,
lineage, rating); a selection opens as a comparison grid, or is stitched or tiled, in an output
of its own below the gallery (displayed beforehand, by id: a click runs outside any cell).

Saved, the gallery is the page it showed as static HTML (posters and prompts, escaped): its view
hands the current page to the notebook's save (``_gallery.js``); the kernel puts the first page
in the output's metadata and in the bundle's text/html, for renderers with no widget state, and a
headless run (nbconvert, papermill) gets that page alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anywidget
import traitlets
from IPython.display import display, update_display

from .._config import hide_key_in
from .._engine import Engine, get_engine
from .._errors import CogVideoError
from .._gallery import (
    PAGE_SIZE,
    Filters,
    Item,
    Page,
    browse,
    card_data,
    choices,
    gallery_html,
    poster,
    tile_html,
)
from .._i18n import language, t, tn
from .._jobs import Job, JobStatus
from .._study import stitch_html
from ._bridge import BRIDGE
from ._card import MAX_TRANSFER_BYTES, static_bundle
from ._ending import ESM_NOTEBOOK, mark
from ._grid import CompareGrid
from ._outputs import Outputs
from ._words import heard_page, page_text

__all__ = ["Gallery", "open_gallery"]

T = TypeVar("T")
_HERE = Path(__file__).parent
_GALLERY_JS = (_HERE / "_gallery.js").read_text("utf-8")
_TURN = 0.012  # s of posters per turn of the UI thread: clicks and cards' updates go between turns
MAX_SELECTED = 24  # a grid, a stitch or a tile of more is no comparison


class _OpenedGrid(CompareGrid):
    """A comparison grid a click opened: it goes to an output displayed beforehand, by id, and
    ends there as static HTML like any grid."""

    def show_in(self, output_id: str) -> None:
        self.display_id = output_id
        self.ending.key = output_id
        update_display(self, display_id=output_id, metadata=mark(output_id))
        for card in self.cards:
            card.on_done = self._card_done


class _Results:
    """The output below the gallery: the last selection opened, stitched or tiled."""

    def __init__(self) -> None:
        self.id = f"cvnb-gallery-out-{uuid.uuid4().hex[:12]}"
        self.shown = False

    def display(self) -> None:
        display(static_bundle("", ""), raw=True, display_id=self.id, metadata=mark(self.id))
        self.shown = True

    def grid(self, jobs: list[Job], engine: Engine, title: str) -> CompareGrid:
        grid = _OpenedGrid(jobs, engine, title=title)
        grid.show_in(self.id)
        return grid

    def html(self, text: str, plain: str) -> None:
        with contextlib.suppress(Exception):  # best effort from the UI thread, as for cards
            update_display(
                static_bundle(text, plain), raw=True, display_id=self.id, metadata=mark(self.id, final=True)
            )


class Gallery(anywidget.AnyWidget):
    _esm = ESM_NOTEBOOK + _GALLERY_JS
    # its card (a job opened) is styled as a card is
    _css = (_HERE / "_card.css").read_text("utf-8") + (_HERE / "_gallery.css").read_text("utf-8")

    mid = traitlets.Unicode("").tag(sync=True)  # its own model id
    key = traitlets.Unicode("").tag(sync=True)  # what its outputs show (the page saves them)
    items: traitlets.List[dict[str, Any]] = traitlets.List([]).tag(sync=True)  # this page's tiles
    total = traitlets.Int(0).tag(sync=True)  # jobs matching the filters, on every page
    number = traitlets.Int(1).tag(sync=True)  # this page, 1-based
    pages = traitlets.Int(1).tag(sync=True)
    first = traitlets.Int(0).tag(sync=True)  # the first tile's place among the matches
    filters: traitlets.Dict[str, str] = traitlets.Dict({}).tag(sync=True)  # in force
    choices: traitlets.Dict[str, Any] = traitlets.Dict({}).tag(sync=True)  # what each filter offers
    detail: traitlets.Dict[str, Any] = traitlets.Dict({}).tag(sync=True)  # the open card, or {}
    message = traitlets.Unicode("").tag(sync=True)
    snapshot = traitlets.Unicode("").tag(sync=True)  # the page as static HTML, posters as slots
    text: traitlets.Dict[str, str] = traitlets.Dict({}).tag(sync=True)  # its words (see _words)

    def __init__(
        self,
        engine: Engine,
        *,
        filters: Filters | None = None,
        outputs: Outputs | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.engine = engine
        self.folder = engine.ledger.path.parent
        self.outputs = outputs
        self.page_size = page_size
        self.results = _Results()
        self._generation = 0
        self._opened = 0
        self._wanted: tuple[dict[str, Any], int] = ({}, 1)
        key = f"gallery:{uuid.uuid4().hex[:12]}"
        page = browse(engine.ledger, filters or Filters(), 1, page_size)
        # The first page in the constructor, posters already made only: one message at display.
        super().__init__(key=key, text=page_text(_GALLERY_JS, language()[0]), **self._state(page, key))
        self.mid = self.model_id
        self.on_msg(self._on_msg)
        self._follow(page)

    # -- a page: traits, then its missing posters on the UI thread -------------------------------------
    def _state(self, page: Page, key: str) -> dict[str, Any]:
        self.page = page
        made = {i.id: poster(i.cover_path, self.folder, make=False) for i in page.items}
        self._posters = {k: v for k, v in made.items() if v is not None}
        return dict(
            items=[i.to_dict(made[i.id]) for i in page.items], total=page.total, number=page.number,
            pages=page.pages, first=page.first, filters=page.filters.to_dict(),
            choices=choices(self.engine.ledger.models()), snapshot=gallery_html(page, None, key=key),
        )  # fmt: skip

    def _show(self, page: Page) -> None:
        """A new page into the traits (UI thread)."""
        state = self._state(page, self.key)
        with self.hold_sync():
            for name, value in state.items():
                if getattr(self, name) != value:
                    setattr(self, name, value)
        self._follow(page)

    def _follow(self, page: Page) -> None:
        self._generation += 1
        generation = self._generation
        missing = [i for i in page.items if i.id not in self._posters]
        BRIDGE.post(lambda: self._fill(generation, missing, page))

    def _fill(self, generation: int, missing: list[Item], page: Page) -> None:
        """Make a few missing posters, show them, and come back for the rest; then the next
        page's, ahead of a click. Stops when another page has been asked for."""
        if generation != self._generation:
            return
        if missing:
            rest = _turn(missing, lambda item: self._make(item))
            made = self._posters
            self.items = [
                {**d, "poster": made.get(d["id"], d["poster"]), "poster_pending": d["id"] not in made}
                for d in self.items
            ]
            BRIDGE.post(lambda: self._fill(generation, rest, page))
            return
        if page.number < page.pages:  # ahead: the next page's posters, made and kept, not sent
            ahead = browse(self.engine.ledger, page.filters, page.number + 1, self.page_size)
            BRIDGE.post(lambda: self._ahead(generation, [i.cover_path for i in ahead.items]))

    def _ahead(self, generation: int, covers: list[Path | None]) -> None:
        if generation != self._generation or not covers:
            return
        rest = _turn(covers, lambda cover: poster(cover, self.folder))
        BRIDGE.post(lambda: self._ahead(generation, rest))

    def _make(self, item: Item) -> None:
        self._posters[item.id] = poster(item.cover_path, self.folder) or ""

    def saved(self) -> dict[str, str]:
        """The page as static HTML with the posters made so far: what a notebook saves of it."""
        html_text = gallery_html(self.page, self._posters, key=self.key)
        plain = t("Gallery") + ": " + tn("{n} job", "{n} jobs", self.page.total)
        return static_bundle(html_text, plain)

    # -- display: the gallery, then the output its selections open in ----------------------------------
    def _ipython_display_(self) -> None:
        if _no_page():  # nbconvert, papermill: the page as static HTML, every poster in it
            for item in self.page.items:
                if item.id not in self._posters:
                    self._posters[item.id] = poster(item.cover_path, self.folder) or ""
            display(self.saved(), raw=True, metadata=mark(self.key, final=True))
            return
        bundle = self._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        display(data, raw=True, metadata=mark(self.key, saved=self.saved()))
        self.results.display()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, plus the page as static HTML for renderers without widget state."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data.update(self.saved())
        return bundle

    # -- the page's requests (main thread) -> the UI thread ---------------------------------------------
    def _on_msg(self, _: Any, content: dict[str, Any], buffers: list[bytes]) -> None:
        action = content.get("action")
        if heard_page(content):  # its words again, in the page's language if that changed it
            BRIDGE.post(self._speak)
        elif action == "query":
            raw = content.get("filters")
            self._wanted = (raw if isinstance(raw, dict) else {}, _int(content.get("page"), 1))
            BRIDGE.post(self._query, key=("gallery", id(self)))  # the latest ask, once
        elif action == "open":
            job_id = str(content.get("id") or "")
            BRIDGE.post(lambda: self.open_card(job_id))
        elif action == "close":
            BRIDGE.post(lambda: setattr(self, "detail", {}))
        elif action == "rate":
            job_id, note = str(content.get("id") or ""), str(content.get("note") or "")
            rating = _int(content.get("rating"), 0)
            BRIDGE.post(lambda: self.rate(job_id, rating, note))
        elif action in ("grid", "stitch", "tile"):
            ids = [str(i) for i in content.get("ids") or [] if isinstance(i, str)]
            BRIDGE.post(lambda: self.act(str(action), ids))
        elif action == "fetch":
            job_id = str(content.get("id") or "")
            BRIDGE.post(lambda: self._send_video(job_id))

    def _speak(self) -> None:
        self.text = page_text(_GALLERY_JS, language()[0])
        self._show(browse(self.engine.ledger, self.page.filters, self.page.number, self.page_size))

    def _query(self) -> None:
        raw, number = self._wanted
        try:
            filters = Filters.of(raw)
        except CogVideoError as exc:
            self.message = str(exc)
            return
        self.message = ""
        self._show(browse(self.engine.ledger, filters, number, self.page_size))

    # -- what a click asks (UI thread; called directly in tests) ---------------------------------------
    def query(self, filters: Filters | None = None, number: int = 1) -> Page:
        """Show page ``number`` of the jobs ``filters`` lets through."""
        self._show(browse(self.engine.ledger, filters or Filters(), number, self.page_size))
        return self.page

    def open_card(self, job_id: str) -> None:
        """The job's card: parameters, prompt, lineage, rating, player."""
        try:
            job = self.engine.find(job_id)
        except CogVideoError as exc:
            self.message = str(exc)
            return
        self._opened += 1
        self.detail = {**card_data(self.engine.ledger, job), "seq": self._opened}

    def rate(self, job_id: str, rating: int, note: str) -> None:
        """Stars and note from the card into the ledger; the tile, the card and a card of the
        notebook showing the job follow."""
        try:
            job = self.engine.rate(job_id, rating or None, note.strip() or None)
        except CogVideoError as exc:
            self.detail = {**self.detail, "rating_error": str(exc)}
            return
        stars, said = job.rating or 0, job.rating_note or ""
        # the page again from the ledger: its tile, its saved page (and its place, sorted by rating)
        self._show(browse(self.engine.ledger, self.page.filters, self.page.number, self.page_size))
        if self.detail.get("id") == job.id:
            self.detail = {**self.detail, "rating": stars, "rating_note": said, "rating_error": ""}
        card = self.outputs.cards.get(job.id) if self.outputs is not None else None
        if card is not None:
            card.job.rating, card.job.rating_note = job.rating, job.rating_note
            card.refresh_rating()

    def act(self, action: str, ids: list[str]) -> None:
        """The selection as a comparison grid, or stitched or tiled into one MP4, shown in the
        output below the gallery."""
        if not 2 <= len(ids) <= MAX_SELECTED:
            self.message = t("select 2 to {limit} jobs first", limit=MAX_SELECTED)
            return
        if not self.results.shown:
            self.message = t("display the gallery on its own (the cell's last line) to open a selection")
            return
        try:
            jobs = [self.engine.find(i) for i in ids]
        except CogVideoError as exc:
            self.message = str(exc)
            return
        if action == "grid":
            grid = self.results.grid(jobs, self.engine, t("{n} from the gallery", n=len(jobs)))
            if self.outputs is not None:
                for card in grid.cards:
                    self.outputs.cards.setdefault(card.job.id, card)
            self.message = tn("{n} job opened below as a grid", "{n} jobs opened below as a grid", len(jobs))
            return
        unfinished = [j.short_id for j in jobs if j.status is not JobStatus.SUCCEEDED or j.video_path is None]
        if unfinished:
            self.message = t("only finished videos can be joined; not: {ids}", ids=", ".join(unfinished))
            return
        name = hashlib.sha1("|".join(ids).encode(), usedforsecurity=False).hexdigest()[:8]
        out = self.engine.output_dir / f"{'stitched' if action == 'stitch' else 'tiled'}-{name}.mp4"
        self.message = (
            tn("stitching {n} clip…", "stitching {n} clips…", len(jobs))
            if action == "stitch"
            else tn("tiling {n} clip…", "tiling {n} clips…", len(jobs))
        )
        try:
            made = stitch_html(jobs, str(out)) if action == "stitch" else tile_html(jobs, out)
        except CogVideoError as exc:
            self.message = str(exc)
            return
        self.results.html(made, out.name)
        self.message = t("{file} is below the gallery", file=out.name)

    def _send_video(self, job_id: str) -> None:
        """The open card's video once, when the server cannot serve it (as a card does)."""
        try:
            job = self.engine.find(job_id)
        except CogVideoError:
            job = None
        path = job.video_path if job is not None else None
        if path is None or not path.is_file() or path.stat().st_size > MAX_TRANSFER_BYTES:
            self.send({"kind": "video", "id": job_id, "ok": False})
            return
        self.send({"kind": "video", "id": job_id, "ok": True}, buffers=[path.read_bytes()])


def _turn(todo: list[T], make: Callable[[T], Any]) -> list[T]:
    """Make posters for one turn of the UI thread (at least one, then until :data:`_TURN` has
    passed); returns what is left. A click waits behind one turn at most: a few emulator
    covers, or one 1080p cover (~40 ms)."""
    start = time.perf_counter()
    for i, thing in enumerate(todo):
        if i and time.perf_counter() - start > _TURN:
            return todo[i:]
        make(thing)
    return []


def _no_page() -> bool:
    """Run by nbconvert or papermill (their requests allow no stdin): no page will draw a widget,
    and what they save is what the kernel displayed. Voila asks the same way but has a page."""
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None or getattr(kernel, "_allow_stdin", True):
        return False
    return not os.environ.get("SERVER_SOFTWARE", "").startswith("voila/")


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def open_gallery(
    *,
    text: str = "",
    model: str = "",
    status: str = "",
    rating: str | int = "",
    since: str = "",
    until: str = "",
    sort: str = "newest",
    outputs: Outputs | None = None,
    **settings: Any,
) -> Gallery:
    """The gallery of an output folder (``settings`` as ``get_engine``'s: ``output_dir=``...),
    with these filters to start from."""
    hide_key_in(settings)
    filters = Filters.of(
        text=text, model=model, status=status, rating=rating, since=since, until=until, sort=sort
    )
    return Gallery(get_engine(**settings), filters=filters, outputs=outputs)
