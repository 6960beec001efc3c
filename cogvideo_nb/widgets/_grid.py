"""A side-by-side comparison: labelled cards in responsive columns, played in sync.

Like a card, the grid's output becomes static HTML once every cell has ended (a saved notebook
then needs no widget state), from the kernel and from every page that draws it (``Ending``); the
live page moves the running cards and controls into it.
"""

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
from .._errors import CogVideoError
from .._html import GRID_COLUMNS, diff_parts, grid_html, rel_url
from .._i18n import language, t, tn
from .._jobs import Job, JobStatus
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


def _export(grid: CompareGrid) -> None:
    """Render the grid's finished clips into one MP4 + contact sheet (UI thread, never the
    engine loop or the kernel's main thread)."""
    from .._media import contact_sheet_path, tile  # PyAV loads when someone exports

    controls = grid.controls
    jobs = [c.job for c in grid.cards if c.job.status is JobStatus.SUCCEEDED]
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
    """Cards for several jobs; what each prompt changes from its neighbour is highlighted."""

    def __init__(self, jobs: list[Job], engine: Engine, *, title: str = "") -> None:
        self.group = uuid.uuid4().hex[:12]
        parts = diff_parts([j.prompt for j in jobs])
        self.title = title or t("{n} to compare", n=len(jobs))
        self.cards = [
            JobCard(job, engine, parts=p, group=self.group) for job, p in zip(jobs, parts, strict=True)
        ]
        grid = w.GridBox(self.cards, layout=w.Layout(grid_template_columns=GRID_COLUMNS, grid_gap="8px"))
        self.engine = engine
        self.controls = _GridControls(
            group=self.group, title=self.title, text=page_text(_GRID_JS, language()[0])
        )
        self.controls.mid = self.controls.model_id
        self.controls.on_msg(self._on_msg)
        self.display_id = f"cvnb-grid-{self.group}"
        self.ending = Ending(key=self.display_id)
        super().__init__([self.controls, grid, self.ending])
        self.add_class("cvnb-grid")

    def _on_msg(self, _: Any, content: dict[str, Any], buffers: list[bytes]) -> None:
        if heard_page(content):  # its words again, in the page's language if that changed it
            BRIDGE.post(lambda: setattr(self.controls, "text", page_text(_GRID_JS, language()[0])))
        elif content.get("action") == "export":
            BRIDGE.post(lambda: _export(self))

    def show(self) -> None:
        """Display with a display id; the output becomes static HTML once every cell has ended."""
        display(self, display_id=self.display_id, metadata=mark(self.display_id))
        for card in self.cards:
            card.on_done = self._card_done

    def _card_done(self, _: JobCard) -> None:
        if all(c.job.done for c in self.cards):
            self.finalize()

    def static(self) -> dict[str, str]:
        jobs = [c.job for c in self.cards]
        return static_bundle(
            grid_html(jobs, title=self.title, group=self.group),
            "\n".join(f"{j.status.value}: {j.prompt}" for j in jobs),
        )

    def finalize(self) -> None:
        bundle = self.static()
        self.ending.plain = bundle["text/plain"]  # no hold_sync: %cogvideo wait calls this from
        self.ending.html = bundle["text/html"]  # the cell's thread, and hold_sync is not thread-safe
        with contextlib.suppress(Exception):  # best effort from a background thread, as for cards
            update_display(
                bundle, raw=True, display_id=self.display_id, metadata=mark(self.display_id, final=True)
            )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, plus a static HTML grid for renderers without widget state."""
        data = super()._repr_mimebundle_(**kwargs)
        if isinstance(data, dict):
            data["text/html"] = grid_html([c.job for c in self.cards], title=self.title, group=self.group)
        return data
