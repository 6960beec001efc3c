"""The HTTP side: the two API routes, signed-URL style file downloads, faults and stats.

Stdlib ``ThreadingHTTPServer`` on purpose: the emulator must run wherever the package imports,
with no web framework, and HTTP/1.1 keep-alive so real clients reuse connections as they would
against the platform.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import math
import random
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from ._auth import key_identity
from ._chat import chat_answer
from ._config import EmulatorConfig
from ._store import ApiError, Task, TaskStore, create_task, submit_reply, task_reply

__all__ = ["API_PREFIX", "FILES_PREFIX", "REASON_HEADER", "EmulatorApp", "EmulatorHTTPServer", "key_identity"]

log = logging.getLogger("cogvideo_nb.emulator")

API_PREFIX = "/api/paas/v4"
_SUBMIT = API_PREFIX + "/videos/generations"
_CHAT = API_PREFIX + "/chat/completions"  # the prompt rewrite (see _chat)
_POLL = API_PREFIX + "/async-result/"
FILES_PREFIX = "/api/cogvideo/"
# <task id>-<expiry, hex seconds>-<signature>_0.mp4 | _cover_0.png: a real-looking name that
# carries its own expiry, so links can expire with no visible query parameter.
_FILE_RE = re.compile(
    r"^([0-9a-f]{1,16}-[0-9a-f]{16})-([0-9a-f]{1,12})-([0-9a-f]{20})_(0\.mp4|cover_0\.png)$"
)
REASON_HEADER = "X-CogVideo-Emulator-Reason"
_MAX_BODY = 32 * 1024 * 1024


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, obj: Any, headers: dict[str, str] | None = None) -> Reply:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        return cls(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})

    @classmethod
    def error(cls, status: int, code: str, message: str, **headers: str) -> Reply:
        return cls.json(status, {"error": {"code": code, "message": message}}, headers)

    @classmethod
    def xml(cls, status: int, code: str, message: str) -> Reply:
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        body += f"<Message>{message}</Message></Error>"
        return cls(status, body.encode(), {"Content-Type": "application/xml"})


class TaskRunner(Protocol):
    def schedule(self, task: Task) -> None: ...
    def refresh(self, task: Task) -> Task: ...


class EmulatorApp:
    """State shared by all request threads: config, store, RNGs and request counters."""

    def __init__(self, config: EmulatorConfig, store: TaskStore, scheduler: TaskRunner) -> None:
        self.config = config
        self.store = store
        self.scheduler = scheduler
        self.lock = threading.Lock()
        seed = config.seed
        self.timing_rng = random.Random(seed)  # used under store.lock by create_task
        # a separate stream, so turning faults on does not change processing times
        self.fault_rng = random.Random(None if seed is None else seed + 7919)
        self.requests = {"submit": 0, "poll": 0, "file": 0}
        self.files_origin = ""  # set by the Emulator once the file host listens
        self._secret = store.url_secret

    def _sign(self, task_id: str, expires: int) -> str:
        msg = f"{task_id}-{expires:x}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:20]

    def file_url(self, task: Task, suffix: str) -> str:
        """A link on the file host, like the platform's CDN links: other origin, no key needed."""
        expires = max(0, int(time.time() + self.config.url_ttl))
        name = f"{task.id}-{expires:x}-{self._sign(task.id, expires)}_{suffix}"
        return f"{self.files_origin}{FILES_PREFIX}{name}"

    def open_file(self, name: str) -> tuple[Task, str] | str:
        """The task and file kind a link names, or why it is refused ("missing", "expired")."""
        m = _FILE_RE.match(name)
        if not m or not hmac.compare_digest(m[3], self._sign(m[1], int(m[2], 16))):
            return "missing"
        if int(m[2], 16) < time.time():
            return "expired"
        task = self.store.get(m[1])
        if task is None or task.status != "SUCCESS":
            return "missing"
        return task, m[4]

    def count(self, kind: str) -> None:
        with self.lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1  # "chat" appears once used

    def roll(self, p: float) -> bool:
        if p <= 0:
            return False
        with self.lock:
            return self.fault_rng.random() < p

    def stats(self) -> dict[str, Any]:
        tasks = [
            {"id": t.id, "request_id": t.request_id, "model": t.model, "prompt": t.prompt,
             "status": t.status, "created_at": t.created_at, "due_at": t.due_at,
             # what was asked, as the server read it: front ends are compared on this
             "params": {k: getattr(t, k) for k in _PARAMS}}
            for t in self.store.all()
        ]  # fmt: skip
        with self.lock:
            return {"tasks": tasks, "requests": dict(self.requests)}


