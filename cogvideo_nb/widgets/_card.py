"""The live status card: one job's state, a timer, stop/retry, then the player in place.

Traits are set from the engine thread on every job change (comm messages are thread-safe in
ipykernel), so the card moves while the kernel is idle or busy with another cell. Elapsed time
and ETA tick in the browser, from timestamps, so no kernel timer is needed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets
from IPython.display import display, update_display

from .._engine import Engine
from .._html import job_html, params_text
from .._jobs import Job, JobStatus

__all__ = ["MAX_INLINE_BYTES", "JobCard"]

_HERE = Path(__file__).parent
# Videos above this stay on disk and are linked, not sent to the browser through the kernel.
MAX_INLINE_BYTES = 64 << 20


def _refresh(card: JobCard) -> None:
    """Best effort: rewrite the output's static HTML when the job ends, so a notebook saved
    later shows the result. Headless runners drop updates from threads; ``%cogvideo wait``
    covers them from the running cell."""
    with contextlib.suppress(Exception):
        update_display(card, display_id=card.display_id)


def _read(path: Path | None, limit: int) -> bytes:
    if path is None or not path.is_file() or path.stat().st_size > limit:
        return b""
    return path.read_bytes()


class JobCard(anywidget.AnyWidget):
    _esm = _HERE / "_card.js"
    _css = _HERE / "_card.css"

    prompt = traitlets.Unicode("").tag(sync=True)
    prompt_parts: traitlets.List[list[Any]] = traitlets.List([]).tag(sync=True)  # [[text, differs]] in grids
    label = traitlets.Unicode("").tag(sync=True)
    params_text = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("queued").tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    emulated = traitlets.Bool(False).tag(sync=True)
    created_at = traitlets.Float(0.0).tag(sync=True)
    submitted_at = traitlets.Float(0.0, allow_none=True).tag(sync=True)
    expected_at = traitlets.Float(0.0, allow_none=True).tag(sync=True)
    finished_at = traitlets.Float(0.0, allow_none=True).tag(sync=True)
    kernel_now = traitlets.Float(0.0).tag(sync=True)
    video = traitlets.Bytes(b"").tag(sync=True)
    cover = traitlets.Bytes(b"").tag(sync=True)
    video_name = traitlets.Unicode("").tag(sync=True)
    meta_text = traitlets.Unicode("").tag(sync=True)
    group = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self, job: Job, engine: Engine, *, parts: list[tuple[str, bool]] | None = None, group: str = ""
    ) -> None:
        super().__init__(group=group, prompt_parts=[list(p) for p in parts or []])
        self.job = job
        self.engine = engine
        self.on_done: Callable[[JobCard], None] | None = None
        self.on_msg(self._on_click)
        self._sync(job)
        job.subscribe(self._sync)

    @property
    def display_id(self) -> str:
        return f"cvnb-{self.job.id}"

    def _sync(self, job: Job) -> None:
        """Copy the job into traits; called on the engine thread."""
        if job is not self.job:
            return
        updates: dict[str, Any] = dict(
            prompt=job.prompt, label=job.label or "", params_text=params_text(job), status=job.status.value,
            note=job.note or "", error=job.error or "", emulated=job.emulated,
            created_at=job.created_at, submitted_at=job.submitted_at, expected_at=job.expected_at,
            finished_at=job.finished_at if job.done else None, kernel_now=time.time(),
        )  # fmt: skip
        if job.status is JobStatus.SUCCEEDED and job.video_path and self.video_name != job.video_path.name:
            updates.update(
                video=_read(job.video_path, MAX_INLINE_BYTES),
                cover=_read(job.cover_path, MAX_INLINE_BYTES),
                video_name=job.video_path.name,
                meta_text=self._meta(job),
            )
        with self.hold_sync():
            for name, value in updates.items():
                if getattr(self, name) != value:
                    setattr(self, name, value)
        if job.done and self.on_done is not None:
            self.on_done(self)

    def show(self) -> None:
        """Display with a display id, so the final static HTML can replace the first snapshot."""
        display(self, display_id=self.display_id)
        self.on_done = _refresh

    @staticmethod
    def _meta(job: Job) -> str:
        took = f" · server took {job.run_seconds:.0f} s" if job.run_seconds else ""
        too_big = ""
        if job.video_path and job.video_path.stat().st_size > MAX_INLINE_BYTES:
            too_big = " · too large to inline: open the file"
        return f"{job.video_path} · task {job.task_id}{took}{too_big}"

    def _on_click(self, _: Any, content: dict[str, Any], buffers: list[bytes]) -> None:
        action = content.get("action")
        if action == "stop":
            self.engine.stop(self.job)
        elif action == "retry" and self.job.done:
            new = self.engine.retry(self.job)
            self.job = new
            self.video_name = ""
            self._sync(new)
            new.subscribe(self._sync)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, plus static HTML for renderers that have no widget state."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/html"] = job_html(self.job)
        return bundle
