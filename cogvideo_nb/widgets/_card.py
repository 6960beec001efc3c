"""The live status card: one job's state, a timer, stop/resume/retry, then the player in place.

Engine events reach the card through the UI bridge (one thread writes widgets, see ``_bridge``),
so it moves while the kernel is idle or busy with another cell. Elapsed time and ETA tick in the
browser, from timestamps. The kernel never holds the video: the page plays it from the Jupyter
server when the file is under the server's root, else asks for one transfer that is not kept.

When the job ends, the card's output is replaced by static HTML (no widget view), so a saved
notebook shows the result with no kernel and no widget state: by the kernel, through the display
id, and by every page whose view sees the end (``_notebook.js``: a reload, a second tab, a card
resumed after a restart rewrites the old kernel's outputs of the same job). In the live page the
front end moves the running card into that HTML, so nothing stops playing.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets
from IPython.display import display, update_display

from .. import _pipeline
from .._cost import PaidJobsError
from .._engine import Engine
from .._errors import CogVideoError
from .._html import job_html, make_poster, params_text, under_root, unserved, warm_posters
from .._i18n import N_, language, t
from .._jobs import Job, JobStatus
from ._bridge import BRIDGE
from ._ending import ESM_NOTEBOOK, mark
from ._words import STATUS_WORDS, heard_page, page_text

__all__ = ["MAX_TRANSFER_BYTES", "POSTER", "JobCard", "static_bundle"]

_HERE = Path(__file__).parent
# A video outside the server's root is sent once through the kernel, up to this size.
_CARD_JS = (_HERE / "_card.js").read_text("utf-8")
POSTER = "\x00poster\x00"  # stands for the poster in ``static_html`` (it is in ``poster`` already)
MAX_TRANSFER_BYTES = 256 << 20
warm_posters()  # cards make posters: import Pillow with this module (at %load_ext), not later


def static_bundle(html_text: str, plain: str) -> dict[str, str]:
    """A display bundle with no widget view: what every renderer can show."""
    return {"text/html": html_text, "text/plain": plain}


class JobCard(anywidget.AnyWidget):
    _esm = ESM_NOTEBOOK + _CARD_JS
    _css = _HERE / "_card.css"

    mid = traitlets.Unicode("").tag(sync=True)  # its own model id: the page listens beyond the view
    job_id = traitlets.Unicode("").tag(sync=True)
    short_id = traitlets.Unicode("").tag(sync=True)
    prompt = traitlets.Unicode("").tag(sync=True)
    prompt_parts: traitlets.List[list[Any]] = traitlets.List([]).tag(sync=True)  # [[text, differs]] in grids
    label = traitlets.Unicode("").tag(sync=True)
    params_text = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("queued").tag(sync=True)
    has_task = traitlets.Bool(False).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    emulated = traitlets.Bool(False).tag(sync=True)
    created_at = traitlets.Float(0.0).tag(sync=True)
    submitted_at = traitlets.Float(0.0, allow_none=True).tag(sync=True)
    expected_at = traitlets.Float(0.0, allow_none=True).tag(sync=True)
    finished_at = traitlets.Float(0.0, allow_none=True).tag(sync=True)
    kernel_now = traitlets.Float(0.0).tag(sync=True)
    video_path = traitlets.Unicode("").tag(sync=True)  # absolute; the page maps it to a server URL
    video_rel = traitlets.Unicode("").tag(sync=True)  # under the server's root (real paths), or ""
    video_name = traitlets.Unicode("").tag(sync=True)
    poster = traitlets.Unicode("").tag(sync=True)  # a small inline JPEG, or "" (none / undecodable)
    meta_text = traitlets.Unicode("").tag(sync=True)
    group = traitlets.Unicode("").tag(sync=True)
    rating = traitlets.Int(0).tag(sync=True)  # 1-5 given by the viewer; 0: not rated yet
    rating_note = traitlets.Unicode("").tag(sync=True)
    rating_error = traitlets.Unicode("").tag(sync=True)
    continues = traitlets.Unicode("").tag(sync=True)  # id of the job whose last frame this starts from
    continues_text = traitlets.Unicode("").tag(sync=True)  # its short id and prompt, for the link
    retry_ask = traitlets.Unicode("").tag(sync=True)  # a paid retry waits for a second click
    # The outputs this card ends (see _notebook.js): its own, and any other showing its first job
    # alone (an old kernel's card of a job resumed here); a retry keeps it.
    shows = traitlets.Unicode("").tag(sync=True)
    static_html = traitlets.Unicode("").tag(sync=True)  # what those outputs end as; "" until then
    text: traitlets.Dict[str, str] = traitlets.Dict({}).tag(sync=True)  # its words (see _words)

    def __init__(
        self, job: Job, engine: Engine, *, parts: list[tuple[str, bool]] | None = None, group: str = ""
    ) -> None:
        # A snapshot first (this thread owns the card until it is subscribed) ...
        super().__init__(group=group, prompt_parts=[list(p) for p in parts or []], **self._light(job))
        self.mid = self.model_id
        self._speak()
        self.shows = f"job:{job.id}"
        self.display_id = f"cvnb-{job.id}"  # the first job's, as ``shows``: a retry keeps the output
        self.job = job
        self.engine = engine
        self.on_done: Callable[[JobCard], None] | None = None
        self._unsubscribe = job.subscribe(self._event)
        self.on_msg(self._on_click)
        # ... then one sync from the bridge, which reads the job as it is by then: a move between
        # the snapshot and the subscription is not lost.
        self._event(job)

    # -- engine events (any thread) -> the UI thread ------------------------------------------------
    def _event(self, job: Job) -> None:
        if job is self.job:
            BRIDGE.post(self._apply, key=("card", id(self)))

    @staticmethod
    def _light(job: Job) -> dict[str, Any]:
        return dict(
            job_id=job.id, short_id=job.short_id, prompt=job.prompt, label=job.label or "",
            params_text=params_text(job), status=job.status.value, has_task=job.task_id is not None,
            note=t(job.note) if job.note else "",  # a message (resumed) or text as written
            error=job.error or "", emulated=job.emulated, created_at=job.created_at,
            submitted_at=job.submitted_at, expected_at=job.expected_at,
            finished_at=job.finished_at if job.done else None, kernel_now=time.time(),
            rating=job.rating or 0, rating_note=job.rating_note or "", continues=job.continues or "",
        )  # fmt: skip

    def _apply(self) -> None:
        """Copy the job into traits; runs on the UI thread only."""
        job = self.job
        updates = self._light(job)
        if job.continues and not self.continues_text:  # once: a ledger read, on the UI thread
            try:
                prompt = self.engine.find(job.continues).prompt
            except CogVideoError:  # a ledger that lost it: the id alone
                prompt = ""
            updates["continues_text"] = f"{job.continues[-8:]} · {prompt[:60]}"
        if job.status is JobStatus.SUCCEEDED and job.video_path is not None:
            if self.video_name != job.video_path.name:
                cover = make_poster(job.cover_path)  # heavy, once per job, off the engine loop
                updates.update(
                    video_path=os.path.abspath(job.video_path), video_name=job.video_path.name,
                    video_rel=under_root(job.video_path) or "",
                    poster=cover.url if cover else "", meta_text=self._meta(job),
                )  # fmt: skip
        else:
            updates.update(video_path="", video_rel="", video_name="", poster="", meta_text="")
        ended = job_html(job) if job.done else ""
        poster = updates.get("poster", self.poster)
        # The poster once on the wire: the page puts it back (see _card.js, POSTER).
        updates["static_html"] = ended.replace(poster, POSTER) if poster else ended
        with self.hold_sync():
            for name, value in updates.items():
                if getattr(self, name) != value:
                    setattr(self, name, value)
        if job.done and self.on_done is not None:
            self.on_done(self)

    # -- display --------------------------------------------------------------------------------------
    def show(self) -> None:
        """Display with a display id; when the job ends the output becomes static HTML."""
        display(self, display_id=self.display_id, metadata=mark(self.shows))
        self.on_done = JobCard.finalize

    def static(self) -> dict[str, str]:
        return static_bundle(job_html(self.job), f"{self.job.status.value}: {self.job.prompt}")

    def finalize(self) -> None:
        """Replace this card's output with static HTML (best effort from a background thread;
        ``%cogvideo wait`` calls it from the running cell, which headless runners record)."""
        with contextlib.suppress(Exception):
            update_display(
                self.static(), raw=True, display_id=self.display_id, metadata=mark(self.shows, final=True)
            )

    @staticmethod
    def _meta(job: Job) -> str:
        took = (
            f" · {t('server took {seconds} s', seconds=f'{job.run_seconds:.0f}')}" if job.run_seconds else ""
        )
        why = unserved(job.video_path) if job.video_path is not None else None
        where = f" · {why}" if why else ""
        return f"{job.video_path} · {t('task {task}', task=job.task_id)}{took}{where}"

    # -- buttons (main thread) -> the UI thread ----------------------------------------------------
    def _speak(self) -> None:
        self.text = page_text(_CARD_JS, language()[0], STATUS_WORDS)  # the language in force now

    def _on_click(self, _: Any, content: dict[str, Any], buffers: list[bytes]) -> None:
        action = content.get("action")
        if heard_page(content):  # its words again, in the page's language if that changed it
            BRIDGE.post(self._speak)
        elif action == "stop":
            self.engine.stop(self.job)
        elif action == "resume":
            BRIDGE.post(self.resume)
        elif action == "retry":
            BRIDGE.post(self.retry)
        elif action == "fetch":
            BRIDGE.post(self._send_video)
        elif action == "rate":
            rating, note = content.get("rating"), str(content.get("note") or "")
            BRIDGE.post(lambda: self._rate(rating, note))

    def _rate(self, rating: Any, note: str) -> None:
        """Stars and note from the card into the ledger (UI thread); a bad value shows on the card."""
        try:
            self.engine.rate(self.job, int(rating) if rating else None, note.strip() or None)
        except (CogVideoError, TypeError, ValueError) as exc:
            self.rating_error = str(exc)
            return
        self.refresh_rating()

    def refresh_rating(self) -> None:
        """Show the job's stored rating and note (after ``%cogvideo rate``, or a click)."""
        with self.hold_sync():
            self.rating_error = ""
            self.rating = self.job.rating or 0
            self.rating_note = self.job.rating_note or ""

    def resume(self) -> None:
        """Wait for the same task again (no new task, no new cost)."""
        if self.job.status is JobStatus.DETACHED:
            self.engine.reattach(self.job)

    def retry(self) -> None:
        """A new task for the same request (a new request id: it is generated, and paid, again),
        through the pipeline every front end uses: a paid model asks first, on the card, and the
        second click confirms."""
        if not self.job.done:
            return
        confirmed, self.retry_ask = bool(self.retry_ask), ""
        try:
            new = _pipeline.start(
                self.engine, [_pipeline.retry_plan(self.job)], yes=confirmed, how=N_("click Retry again")
            )
        except PaidJobsError as exc:
            self.retry_ask = exc.message
            return
        self.switch(new[0])

    def switch(self, job: Job) -> None:
        """Follow another job (a retry) from now on."""
        self._unsubscribe()
        self.job = job
        self._unsubscribe = job.subscribe(self._event)
        self._event(job)

    def _send_video(self) -> None:
        """The fallback transfer: the file once, as a message buffer the kernel does not keep."""
        path = self.job.video_path
        if path is None or not path.is_file() or path.stat().st_size > MAX_TRANSFER_BYTES:
            self.send({"kind": "video", "name": self.video_name, "ok": False})
            return
        self.send({"kind": "video", "name": path.name, "ok": True}, buffers=[path.read_bytes()])

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, plus static HTML for renderers that have no widget state."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/html"] = job_html(self.job)
        return bundle
