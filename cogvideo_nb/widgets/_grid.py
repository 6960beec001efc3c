"""A side-by-side comparison: labelled cards in responsive columns, played in sync."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as w
import traitlets
from IPython.display import display, update_display

from .._engine import Engine
from .._html import diff_parts, job_html
from .._jobs import Job
from ._card import JobCard

__all__ = ["CompareGrid"]

_HERE = Path(__file__).parent


class _GridControls(anywidget.AnyWidget):
    _esm = _HERE / "_grid.js"
    _css = _HERE / "_card.css"
    group = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)


class CompareGrid(w.VBox):  # type: ignore[misc]
    """Cards for several jobs; the words that differ between prompts are highlighted."""

    def __init__(self, jobs: list[Job], engine: Engine, *, title: str = "", min_width: int = 260) -> None:
        group = uuid.uuid4().hex[:12]
        parts = diff_parts([j.prompt for j in jobs])
        self.cards = [JobCard(job, engine, parts=p, group=group) for job, p in zip(jobs, parts, strict=True)]
        grid = w.GridBox(
            self.cards,
            layout=w.Layout(
                grid_template_columns=f"repeat(auto-fill, minmax({min_width}px, 1fr))", grid_gap="8px"
            ),
        )
        self.controls = _GridControls(group=group, title=title or f"{len(jobs)} to compare")
        super().__init__([self.controls, grid])
        self.add_class("cvnb-grid")
        self.display_id = f"cvnb-grid-{group}"

    def show(self) -> None:
        """Display with a display id; the static HTML is rewritten once every cell has ended."""
        display(self, display_id=self.display_id)
        for card in self.cards:
            card.on_done = self._card_done

    def _card_done(self, _: JobCard) -> None:
        if all(c.job.done for c in self.cards):
            with contextlib.suppress(Exception):  # best effort, as for single cards
                update_display(self, display_id=self.display_id)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, plus a static HTML grid for renderers without widget state."""
        data = super()._repr_mimebundle_(**kwargs)
        if isinstance(data, dict):
            cells = "".join(job_html(c.job) for c in self.cards)
            data["text/html"] = (
                '<div style="display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));'
                f'gap:8px">{cells}</div>'
            )
        return data
