"""The jobs a notebook shows, and how each output ends as static HTML a saved notebook keeps.

One object per kernel, shared by the cell magic, ``%cogvideo`` and the form, so ``show``,
``rate``, ``report`` and ``resume`` all know which card shows which job; no front end reaches
into another's state.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from IPython.core.display import HTML
from IPython.display import display

from .._engine import Engine
from .._html import job_html, status_word
from .._i18n import t
from .._jobs import Job
from ._bridge import BRIDGE
from ._card import JobCard
from ._grid import CompareGrid
from ._slot import Slot

__all__ = ["Outputs"]


class Outputs:
    def __init__(self) -> None:
        self.cards: dict[str, JobCard] = {}
        self.jobs: dict[str, Job] = {}  # every job an output here shows, in the order shown
        self.shown: list[JobCard | CompareGrid] = []  # outputs to turn static when their jobs end
        self._final: dict[int, tuple[tuple[str, Any], ...]] = {}  # made static from a cell, as of

    def show(self, jobs: list[Job], engine: Engine, *, title: str | None = None, blind: bool = False) -> None:
        """One job: a card; several: a comparison grid (``blind``: a blind one, which has no
        cards). Displayed in the running cell."""
        for job in jobs:
            self.jobs.setdefault(job.id, job)
        if len(jobs) == 1 and not blind:
            card = JobCard(jobs[0], engine)
            self.cards[jobs[0].id] = card
            self.shown.append(card)
            card.show()
            return
        grid = CompareGrid(jobs, engine, title=title or "", blind=blind)
        for card in grid.cards:
            self.cards[card.job.id] = card
        self.shown.append(grid)
        grid.show()

    def add_to(self, slot: Slot, jobs: list[Job], engine: Engine) -> int:
        """Cards in ``slot`` for the jobs no output here shows (a click's, see ``Slot``); returns how
        many already had one (they go on there)."""
        new = [JobCard(job, engine) for job in jobs if job.id not in self.cards]
        for card in new:
            self.cards[card.job.id] = card
            self.jobs.setdefault(card.job.id, card.job)
        if new:
            slot.add(new)
        return len(jobs) - len(new)

    def wait_for(self, engine: Engine, jobs: list[Job]) -> None:
        """Block until ``jobs`` end, then leave every ended output as static HTML from this cell."""
        try:
            engine.wait(jobs)
        except KeyboardInterrupt:
            print(t("stopped waiting here; the jobs go on in the background (%cogvideo status)"))
            return
        BRIDGE.flush()  # every card has drawn the end
        # From this cell, so headless runners (nbclient) record it too: every ended output not yet
        # made static from a cell becomes static HTML (a job that ended before this wait was made
        # static from the UI thread only, which headless runners do not record).
        for shown in self.shown:
            members = shown.jobs if isinstance(shown, CompareGrid) else [shown.job]
            key = tuple((j.id, j.status) for j in members)
            if all(j.done for j in members) and self._final.get(id(shown)) != key:
                shown.finalize()
                self._final[id(shown)] = key
        # Each result once: a job shown above ends there; only one with no output here (a job
        # resumed from the ledger, another kernel's) gets its result in this cell.
        if not jobs:
            print(t("nothing in flight: every job shown here has ended"))
            return
        unseen = [j for j in jobs if j.id not in self.jobs]  # (never a blind grid's: it would tell)
        for job in unseen:
            display(HTML(job_html(job, copy=True)))
        if len(unseen) < len(jobs):
            counts = Counter(status_word(j.status) for j in jobs if j.id in self.jobs)
            ended = ", ".join(f"{n} {status}" for status, n in counts.most_common())
            n = len(jobs) - len(unseen)
            print(t("{n} job(s) ended ({ended}): their results are in their outputs above", n=n, ended=ended))

    def shown_jobs(self) -> list[Job]:
        """The jobs this notebook's outputs show, in order: each card's (a retried card's latest),
        then those of blind grids, which have no cards."""
        jobs = [c.job for c in self.cards.values()]
        ids = set(self.cards)
        return jobs + [j for j in self.jobs.values() if j.id not in ids]

    def clear(self) -> None:
        self.cards.clear()
        self.jobs.clear()
        self.shown.clear()
        self._final.clear()
