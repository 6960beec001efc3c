"""The in-process emulator: HTTP server thread, task store and the render scheduler."""

from __future__ import annotations

import heapq
import logging
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from .._i18n import t
from .._models import get_model
from ._config import EmulatorConfig
from ._render import fetch_image, render_clip
from ._server import API_PREFIX, EmulatorApp, EmulatorHTTPServer
from ._store import Task, TaskStore

__all__ = ["Emulator"]

log = logging.getLogger("cogvideo_nb.emulator")


class Emulator:
    """An in-process emulator on its own threads; ``port=0`` picks a free port.

    Without ``state_dir`` it uses a private temp dir, removed on :meth:`stop`; pass one to keep
    tasks across emulator instances (that is how a restart is survived).
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: str | Path | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self._port = port
        self._owns_dir = state_dir is None
        self.state_dir = Path(state_dir).expanduser() if state_dir else None
        self._server: EmulatorHTTPServer | None = None
        self._files: EmulatorHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._scheduler: _Scheduler | None = None

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="cogvideo-emulator-"))
        store = TaskStore(self.state_dir, self.config.retention_seconds)
        self._scheduler = _Scheduler(store, self.config)
        app = EmulatorApp(self.config, store, self._scheduler)
        self._server = EmulatorHTTPServer((self.host, self._port), app)
        # Result files come from a second origin, as the platform's come from a file host: a
        # client that sent its key there, or assumed one host, fails here as it would there.
        self._files = EmulatorHTTPServer((self.host, 0), app, files_only=True)
        app.files_origin = self.files_url
        self._scheduler.start()
        self._threads = [
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                             name=f"cogvideo-emulator-{kind}", daemon=True)
            for srv, kind in ((self._server, "api"), (self._files, "files"))
        ]  # fmt: skip
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        for srv in (server, self._files):
            if srv is None:
                continue
            srv.shutdown()
            srv.server_close()
            srv.close_connections()
        self._files = None
        if self._scheduler is not None:
            self._scheduler.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._owns_dir and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()

    @property
    def port(self) -> int:
        return int(self._running().server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://{self._host()}:{self.port}"

    @property
    def files_url(self) -> str:
        """The file host's origin (another port): result URLs point here, not at the API."""
        if self._files is None:
            raise RuntimeError(t("emulator is not running; call start() or use it as a context"))
        return f"http://{self._host()}:{self._files.server_address[1]}"

    def _host(self) -> str:
        host = self.host if self.host not in ("0.0.0.0", "") else "127.0.0.1"  # noqa: S104
        return f"[{host}]" if ":" in host else host

    @property
    def base_url(self) -> str:
        return self.root_url + API_PREFIX

    def stats(self) -> dict[str, Any]:
        """Same dict as ``GET /_emulator/stats``: tasks and request counts, for tests/benchmarks."""
        return self._running().app.stats()

    def _running(self) -> EmulatorHTTPServer:
        if self._server is None:
            raise RuntimeError(t("emulator is not running; call start() or use it as a context"))
        return self._server


class _Scheduler:
    """Finishes tasks at their due time: FAIL at once, SUCCESS once the clip is rendered.

    Rendering starts when a task arrives, so a task's processing time includes it, as a real
    server's does: SUCCESS shows at its due time, not due time plus render time.
    """

    def __init__(self, store: TaskStore, config: EmulatorConfig) -> None:
        self.store = store
        self.config = config
        self._cond = threading.Condition()
        self._heap: list[tuple[float, str]] = []
        self._busy: set[str] = set()
        self._stopping = False
        self._pool = ThreadPoolExecutor(config.render_workers, thread_name_prefix="emu-render")
        self._thread = threading.Thread(target=self._run, name="emu-scheduler", daemon=True)

    def start(self) -> None:
        for task in self.store.all():
            if task.status == "PROCESSING":
                self.schedule(task)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def schedule(self, task: Task) -> None:
        with self._cond:
            heapq.heappush(self._heap, (task.due_at, task.id))
            self._cond.notify_all()
        if task.outcome != "FAIL":
            self._start_render(task)

    def refresh(self, task: Task) -> Task:
        """Bring a polled task up to date; covers tasks the timer has not reached yet."""
        if task.status == "PROCESSING" and time.time() >= task.due_at:
            self._dispatch(task)
        return task

    def _rendered(self, task: Task) -> bool:
        files = self.store.files_dir
        return (files / task.video_name).is_file() and (files / task.cover_name).is_file()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = time.time()
                due: list[str] = []
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[1])
                if not due:
                    wait = self._heap[0][0] - now if self._heap else None
                    self._cond.wait(timeout=wait)
                    continue
            for task_id in due:
                task = self.store.get(task_id)
                if task is not None and task.status == "PROCESSING":
                    self._dispatch(task)

    def _dispatch(self, task: Task) -> None:
        """The task is due: finish it now, or as soon as its render is done."""
        with self._cond:
            if task.status != "PROCESSING":
                return
            if task.outcome == "FAIL":
                self.store.finish(task, "FAIL", task.fail_reason or "emulated failure")
                return
            if task.id not in self._busy and self._rendered(task):
                self.store.finish(task, "SUCCESS")
                return
        self._start_render(task)

    def _start_render(self, task: Task) -> None:
        with self._cond:
            if task.id in self._busy or self._stopping or self._rendered(task):
                return
            self._busy.add(task.id)
        try:
            self._pool.submit(self._render, task)
        except RuntimeError:  # pool already shut down: the next emulator on this dir finishes it
            with self._cond:
                self._busy.discard(task.id)

    def _render(self, task: Task) -> None:
        try:
            image = self._image_bytes(task)
            spec = get_model(task.model)
            size = task.size or (None if image else spec.default_size if spec else "1920x1080")
            render_clip(
                task.prompt,
                size=size,
                fps=task.fps,
                duration=task.duration,
                image=image,
                out_video=self.store.files_dir / task.video_name,
                out_cover=self.store.files_dir / task.cover_name,
                config=self.config,
                variation=task.id,  # runs of one prompt differ, as with the real (seedless) API
            )
        except Exception as exc:  # a render bug must surface as FAIL, not as a task stuck forever
            log.exception("render failed for task %s", task.id)
            with self._cond:
                self._busy.discard(task.id)
                self.store.finish(task, "FAIL", f"emulator render error: {exc}")
            return
        with self._cond:
            self._busy.discard(task.id)
            if task.status == "PROCESSING" and time.time() >= task.due_at:
                self.store.finish(task, "SUCCESS")  # rendering ran past the due time

    def _image_bytes(self, task: Task) -> bytes | None:
        src = task.image_source
        if not src:
            return None
        if src.startswith("inputs/"):
            path = self.store.root / src
            return path.read_bytes() if path.is_file() else None
        return fetch_image(src)