_PARAMS = (
    "size", "fps", "duration", "quality", "with_audio", "watermark_enabled", "style", "aspect_ratio",
    "movement_amplitude", "off_peak", "image_source",
)  # fmt: skip


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so stopping cuts keep-alive clients off, as a dead process would."""

    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 drops SYNs under bursts: 1 s client retransmits
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: EmulatorApp, *, files_only: bool = False) -> None:
        self.app = app
        self.files_only = files_only  # the second origin: result files and nothing else
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    protocol_version = "HTTP/1.1"
    # Replies leave as two writes (headers, body); with Nagle the body waits for the client's
    # delayed ACK, ~40 ms on every keep-alive request.
    disable_nagle_algorithm = True
    server_version = "CogVideoEmulator/1"

    def end_headers(self) -> None:
        # here, not in _send, so the stdlib's own error pages (501, 414...) carry it too
        self.send_header("X-CogVideo-Emulator", "1")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # -- routing ---------------------------------------------------------------------------

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path = urllib.parse.urlsplit(self.path).path.rstrip("/")
        if path == _SUBMIT and not self.server.files_only:
            self._api("submit", lambda key: self._submit(body, key))
        elif path == _CHAT and not self.server.files_only:
            self._api("chat", lambda key: Reply.json(200, chat_answer(body)))
        else:
            self._send(Reply.error(404, "404", f"no such route: POST {path}"))

    def do_GET(self) -> None:
        self._get()

    def do_HEAD(self) -> None:
        self._get()

    def _get(self) -> None:
        if self._read_body() is None:
            return
        path = urllib.parse.urlsplit(self.path).path
        if self.server.files_only:
            if path.startswith(FILES_PREFIX):
                self.server.app.count("file")
                self._send(self._file(path[len(FILES_PREFIX) :]))
            else:
                self._send(Reply.xml(404, "NoSuchKey", "The specified key does not exist."))
        elif path.startswith(_POLL):
            task_id = urllib.parse.unquote(path[len(_POLL) :]).strip("/")
            self._api("poll", lambda key: self._poll(task_id))
        elif path == "/_emulator/stats":
            self._send(Reply.json(200, self.server.app.stats()))
        elif path == "/_emulator/health":
            self._send(Reply.json(200, {"ok": True, "emulated": True}))
        else:
            self._send(Reply.error(404, "404", f"no such route: GET {path}"))

    # -- API routes, wrapped in auth and faults ----------------------------------------------

    def _api(self, kind: str, handler: Callable[[str], Reply]) -> None:
        app = self.server.app
        cfg = app.config
        app.count(kind)
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self._send(Reply.error(401, "1001", "missing Authorization: Bearer <api key>"))
            return
        key = key_identity(token.strip(), cfg.accepted_keys)
        if key is None:
            self._send(Reply.error(401, "1002", "invalid api key"))
            return
        if app.roll(cfg.p_slow):
            time.sleep(cfg.slow_seconds)
        if app.roll(cfg.p_drop):
            self._drop()
            return
        if app.roll(cfg.p_500):
            self._send(Reply.error(500, "500", "emulated internal server error (p_500)"))
            return
        if app.roll(cfg.p_429):
            retry = retry_after_header(1.0 * cfg.time_scale)
            self._send(Reply.error(429, "1302", "emulated rate limit (p_429)", **{"Retry-After": retry}))
            return
        try:
            reply = handler(key)
        except ApiError as exc:
            reply = Reply.error(exc.status, exc.code, exc.message)
        if app.roll(cfg.p_drop_after):
            self._drop()  # the work is done (task created) but the client never hears of it
            return
        if reply.status == 200 and app.roll(cfg.p_malformed):
            reply.body = reply.body[: max(1, len(reply.body) // 2)]
        self._send(reply)

    def _submit(self, body: bytes, key: str) -> Reply:
        app = self.server.app
        try:
            data = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "1210", f"request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "1210", "request body must be a JSON object")
        task, created = create_task(app.store, app.config, app.timing_rng, data, key)
        if created:
            app.scheduler.schedule(task)
        return Reply.json(200, submit_reply(task))

    def _poll(self, task_id: str) -> Reply:
        app = self.server.app
        task = app.store.get(task_id) if task_id else None
        if task is None:
            # 1233 "task does not exist" (the older table; served as 404 here)
            raise ApiError(404, "1233", f"task not found: {task_id}")
        app.scheduler.refresh(task)
        reply = Reply.json(200, task_reply(task, app.file_url))
        if task.status == "FAIL":  # the body documents no reason; the emulator says it here
            reply.headers[REASON_HEADER] = urllib.parse.quote(task.fail_reason or "emulated failure")
        return reply

    # -- files ---------------------------------------------------------------------------------

    def _file(self, name: str) -> Reply:
        found = self.server.app.open_file(name)
        if found == "expired":
            return Reply.xml(403, "AccessDenied", "Request has expired")
        if isinstance(found, str):
            return Reply.xml(404, "NoSuchKey", "The specified key does not exist.")
        task, kind = found
        files = self.server.app.store.files_dir
        path = files / (task.video_name if kind.endswith(".mp4") else task.cover_name)
        try:
            data = path.read_bytes()
        except OSError:
            return Reply.xml(404, "NoSuchKey", "The specified key does not exist.")
        ctype = "video/mp4" if kind.endswith(".mp4") else "image/png"
        headers = {"Content-Type": ctype, "Accept-Ranges": "bytes"}
        try:
            rng = _parse_range(self.headers.get("Range"), len(data))
        except _Unsatisfiable:
            reply = Reply.xml(416, "InvalidRange", "The requested range is not satisfiable")
            reply.headers["Content-Range"] = f"bytes */{len(data)}"
            return reply
        if rng is None:
            return Reply(200, data, headers)
        start, end = rng
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return Reply(206, data[start : end + 1], headers)

    # -- plumbing ------------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > _MAX_BODY:
            self.close_connection = True
            self._send(Reply.error(400, "1210", "bad Content-Length or body too large"))
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _drop(self) -> None:
        self.close_connection = True
        self.wfile.flush()

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


def retry_after_header(seconds: float) -> str:
    """Retry-After as delta-seconds: a whole number (RFC 9110), rounded up."""
    return str(max(0, math.ceil(seconds)))


class _Unsatisfiable(Exception):
    pass


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range -> (start, end) inclusive; None means serve it all (RFC 9110 allows
    ignoring ranges it cannot use, e.g. multi-range)."""
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not m or not (m[1] or m[2]):
        return None
    if m[1]:
        start = int(m[1])
        end = int(m[2]) if m[2] else max(start, size - 1)
        if end < start:  # syntactically invalid: ignored, per RFC 9110
            return None
        if start >= size:
            raise _Unsatisfiable
        return start, min(end, size - 1)
    suffix = int(m[2])
    if suffix == 0 or size == 0:
        raise _Unsatisfiable
    return max(0, size - suffix), size - 1
