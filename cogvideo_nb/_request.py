"""Validated submit requests: every rule of the API notes checked here, before a byte is sent."""

from __future__ import annotations

import base64
import binascii
import io
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union

from ._config import resolve
from ._errors import ValidationError
from ._models import (
    DEFAULT_MODEL,
    DURATIONS,
    FPS_VALUES,
    MAX_IMAGE_BYTES,
    MAX_PROMPT_CHARS,
    MODELS,
    QUALITIES,
)

__all__ = ["ImageInput", "VideoRequest", "build_request", "image_to_url", "new_request_id"]

ImageInput = Union[str, "os.PathLike[str]", bytes, Any]  # Any: a PIL image (duck-typed)

_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


def new_request_id() -> str:
    """A client-made id; reused on every retry of one submit so the server can drop duplicates."""
    return f"cvnb-{uuid.uuid4().hex}"


def _sniff(data: bytes, what: str) -> str:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    raise ValidationError(
        f"{what} is not a PNG or JPEG image (checked its content, not its name)", field="image"
    )


def _check_size(n: int, what: str) -> None:
    if n > MAX_IMAGE_BYTES:
        raise ValidationError(
            f"{what} is {n / 1e6:.1f} MB; the API takes at most {MAX_IMAGE_BYTES // 2**20} MB",
            field="image",
        )


def _bytes_to_url(data: bytes, what: str) -> str:
    _check_size(len(data), what)
    mime = _sniff(data, what)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_to_url(image: ImageInput) -> str:
    """Turn a path, bytes, PIL image, http(s) URL or data URL into what ``image_url`` carries."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _bytes_to_url(bytes(image), "the image bytes")
    if hasattr(image, "save") and hasattr(image, "mode"):  # a PIL image, without importing PIL
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return _bytes_to_url(buf.getvalue(), "the PIL image")
    if isinstance(image, os.PathLike):
        image = os.fspath(image)
    if not isinstance(image, str):
        raise ValidationError(
            f"image must be a path, URL, bytes or PIL image, not {type(image).__name__}",
            field="image",
        )
    text = image.strip()
    lower = text.lower()
    if lower.startswith(("http://", "https://")):
        return text
    if lower.startswith("data:"):
        return _check_data_url(text)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise ValidationError(
            f"image URL scheme {scheme!r} is not supported; use http(s), a data: URL or a local path",
            field="image",
        )
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValidationError(f"image file not found: {text}", field="image")
    _check_size(path.stat().st_size, f"image file {text}")
    return _bytes_to_url(path.read_bytes(), f"image file {text}")


def _check_data_url(url: str) -> str:
    head, _, payload = url.partition(",")
    if not head.lower().endswith(";base64") or not payload:
        raise ValidationError("a data: image URL must be base64 (data:image/png;base64,...)", field="image")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("the data: image URL is not valid base64", field="image") from None
    return _bytes_to_url(data, "the data: image")


@dataclass(frozen=True)
class VideoRequest:
    """One validated submit. Build it with :func:`build_request`, which checks every field."""

    prompt: str = ""
    model: str = DEFAULT_MODEL
    image_url: str | tuple[str, ...] | None = None
    size: str | None = None
    fps: int | None = None
    duration: int | None = None
    quality: str | None = None
    with_audio: bool | None = None
    watermark_enabled: bool | None = None
    user_id: str | None = None
    request_id: str = field(default_factory=new_request_id)

    def to_body(self) -> dict[str, Any]:
        """The JSON body; fields the user left unset are left to the server's defaults."""
        body: dict[str, Any] = {"model": self.model, "request_id": self.request_id}
        if self.prompt:
            body["prompt"] = self.prompt
        if self.image_url is not None:
            body["image_url"] = list(self.image_url) if isinstance(self.image_url, tuple) else self.image_url
        for name in (
            "size",
            "fps",
            "duration",
            "quality",
            "with_audio",
            "watermark_enabled",
            "user_id",
        ):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return body

    def params(self) -> dict[str, Any]:
        """The knobs that shape a run (for labels, history and duration estimates)."""
        return {
            "model": self.model,
            "size": self.size,
            "fps": self.fps,
            "duration": self.duration,
            "quality": self.quality,
            "with_audio": self.with_audio,
        }

    def with_new_id(self) -> VideoRequest:
        """The same request as a new task (a deliberate retry of a finished one)."""
        return replace(self, request_id=new_request_id())

    def __repr__(self) -> str:
        img = self.image_url
        shown = img if not isinstance(img, str) or len(img) < 80 else img[:40] + "…"
        return (
            f"VideoRequest(model={self.model!r}, prompt={self.prompt[:60]!r}, image_url={shown!r}, "
            f"size={self.size!r}, fps={self.fps!r}, duration={self.duration!r}, quality={self.quality!r})"
        )


