"""A side-by-side comparison: labelled cards in responsive columns, played in sync.

Like a card, the grid's output becomes static HTML once every cell has ended (a saved notebook
then needs no widget state), from the kernel and from every page that draws it (``Ending``); the
live page moves the running cards and controls into it.

Blind (``%%cogvideo --blind``, or the bar's *Blind* on a finished grid): the cells are shuffled and
lettered, and everything the page receives is letters, statuses, posters and neutrally named videos
(``_blind``): a blind grid makes no card widgets, whose state would carry the prompts. Stars and a
winner go to the kernel by letter; *Reveal* records them in the ledger as blind and turns the
output into the revealed grid. Which letter is which job is known to the kernel only.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as w
import traitlets
from IPython.display import display, update_display

from .._blind import Blind, blind_html, blind_plain, link_videos, revealed_html, revealed_plain
from .._engine import Engine
from .._errors import CogVideoError
from .._html import GRID_COLUMNS, diff_parts, grid_html, rel_url
from .._i18n import language, t, tn
from .._jobs import Job, JobStatus
from .._ratings import MAX_RATER
from ._bridge import BRIDGE
from ._card import JobCard, static_bundle
from ._ending import ESM_NOTEBOOK, Ending, mark
from ._words import heard_page, page_text

__all__ = ["CompareGrid"]

_HERE = Path(__file__).parent


_GRID_JS = (_HERE / "_grid.js").read_text("utf-8")


class _GridControls(anywidget.AnyWidget):
    _esm = ESM_NOTEBOOK + _GRID_JS
    _css = _HERE / "_card.css"
    mid = traitlets.Unicode("").tag(sync=True)  # its own model id: the bar outlives its view
    group = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    export_status = traitlets.Unicode("").tag(sync=True)
    export_url = traitlets.Unicode("").tag(sync=True)
    text: traitlets.Dict[str, str] = traitlets.Dict({}).tag(sync=True)  # its words (see _words)
    finished = traitlets.Bool(False).tag(sync=True)  # every cell has ended: Blind and Reveal may show
    blind_mode = traitlets.Unicode("").tag(sync=True)  # "", "blind" or "revealed"
    blind_stars: traitlets.Dict[str, int] = traitlets.Dict({}).tag(sync=True)  # letter -> 1-5, this pass
    blind_winner = traitlets.Unicode("").tag(sync=True)  # the letter picked, or ""
    blind_status = traitlets.Unicode("").tag(sync=True)  # what the bar says of the pass
    # What the grid's outputs end as after a Blind or a Reveal: the bar outlives the grid's view
    # (and its Ending's), so it rewrites them in the page (see _grid.js).
    shows = traitlets.Unicode("").tag(sync=True)  # the outputs it rewrites: those marked as showing it
    ended = traitlets.Unicode("").tag(sync=True)
    ended_plain = traitlets.Unicode("").tag(sync=True)


def _export(grid: CompareGrid) -> None:
    """Render the grid's finished clips into one MP4 + contact sheet (UI thread, never the
    engine loop or the kernel's main thread)."""
    from .._media import contact_sheet_path, tile  # PyAV loads when someone exports

    controls = grid.controls
    if grid.blind is not None and not grid.blind.revealed:  # its labels would tell which is which
        controls.export_status = t("not while the grid is blind: Reveal first")
        return
    jobs = [j for j in grid.jobs if j.status is JobStatus.SUCCEEDED]
    if not jobs:
        controls.export_status = t("nothing to export yet: no finished video in this grid")
        return
    controls.export_status = tn("exporting {n} clip…", "exporting {n} clips…", len(jobs))
    try:
        out = tile(jobs, grid.engine.output_dir / f"grid-{grid.group}.mp4", columns=min(len(jobs), 3))
    except CogVideoError as exc:
        controls.export_status = t("export failed: {error}", error=exc)
        return
    with controls.hold_sync():
        controls.export_url = rel_url(out) or ""
        controls.export_status = f"{out.name} + {contact_sheet_path(out).name}"


