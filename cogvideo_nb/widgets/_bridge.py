"""The one path from engine events to widgets: a single UI thread applies every widget write.

Jobs notify observers on the engine's loop thread; buttons arrive on the kernel's main thread.
ipywidgets' ``hold_sync`` (and trait setting in general) is not thread-safe, so neither thread
writes a widget: both post work here, and this one daemon thread runs it in order. The engine's
loop only posts (microseconds); the heavy work for display (posters, static HTML, reading a
video for a fallback transfer) runs here, once per job, never on the engine loop.

Posting coalesces per key: a card that hears ten poll updates before the thread gets to it
redraws once, from the job's latest state, so nothing is lost and nothing piles up.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from .._i18n import t

__all__ = ["BRIDGE", "Bridge"]

T = TypeVar("T")
_log = logging.getLogger("cogvideo_nb")


class Bridge:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], Hashable | None]] = queue.SimpleQueue()
        self._pending: set[Hashable] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _ensure(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="cogvideo-ui", daemon=True)
                self._thread.start()

    @property
    def on_bridge(self) -> bool:
        return threading.current_thread() is self._thread

    def post(self, fn: Callable[[], Any], *, key: Hashable | None = None) -> None:
        """Run ``fn`` on the UI thread; with a key, at most one such call is queued at a time
        (``fn`` must then read the latest state when it runs)."""
        if key is not None:
            with self._lock:
                if key in self._pending:
                    return
                self._pending.add(key)
        self._ensure()
        self._queue.put((fn, key))

    def call(self, fn: Callable[[], T], timeout: float | None = 30) -> T:
        """Run ``fn`` on the UI thread and return its result (directly when already there)."""
        if self.on_bridge:
            return fn()
        done = threading.Event()
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # handed back to the caller
                box["error"] = exc
            finally:
                done.set()

        self.post(run)
        if not done.wait(timeout):
            raise TimeoutError(t("the UI thread did not answer"))
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]

    def flush(self, timeout: float | None = 30) -> None:
        """Until everything posted so far has run (tests; ``%cogvideo wait``)."""
        self.call(lambda: None, timeout)

    def _run(self) -> None:
        while True:
            fn, key = self._queue.get()
            if key is not None:
                with self._lock:
                    self._pending.discard(key)
            try:
                fn()
            except Exception:  # a broken display must not stop every other card
                _log.exception("cogvideo UI update failed")


BRIDGE = Bridge()