def _one_of(name: str, value: Any, allowed: Sequence[Any], model: str | None = None) -> None:
    if value is not None and (type(value) is bool or value not in allowed):
        scope = f" for {model}" if model else ""
        raise ValidationError(
            f"{name} {value!r} is not allowed{scope}; choose one of: {', '.join(map(str, allowed))}",
            field=name,
        )


def _as_int(name: str, value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return value  # bools fall through to _one_of, which rejects them
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    raise ValidationError(f"{name} must be a whole number, not {value!r}", field=name)


def build_request(
    prompt: str | None = None,
    *,
    model: str | None = None,
    image: ImageInput | Sequence[ImageInput] | None = None,
    size: str | None = None,
    fps: int | None = None,
    duration: int | None = None,
    quality: str | None = None,
    with_audio: bool | None = None,
    watermark_enabled: bool | None = None,
    user_id: str | None = None,
    request_id: str | None = None,
) -> VideoRequest:
    """Validate everything and return a request ready to send, or raise :class:`ValidationError`."""
    model = model or str(resolve("model"))
    spec = MODELS.get(model)
    if spec is None:
        raise ValidationError(f"unknown model {model!r}; known models: {', '.join(MODELS)}", field="model")
    if prompt is not None and not isinstance(prompt, str):
        raise ValidationError(f"prompt must be text, not {type(prompt).__name__}", field="prompt")
    prompt = (prompt or "").strip()
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValidationError(
            f"prompt is {len(prompt)} characters; the API takes at most {MAX_PROMPT_CHARS}",
            field="prompt",
        )
    images = _images(image)
    if not prompt and not images:
        raise ValidationError("give a prompt or a first-frame image (both are empty)", field="prompt")
    if spec.needs_image and not images:
        raise ValidationError(f"{model} needs a first-frame image", field="image")
    if len(images) > spec.max_images:
        raise ValidationError(
            f"{model} takes at most {spec.max_images} image(s), got {len(images)}", field="image"
        )
    if size is not None:
        size = str(size).strip().lower().replace("×", "x").replace("*", "x")
        if spec.sizes is not None:
            _one_of("size", size, spec.sizes, model)
        elif not _is_size(size):
            raise ValidationError(f"size {size!r} must look like WIDTHxHEIGHT", field="size")
    fps_i, duration_i = _as_int("fps", fps), _as_int("duration", duration)
    _one_of("fps", fps_i, FPS_VALUES)
    _one_of("duration", duration_i, DURATIONS)
    _one_of("quality", quality, QUALITIES)
    for name, flag in (("with_audio", with_audio), ("watermark_enabled", watermark_enabled)):
        if flag is not None and not isinstance(flag, bool):
            raise ValidationError(f"{name} must be True or False, not {flag!r}", field=name)
    if user_id is not None and not 6 <= len(user_id) <= 128:
        raise ValidationError("user_id must be 6 to 128 characters", field="user_id")
    image_url: str | tuple[str, ...] | None = None
    if images:
        image_url = images[0] if len(images) == 1 else tuple(images)
    return VideoRequest(
        prompt=prompt,
        model=model,
        image_url=image_url,
        size=size,
        fps=fps_i,
        duration=duration_i,
        quality=quality,
        with_audio=with_audio,
        watermark_enabled=watermark_enabled,
        user_id=user_id,
        request_id=request_id or new_request_id(),
    )


def _is_size(size: str) -> bool:
    w, _, h = size.partition("x")
    return w.isdigit() and h.isdigit()


def _images(image: ImageInput | Sequence[ImageInput] | None) -> list[str]:
    if image is None or (isinstance(image, str) and not image.strip()):
        return []
    if isinstance(image, (list, tuple)):
        return [image_to_url(i) for i in image]
    return [image_to_url(image)]
