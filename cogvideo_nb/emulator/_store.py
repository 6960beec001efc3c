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
import urllib.parse
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .._models import (
    DURATIONS,
    FPS_VALUES,
    MAX_IMAGE_BYTES,
    MAX_PROMPT_CHARS,
    QUALITIES,
    ModelSpec,
    get_model,
)
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

    def processing_count(self, key_fp: str) -> int:
        with self.lock:
            return sum(1 for t in self._tasks.values() if t.key_fp == key_fp and t.status == "PROCESSING")

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


_DATA_URL_RE = re.compile(r"^data:image/(png|jpeg|jpg);base64,(.*)$", re.DOTALL)
_SIZE_RE = re.compile(r"^[1-9]\d{1,4}x[1-9]\d{1,4}$")
_SECONDS_RE = re.compile(r"#seconds=(\d+(?:\.\d*)?|\.\d+)")
_FAIL_RE = re.compile(r"#fail\b")
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


def _bad(message: str) -> ApiError:
    return ApiError(400, "1214", message)


def _check_image(value: object) -> bytes | str:
    """Decoded bytes for a data URL, the URL itself for http(s); anything else is a 1214."""
    if not isinstance(value, str) or not value:
        raise _bad("image_url must be a non-empty string")
    m = _DATA_URL_RE.match(value)
    if m:
        try:
            data = base64.b64decode(m[2], validate=True)
        except (binascii.Error, ValueError):
            raise _bad("image_url data URL is not valid base64") from None
        if len(data) > MAX_IMAGE_BYTES:
            raise _bad(f"image_url image is over {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
        if not data.startswith(_MAGIC):
            raise _bad("image_url must be a png or jpeg image")
        return data
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _bad("image_url must be an http(s) URL or a data:image/...;base64 URL")
    return value


def validate_submit(data: dict[str, Any], config: EmulatorConfig) -> tuple[ModelSpec, list[bytes | str]]:
    """Check a submit body the way the platform does, in its order of error codes."""
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("model is required")
    spec = get_model(model)
    if spec is None:
        raise ApiError(400, "1211", f"model not found: {model}")
    prompt = data.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise _bad("prompt must be a string")
    if prompt and len(prompt) > MAX_PROMPT_CHARS:
        raise ApiError(400, "1261", f"prompt is longer than {MAX_PROMPT_CHARS} characters")
    raw_images = data.get("image_url")
    if not prompt and raw_images in (None, "", []):
        raise _bad("prompt and image_url may not both be empty")
    images: list[bytes | str] = []
    if isinstance(raw_images, list):
        want = (2, 2) if spec.max_images == 2 else (1, spec.max_images)
        if spec.max_images < 2 or not want[0] <= len(raw_images) <= want[1]:
            raise _bad(f"{model} takes image_url as a list of {want[0]}-{want[1]} only"
                       if spec.max_images > 1 else f"{model} takes a single image_url")  # fmt: skip
        images = [_check_image(v) for v in raw_images]
    elif raw_images not in (None, ""):
        images = [_check_image(raw_images)]
    if spec.needs_image and not images:
        raise _bad(f"{model} needs image_url")
    size = data.get("size")
    if size is not None:
        ok = size in spec.sizes if spec.sizes is not None else bool(_SIZE_RE.match(str(size)))
        if not isinstance(size, str) or not ok:
            raise _bad(f"size {size!r} is not supported by {model}")
    checks: tuple[tuple[str, tuple[object, ...], type], ...] = (
        ("fps", FPS_VALUES, int), ("duration", DURATIONS, int), ("quality", QUALITIES, str),
        ("with_audio", (True, False), bool), ("watermark_enabled", (True, False), bool),
    )  # fmt: skip
    for name, allowed, kind in checks:
        value = data.get(name)
        if value is None:
            continue
        if type(value) is not kind or value not in allowed:
            raise _bad(f"{name} must be one of {', '.join(map(str, allowed))}, not {value!r}")
    user_id = data.get("user_id")
    if user_id is not None and (not isinstance(user_id, str) or not 6 <= len(user_id) <= 128):
        raise _bad("user_id must be a string of 6 to 128 characters")
    request_id = data.get("request_id")
    if request_id is not None and (not isinstance(request_id, str) or not 0 < len(request_id) <= 128):
        raise _bad("request_id must be a string of 1 to 128 characters")
    lowered = (prompt or "").lower()
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
        if store.processing_count(key_fp) >= config.max_in_flight:
            raise ApiError(429, "1302", f"too many tasks in progress (limit {config.max_in_flight})")
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
            size=data.get("size"), fps=data.get("fps") or 30, duration=data.get("duration") or 5,
            quality=data.get("quality") or "speed", with_audio=bool(data.get("with_audio")),
            watermark_enabled=data.get("watermark_enabled") is not False,
            user_id=data.get("user_id"), image_source=image_source,
        )  # fmt: skip
        store.add(task)
        return task, True


def submit_reply(task: Task) -> dict[str, Any]:
    return {"id": task.id, "request_id": task.request_id, "model": task.model,
            "task_status": task.status, "emulated": True}  # fmt: skip


def task_reply(task: Task, origin: str, expires: int) -> dict[str, Any]:
    """The poll answer; URLs are minted per answer from the serving origin, like signed URLs."""
    out = submit_reply(task)
    if task.status == "SUCCESS":
        out["video_result"] = [{
            "url": f"{origin}/files/{task.video_name}?expires={expires}",
            "cover_image_url": f"{origin}/files/{task.cover_name}?expires={expires}",
        }]  # fmt: skip
    elif task.status == "FAIL":
        out["fail_reason"] = task.fail_reason or "emulated failure"
    return out


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
