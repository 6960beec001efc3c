"""An output of its own for the cards a click starts (the form's Generate, the restart notice's
Resume): a click runs outside any cell, so its cards have nowhere to go but an output displayed
beforehand, by id. Live cards while their jobs run; static HTML once every one has ended, from the
kernel and from every page that draws them (``Ending``), so a saved notebook keeps the results.
"""

from __future__ import annotations

import contextlib
import uuid

import ipywidgets as w
from IPython.display import display, update_display

from .._html import job_html
from ._card import JobCard, static_bundle
from ._ending import Ending, mark

__all__ = ["Slot"]


class Slot:
    def __init__(self) -> None:
        self.id = f"cvnb-slot-{uuid.uuid4().hex[:12]}"
        self.end = Ending(key=self.id)  # in the box: every page that draws the cards ends the output
        self.box = w.VBox()  # the cards, newest first
        self.cards: list[JobCard] = []
        self.shown = False  # displayed (else the owner shows ``box`` in its own layout)

    def display(self) -> None:
        """The empty output, below whatever the owner displayed (call it from a cell)."""
        display(static_bundle(self._html(), ""), raw=True, display_id=self.id, metadata=mark(self.id))
        self.shown = True

    def add(self, cards: list[JobCard]) -> None:
        """Cards at the top of the output (a click's handler, the kernel's main thread)."""
        for card in cards:
            card.on_done = self._card_done
        self.cards.extend(cards)
        self.end.html = ""  # running again
        self.box.children = (*reversed(self.cards), self.end)
        if self.shown:
            with contextlib.suppress(Exception):
                update_display(self.box, display_id=self.id, metadata=mark(self.id))

    def _html(self) -> str:
        return "".join(job_html(c.job) for c in reversed(self.cards))

    def _card_done(self, _: JobCard) -> None:
        """Once every card has ended, the output becomes static HTML (UI thread)."""
        if not (self.shown and all(c.job.done for c in self.cards)):
            return
        bundle = static_bundle(self._html(), f"{len(self.cards)} job(s)")
        self.end.plain = bundle["text/plain"]  # no hold_sync: it is not thread-safe
        self.end.html = bundle["text/html"]
        with contextlib.suppress(Exception):
            update_display(bundle, raw=True, display_id=self.id, metadata=mark(self.id, final=True))