class CompareGrid(w.VBox):  # type: ignore[misc]
    """Cards for several jobs; what each prompt changes from its neighbour is highlighted.

    ``blind``: shuffled, lettered, nothing shown that tells which prompt each cell is, until
    *Reveal* (``rng``: the shuffle's randomness, for tests)."""

    def __init__(
        self, jobs: list[Job], engine: Engine, *, title: str = "", blind: bool = False,
        rng: random.Random | None = None,
    ) -> None:  # fmt: skip
        self.group = uuid.uuid4().hex[:12]
        self.jobs = list(jobs)
        self.engine = engine
        self.title = title or t("{n} to compare", n=len(jobs))
        self.blind: Blind | None = Blind.shuffle(len(jobs), rng) if blind else None
        self._unsubscribe: list[Callable[[], None]] = []
        if blind:  # no cards: their state would carry the prompts, file names and parameters
            self.cards: list[JobCard] = []
            self.view = w.HTML(blind_html(self.blind, self.jobs, group=self.group, running=True))  # type: ignore[arg-type]
        else:
            parts = diff_parts([j.prompt for j in jobs])
            self.cards = [
                JobCard(job, engine, parts=p, group=self.group) for job, p in zip(jobs, parts, strict=True)
            ]
            self.view = w.GridBox(
                self.cards, layout=w.Layout(grid_template_columns=GRID_COLUMNS, grid_gap="8px")
            )
        self.controls = _GridControls(
            group=self.group, title=self.title, text=page_text(_GRID_JS, language()[0])
        )
        self.controls.mid = self.controls.model_id
        self.controls.on_msg(self._on_msg)
        if self.blind is not None:
            self._tell_pass()
        self.display_id = f"cvnb-grid-{self.group}"
        self.controls.shows = self.display_id
        self.ending = Ending(key=self.display_id)
        super().__init__([self.controls, self.view, self.ending])
        self.add_class("cvnb-grid")

    def _on_msg(self, _: Any, content: dict[str, Any], buffers: list[bytes]) -> None:
        action = content.get("action")
        if heard_page(content):  # its words again, in the page's language if that changed it
            BRIDGE.post(lambda: setattr(self.controls, "text", page_text(_GRID_JS, language()[0])))
        elif action == "export":
            BRIDGE.post(lambda: _export(self))
        elif action == "blind":
            BRIDGE.post(self.go_blind)
        elif action == "blind_rate":
            letter, stars = str(content.get("letter") or ""), content.get("stars")
            BRIDGE.post(lambda: self.rate_blind(letter, stars))
        elif action == "blind_win":
            letter = str(content.get("letter") or "")
            BRIDGE.post(lambda: self.pick_winner(letter))
        elif action == "reveal":
            rater = str(content.get("rater") or "")
            BRIDGE.post(lambda: self.reveal(rater))

    def show(self) -> None:
        """Display with a display id; the output becomes static HTML once every cell has ended."""
        display(self, display_id=self.display_id, metadata=mark(self.display_id))
        for card in self.cards:
            card.on_done = self._card_done
        if self.blind is not None:  # no cards to tell: the jobs themselves
            self._unsubscribe = [job.subscribe(self._job_event) for job in self.jobs]
            BRIDGE.post(self._refresh, key=("grid", id(self)))

    def _job_event(self, _: Job) -> None:
        BRIDGE.post(self._refresh, key=("grid", id(self)))

    def _refresh(self) -> None:
        """A blind grid's cells while they run (UI thread), then its end."""
        if all(j.done for j in self.jobs):
            if not self.controls.finished:
                for stop in self._unsubscribe:
                    stop()
                self._finish()
        elif self.blind is not None:
            self.view.value = blind_html(self.blind, self.jobs, group=self.group, running=True)

    def _card_done(self, _: JobCard) -> None:
        if all(c.job.done for c in self.cards):
            if not self.controls.finished:
                self.controls.finished = True
            self.finalize()

    def _finish(self) -> None:
        self.controls.finished = True
        self._tell_pass()
        self.finalize()

    # -- blind ----------------------------------------------------------------------------------------
    def _tell_pass(self) -> None:
        """The bar's side of the pass: the mode, what was given, what to do next (no job in it)."""
        b = self.blind
        if b is None:
            return
        if b.revealed:
            n = sum(1 for s in b.stars.values() if s)
            said = tn("{n} rating recorded as blind", "{n} ratings recorded as blind", n)
            if b.winner:
                said = t("{said}; the winner: {letter}", said=said, letter=b.winner)
            if b.rater:
                said = t("{said} (rater: {rater})", said=said, rater=b.rater)
            if not n and not b.winner:
                said = t("nothing was rated in this pass, so nothing was recorded")
        elif self.controls.finished:
            said = t("rate each clip (or pick a winner), then Reveal")
        else:
            said = t("the clips are being made: rate them when every one has ended")
        with self.controls.hold_sync():
            self.controls.blind_mode = "revealed" if b.revealed else "blind"
            self.controls.blind_stars = dict(b.stars)
            self.controls.blind_winner = b.winner
            self.controls.blind_status = said

    def go_blind(self, rng: random.Random | None = None) -> None:
        """A new blind pass over a finished grid (its *Blind*): shuffled again, nothing given."""
        if not all(j.done for j in self.jobs) or (self.blind is not None and not self.blind.revealed):
            return
        self.blind = Blind.shuffle(len(self.jobs), rng)
        self.controls.finished = True
        self._tell_pass()
        self.finalize()

    def rate_blind(self, letter: str, stars: Any) -> None:
        """Stars for the clip lettered ``letter`` (0 clears); kept here until *Reveal*."""
        b = self.blind
        if b is None or b.revealed or letter not in b.rateable(self.jobs):
            return
        try:
            value = int(stars)
        except (TypeError, ValueError):
            return
        if value in range(1, 6):
            b.stars[letter] = value
        elif value == 0:
            b.stars.pop(letter, None)
        self.controls.blind_stars = dict(b.stars)

    def pick_winner(self, letter: str) -> None:
        """The clip the rater prefers (the same again clears)."""
        b = self.blind
        if b is None or b.revealed or letter not in b.rateable(self.jobs):
            return
        b.winner = "" if b.winner == letter else letter
        self.controls.blind_winner = b.winner

    def reveal(self, rater: str = "") -> None:
        """Record the pass's ratings in the ledger as blind, with the rater's name, and show which
        prompt each letter was."""
        b = self.blind
        if b is None or b.revealed or not all(j.done for j in self.jobs):
            return
        b.rater = " ".join(rater.split())[:MAX_RATER]
        try:
            self.engine.add_ratings(b.ratings(self.jobs))
        except CogVideoError as exc:
            self.controls.blind_status = t("could not record the ratings: {error}", error=exc)
            return
        b.revealed = True
        self._tell_pass()
        self.finalize()

    # -- the output ---------------------------------------------------------------------------------
    def static(self) -> dict[str, str]:
        jobs, b = self.jobs, self.blind
        if b is None:
            return static_bundle(
                grid_html(jobs, title=self.title, group=self.group),
                "\n".join(f"{j.status.value}: {j.prompt}" for j in jobs),
            )
        if b.revealed:
            return static_bundle(
                revealed_html(b, jobs, title=self.title, group=self.group), revealed_plain(b, jobs)
            )
        link_videos(b, jobs, self.engine.output_dir)
        return static_bundle(blind_html(b, jobs, title=self.title, group=self.group), blind_plain(b, jobs))

    def finalize(self) -> None:
        bundle = self.static()
        self.ending.plain = bundle["text/plain"]  # no hold_sync: %cogvideo wait calls this from
        self.ending.html = bundle["text/html"]  # the cell's thread, and hold_sync is not thread-safe
        if self.blind is not None:
            self.controls.ended_plain = bundle["text/plain"]
            self.controls.ended = bundle["text/html"]
        with contextlib.suppress(Exception):  # best effort from a background thread, as for cards
            update_display(
                bundle, raw=True, display_id=self.display_id, metadata=mark(self.display_id, final=True)
            )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, plus a static HTML grid for renderers without widget state (a blind one:
        letters and statuses only)."""
        data = super()._repr_mimebundle_(**kwargs)
        if isinstance(data, dict):
            if self.blind is not None and not self.blind.revealed:
                data["text/html"] = blind_html(
                    self.blind, self.jobs, title=self.title, group=self.group, running=True
                )
                data["text/plain"] = blind_plain(self.blind, self.jobs)
            else:
                data["text/html"] = grid_html(self.jobs, title=self.title, group=self.group)
        return data
