"""Task records on disk, and the gate a submit passes to become one.

Records are JSON files written atomically and due times are wall-clock, so an emulator started
after a kernel restart (on the same state dir) still answers for, and finishes, the tasks the
old one accepted. Validation follows the API notes' error rows so client code meets the same
codes here as on the platform.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
import random
import re
import secrets
import threading
import time
import unicodedata
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .._models import MAX_IMAGE_BYTES, OPTIONS, ModelSpec, get_model
from ._config import EmulatorConfig

__all__ = [
    "TASK_ID_RE", "ApiError", "Task", "TaskStore", "create_task", "draw_seconds",
    "submit_reply", "task_reply", "validate_submit",
]  # fmt: skip

log = logging.getLogger("cogvideo_nb.emulator")

TASK_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_STALE_TMP_SECONDS = 3600.0


@dataclass
class Task:
    """One accepted generation; ``outcome`` is drawn at submit, ``status`` moves when due."""

    id: str
    request_id: str
    key_fp: str
    model: str
    prompt: str
    created_at: float
    due_at: float
    outcome: str = "SUCCESS"
    fail_reason: str | None = None
    status: str = "PROCESSING"
    finished_at: float | None = None
    size: str | None = None
    fps: int = 30
    duration: int = 5
    quality: str = "speed"
    with_audio: bool = False
    watermark_enabled: bool = True
    user_id: str | None = None
    style: str | None = None
    aspect_ratio: str | None = None
    movement_amplitude: str | None = None
    off_peak: bool = False
    # "inputs/<file>" for an uploaded data URL, an http(s) URL, or None for text-to-video
    image_source: str | None = None

    @property
    def video_name(self) -> str:
        return f"{self.id}.mp4"

    @property
    def cover_name(self) -> str:
        return f"{self.id}_cover.png"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Task:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def new_task_id() -> str:
    # time-ordered prefix keeps `ls tasks/` chronological; random tail avoids cross-process clashes
    return f"{time.time_ns() // 1_000_000:x}-{secrets.token_hex(8)}"


class TaskStore:
    """In-memory index over ``<state_dir>/tasks/*.json``; misses fall back to disk.

    The fallback lets two emulators (say, two kernels) share one state dir: a task submitted to
    one can be polled on the other.
    """

    def __init__(self, state_dir: Path, retention: float = 7 * 86400.0) -> None:
        self.root = state_dir
        self.retention = retention
        self.tasks_dir = state_dir / "tasks"
        self.files_dir = state_dir / "files"
        self.inputs_dir = state_dir / "inputs"
        for d in (self.tasks_dir, self.files_dir, self.inputs_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._tasks: dict[str, Task] = {}
        self._by_request: dict[tuple[str, str], str] = {}
        self._load()

    def _load(self) -> None:
        now = time.time()
        for d in (self.files_dir, self.tasks_dir, self.inputs_dir):
            for tmp in d.glob(".*.tmp"):
                if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                    tmp.unlink(missing_ok=True)
        for path in sorted(self.tasks_dir.glob("*.json")):
            task = self._read(path)
            # a long-lived ~/.cache dir must not grow forever; the real links expire long before
            if task and task.finished_at and now - task.finished_at > self.retention:
                self._forget(task)

    def _forget(self, task: Task) -> None:
        self._tasks.pop(task.id, None)
        self._by_request.pop((task.key_fp, task.request_id), None)
        for path in (
            self.files_dir / task.video_name,
            self.files_dir / task.cover_name,
            self.inputs_dir / f"{task.id}.bin",
            self.tasks_dir / f"{task.id}.json",
        ):
            path.unlink(missing_ok=True)

    def _read(self, path: Path) -> Task | None:
        try:
            task = Task.from_json(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            log.warning("skipping unreadable task record %s: %s", path, exc)
            return None
        self._tasks[task.id] = task
        self._by_request[(task.key_fp, task.request_id)] = task.id
        return task

    def add(self, task: Task) -> None:
        with self.lock:
            self._tasks[task.id] = task
            self._by_request[(task.key_fp, task.request_id)] = task.id
            self.save(task)

    def save(self, task: Task) -> None:
        data = json.dumps(task.to_json(), ensure_ascii=False).encode("utf-8")
        _atomic_write(self.tasks_dir / f"{task.id}.json", data)

    def get(self, task_id: str) -> Task | None:
        with self.lock:
            task = self._tasks.get(task_id)
            if task is None and TASK_ID_RE.match(task_id):
                path = self.tasks_dir / f"{task_id}.json"
                if path.is_file():
                    task = self._read(path)
            return task

    def by_request(self, key_fp: str, request_id: str) -> Task | None:
        with self.lock:
            task_id = self._by_request.get((key_fp, request_id))
            return self._tasks.get(task_id) if task_id else None

    def processing_count(self, key_fp: str, model: str) -> int:
        """Tasks in flight for one account and one model: the platform's limits are per model."""
        with self.lock:
            return sum(
                1
                for t in self._tasks.values()
                if t.key_fp == key_fp and t.model == model and t.status == "PROCESSING"
            )

    @property
    def url_secret(self) -> bytes:
        """Signs result-file names; kept in the state dir so links outlive a restart."""
        path = self.root / "url_secret"
        with self.lock:
            if not path.is_file():
                _atomic_write(path, secrets.token_hex(16).encode())
            return path.read_bytes()

    def all(self) -> list[Task]:
        with self.lock:
            return sorted(self._tasks.values(), key=lambda t: t.created_at)

    def finish(self, task: Task, status: str, reason: str | None = None) -> None:
        with self.lock:
            task.status = status
            task.fail_reason = reason if status == "FAIL" else None
            task.finished_at = time.time()
            self.save(task)


# -- accepting a submit ---------------------------------------------------------------------


class ApiError(Exception):
    """A rejection the wire format knows: HTTP status plus the platform's string code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_DATA_URL_RE = re.compile(r"^data:image/(png|jpeg|jpg);base64,(.*)$", re.DOTALL | re.IGNORECASE)
_BARE_B64_RE = re.compile(r"^[A-Za-z0-9+/\s]{16,}={0,2}$")
_SECONDS_RE = re.compile(r"#seconds=(\d+(?:\.\d*)?|\.\d+)")
_FAIL_RE = re.compile(r"#fail\b")
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


def _bad(message: str) -> ApiError:
    return ApiError(400, "1214", message)


def _decode(payload: str, what: str) -> bytes:
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"image_url {what} is not valid base64") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise _bad(f"image_url image is over {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    if not data.startswith(_MAGIC):
        raise _bad("image_url must be a png or jpeg image")
    return data


def _check_image(value: object) -> bytes | str:
    """Decoded bytes for a data URL or bare Base64 ("URL or Base64"), the URL for http(s)."""
    if not isinstance(value, str) or not value:
        raise _bad("image_url must be a non-empty string")
    m = _DATA_URL_RE.match(value)
    if m:
        return _decode(m[2], "data URL")
    parts = urllib.parse.urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        return value
    if _BARE_B64_RE.match(value):
        return _decode("".join(value.split()), "Base64")
    raise _bad("image_url must be an http(s) URL, a data:image/...;base64 URL or Base64")


def _visible(prompt: str) -> bool:
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Mn", "Zs") for ch in prompt)


def _images(spec: ModelSpec, raw: object) -> list[bytes | str]:
    """image_url as the SDKs send it: a string or a list (one image may come as a 1-item list)."""
    if raw in (None, "", []):
        values: list[object] = []
    elif isinstance(raw, list):
        values = list(raw)
    else:
        values = [raw]
    if spec.max_images == 0 and values:
        raise _bad(f"{spec.name} does not take image_url")
    if not spec.min_images <= len(values) <= spec.max_images:
        lo, hi = max(spec.min_images, 1), spec.max_images
        roles = " + ".join(spec.images[:hi]) if spec.images[0] != "reference" else "reference images"
        raise _bad(f"{spec.name} takes {lo}-{hi} image(s) in image_url ({roles}), got {len(values)}")
    return [_check_image(v) for v in values]


def validate_submit(data: dict[str, Any], config: EmulatorConfig) -> tuple[ModelSpec, list[bytes | str]]:
    """Check a submit body against the catalogue, in the platform's order of error codes.

    JSON null means "unset" for every field, as zai-sdk sends whatever the caller left out.
    """
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("model is required")
    spec = get_model(model)
    if spec is None:
        raise ApiError(400, "1211", f"model not found: {model}")
    prompt = data.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise _bad("prompt must be a string")
    prompt = (prompt or "").strip()
    if len(prompt) > spec.max_prompt:
        raise ApiError(400, "1261", f"prompt is longer than {spec.max_prompt} characters")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t\r" for ch in prompt):
        raise _bad("prompt must not contain control characters")
    images = _images(spec, data.get("image_url"))
    if not _visible(prompt) and not images:
        raise _bad("prompt and image_url may not both be empty")
    for name, option in OPTIONS.items():
        value = data.get(name)
        if value is None:
            continue
        allowed = spec.values.get(name)
        if allowed is None:
            raise _bad(f"{name} is not supported by {spec.name}")
        if type(value) is not option.kind or value not in allowed:
            raise _bad(f"{name} must be one of {', '.join(map(str, allowed))} for {spec.name}, not {value!r}")
    user_id = data.get("user_id")
    if user_id is not None and (not isinstance(user_id, str) or not 6 <= len(user_id) <= 128):
        raise _bad("user_id must be a string of 6 to 128 characters")
    request_id = data.get("request_id")
    if request_id is not None and (not isinstance(request_id, str) or not 0 < len(request_id) <= 128):
        raise _bad("request_id must be a string of 1 to 128 characters")
    lowered = prompt.lower()
    for word in config.blocked_words:
        if word.lower() in lowered:
            raise ApiError(400, "1301", "the prompt was blocked by the content safety filter")
    return spec, images


def draw_seconds(config: EmulatorConfig, rng: random.Random) -> float:
    if config.seconds is not None:
        base = config.seconds
    elif config.timing == "fixed":
        base = config.median_seconds
    elif config.timing == "uniform":
        base = rng.uniform(config.min_seconds, config.max_seconds)
    else:
        base = rng.lognormvariate(math.log(max(config.median_seconds, 1e-6)), config.sigma)
    return base * config.time_scale


def create_task(
    store: TaskStore, config: EmulatorConfig, rng: random.Random, data: dict[str, Any], key_fp: str
) -> tuple[Task, bool]:
    """Validate, then return ``(task, created)``: the caller's task for a repeated request_id
    (or a 1231 refusal, with ``duplicates="error"``), or a new one.

    The duplicate lookup, the in-flight count and the insert happen under one lock, so a burst
    of retries can neither create two tasks nor slip past the concurrency limit.
    """
    spec, images = validate_submit(data, config)
    prompt: str = data.get("prompt") or ""
    request_id = data.get("request_id")
    with store.lock:
        if request_id and (existing := store.by_request(key_fp, request_id)) is not None:
            if config.duplicates == "error":  # the strict reading: refused, and no task id given
                raise ApiError(400, "1231", f"you already have a request: {request_id}")
            return existing, False
        limit = config.max_in_flight or spec.concurrency
        if store.processing_count(key_fp, spec.name) >= limit:
            raise ApiError(429, "1302", f"too many {spec.name} tasks in progress (limit {limit})")
        seconds = draw_seconds(config, rng)
        failed = rng.random() < config.p_fail
        if (m := _SECONDS_RE.search(prompt)) is not None:
            seconds = float(m[1])
        reason = "emulated generation failure (p_fail)" if failed else None
        if _FAIL_RE.search(prompt):
            reason = "emulated failure requested by #fail"
        task_id = new_task_id()
        image_source: str | None = None
        if images and isinstance(images[0], bytes):
            image_source = f"inputs/{task_id}.bin"
            _atomic_write(store.root / image_source, images[0])
        elif images:
            image_source = str(images[0])
        now = time.time()
        task = Task(
            id=task_id, request_id=request_id or secrets.token_hex(16), key_fp=key_fp,
            model=spec.name, prompt=prompt, created_at=now, due_at=now + seconds,
            outcome="FAIL" if reason else "SUCCESS", fail_reason=reason,
            size=data.get("size"), fps=data.get("fps") or 30,
            duration=data.get("duration") or spec.defaults.get("duration", 5),
            quality=data.get("quality") or "speed", with_audio=bool(data.get("with_audio")),
            watermark_enabled=data.get("watermark_enabled") is not False,
            user_id=data.get("user_id"), image_source=image_source, style=data.get("style"),
            aspect_ratio=data.get("aspect_ratio"), movement_amplitude=data.get("movement_amplitude"),
            off_peak=data.get("off_peak") is True,
        )  # fmt: skip
        store.add(task)
        return task, True


def submit_reply(task: Task) -> dict[str, Any]:
    """The documented submit answer, nothing more ("emulated" is said by a header)."""
    return {"id": task.id, "request_id": task.request_id, "model": task.model, "task_status": task.status}


def task_reply(task: Task, file_url: Callable[[Task, str], str]) -> dict[str, Any]:
    """The poll answer: documented fields plus ``created`` as the platform's shared async schema
    sends it. A FAIL carries no reason field (none is documented); the server adds a header.
    URLs are minted per answer by ``file_url``, like the platform's signed links.
    """
    out = {**submit_reply(task), "created": int(task.created_at)}
    if task.status == "SUCCESS":
        out["video_result"] = [{
            "url": file_url(task, "0.mp4"),
            "cover_image_url": file_url(task, "cover_0.png"),
        }]  # fmt: skip
    return out


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
