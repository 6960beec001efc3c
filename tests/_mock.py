"""A scripted fake of the API for client tests: a queue of answers, and a log of what was sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

BASE = "https://api.test/v4"
Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def mp4(tag: bytes = b"") -> bytes:
    """The smallest file the engine accepts as a video: MP4 boxes (ftyp, moov, mdat) that cover
    the file exactly; ``tag`` rides in the media data, to tell files apart."""
    return (
        _box(b"ftyp", b"isom\0\0\2\0isomiso2mp41")
        + _box(b"moov", _box(b"mvhd", bytes(100)))
        + _box(b"mdat", tag + bytes(32))
    )


def ok_submit(task_id: str = "task-1") -> httpx.Response:
    return httpx.Response(
        200, json={"id": task_id, "request_id": "r", "model": "cogvideox-flash", "task_status": "PROCESSING"}
    )


def status(s: str, task_id: str = "task-1", **extra: Any) -> httpx.Response:
    data: dict[str, Any] = {"id": task_id, "model": "cogvideox-flash", "task_status": s, **extra}
    if s.upper() == "SUCCESS" and "video_result" not in extra:
        data["video_result"] = [
            {"url": "https://cdn.test/v.mp4", "cover_image_url": "https://cdn.test/c.png"}
        ]
    return httpx.Response(200, json=data)


def error(
    http: int, code: str, message: str = "nope", headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(http, json={"error": {"code": code, "message": message}}, headers=headers)


@dataclass
class Script:
    """Answers requests in order; records every request it saw."""

    answers: list[Answer] = field(default_factory=list)
    seen: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.seen.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.seen if r.method == "POST"]

    def sync(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def async_(self) -> httpx.MockTransport:
        async def handler(request: httpx.Request) -> httpx.Response:
            await request.aread()
            return self(request)

        return httpx.MockTransport(handler)
