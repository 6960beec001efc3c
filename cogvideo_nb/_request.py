"""Validated submit requests: the catalogue's rules checked here, before a byte is sent."""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union

from ._config import resolve
from ._errors import ValidationError
from ._i18n import t
from ._models import MAX_IMAGE_BYTES, MODELS, OPTIONS, ModelSpec, get_model

__all__ = [
    "ImageInput", "VideoRequest", "build_request", "clean_prompt", "image_to_url", "new_request_id",
]  # fmt: skip

ImageInput = Union[str, "os.PathLike[str]", bytes, Any]  # Any: a PIL image (duck-typed)

_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))
_BARE_B64 = re.compile(r"^[A-Za-z0-9+/\s]{16,}={0,2}$")
# Invisible padding a copy-paste brings along: trimmed like whitespace.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
# Whole numbers are the catalogue's small values; longer digit strings are refused before int()
# (which stops at 4300 digits) and before any message prints them.
_MAX_DIGITS = 9


def _shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages; never raises."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int over the 4300-digit limit, a nest of lists
        return t("a {kind} too large to show", kind=type(value).__name__)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(name: str, value: object) -> str:
    """``value`` if it is text that can go on the wire as UTF-8, else a ValidationError.

    A lone surrogate (what an undecodable byte becomes when read with ``surrogateescape``, or a
    JSON ``\\udcff`` escape) is a ``str`` that no UTF-8 encoder takes: refused here, not
    half-way through a batch.
    """
    if not isinstance(value, str):
        raise ValidationError(
            t("{name} must be text, not {kind}", name=name, kind=type(value).__name__), field=name
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = f"U+{ord(value[exc.start]):04X}"
        raise ValidationError(
            t(
                "{name} holds {code} at character {n}, which is not valid Unicode (an undecodable byte?); "
                "remove it",
                name=name,
                code=code,
                n=exc.start + 1,
            ),
            field=name,
        ) from None
    return value


def new_request_id() -> str:
    """A client-made id; reused on every retry of one submit so the server can drop duplicates."""
    return f"cvnb-{uuid.uuid4().hex}"


def _sniff(data: bytes, what: str) -> str:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    raise ValidationError(
        t("{what} is not a PNG or JPEG image (checked its content, not its name)", what=what), field="image"
    )


def _check_size(n: int, what: str) -> None:
    if n > MAX_IMAGE_BYTES:
        size = f"{n / 1e6:.1f}"
        raise ValidationError(
            t(
                "{what} is {size} MB; the API takes at most {limit} MB",
                what=what,
                size=size,
                limit=MAX_IMAGE_BYTES // 2**20,
            ),
            field="image",
        )


def _bytes_to_url(data: bytes, what: str) -> str:
    _check_size(len(data), what)
    mime = _sniff(data, what)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_to_url(image: ImageInput) -> str:
    """Turn a path, bytes, PIL image, http(s) URL, data URL or bare Base64 into ``image_url``."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _bytes_to_url(bytes(image), t("the image bytes"))
    if hasattr(image, "save") and hasattr(image, "mode"):  # a PIL image, without importing PIL
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return _bytes_to_url(buf.getvalue(), t("the PIL image"))
    if isinstance(image, os.PathLike):
        image = os.fspath(image)
    if not isinstance(image, str):
        raise ValidationError(
            t("image must be a path, URL, bytes or PIL image, not {kind}", kind=type(image).__name__),
            field="image",
        )
    text = image.strip()
    lower = text.lower()
    if lower.startswith(("http://", "https://")):
        return _text("image", text)
    if lower.startswith("data:"):
        return _check_data_url(text)
    if "://" in text:
        scheme = repr(text.split("://", 1)[0])
        raise ValidationError(
            t(
                "image URL scheme {scheme} is not supported; use http(s), a data: URL or a local path",
                scheme=scheme,
            ),
            field="image",
        )
    path = Path(text).expanduser()
    if path.is_file():
        what = t("image file {path}", path=text)
        _check_size(path.stat().st_size, what)
        return _bytes_to_url(path.read_bytes(), what)
    if _BARE_B64.match(text):  # the docs say "URL or Base64": a bare payload is an image too
        try:
            data = base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            data = b""
        if data.startswith(tuple(m for m, _ in _MAGIC)):
            return _bytes_to_url(data, t("the Base64 image"))
    raise ValidationError(t("image file not found: {path}", path=text), field="image")


def _check_data_url(url: str) -> str:
    head, _, payload = url.partition(",")
    if not head.lower().endswith(";base64") or not payload:
        raise ValidationError(
            t("a data: image URL must be base64 (data:image/png;base64,...)"), field="image"
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(t("the data: image URL is not valid base64"), field="image") from None
    return _bytes_to_url(data, t("the data: image"))


@dataclass(frozen=True)
class VideoRequest:
    """One validated submit. Build it with :func:`build_request`, which checks every field."""

    prompt: str = ""
    model: str = "cogvideox-flash"
    image_url: str | tuple[str, ...] | None = None
    size: str | None = None
    fps: int | None = None
    duration: int | None = None
    quality: str | None = None
    with_audio: bool | None = None
    watermark_enabled: bool | None = None
    user_id: str | None = None
    request_id: str = field(default_factory=new_request_id)
    style: str | None = None
    aspect_ratio: str | None = None
    movement_amplitude: str | None = None
    off_peak: bool | None = None

    def to_body(self) -> dict[str, Any]:
        """The JSON body; fields the user left unset are left to the server's defaults."""
        body: dict[str, Any] = {"model": self.model, "request_id": self.request_id}
        if self.prompt:
            body["prompt"] = self.prompt
        if self.image_url is not None:
            body["image_url"] = list(self.image_url) if isinstance(self.image_url, tuple) else self.image_url
        for name in (*OPTIONS, "user_id"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return body

    def params(self) -> dict[str, Any]:
        """The knobs that shape a run (for labels, history and duration estimates)."""
        return {"model": self.model, **{name: getattr(self, name) for name in OPTIONS}}

    def with_new_id(self) -> VideoRequest:
        """The same request as a new task (a deliberate retry of a finished one)."""
        return replace(self, request_id=new_request_id())

    def __repr__(self) -> str:
        img = self.image_url
        if isinstance(img, tuple):
            shown: Any = tuple(i if len(i) < 80 else i[:40] + "…" for i in img)
        else:
            shown = img if img is None or len(img) < 80 else img[:40] + "…"
        opts = "".join(f", {n}={getattr(self, n)!r}" for n in OPTIONS if getattr(self, n) is not None)
        return f"VideoRequest(model={self.model!r}, prompt={self.prompt[:60]!r}, image_url={shown!r}{opts})"


def clean_prompt(prompt: object) -> str:
    """The prompt trimmed; control characters refused (they are no part of a description)."""
    text = "" if prompt is None else _text("prompt", prompt).strip()
    for ch in text:
        if unicodedata.category(ch) == "Cc" and ch not in "\n\t\r":
            code = f"U+{ord(ch):04X}"
            raise ValidationError(
                t("prompt holds a control character ({code}); remove it", code=code), field="prompt"
            )
    if text and all(ch.isspace() or unicodedata.category(ch) in ("Cf", "Mn", "Zs") for ch in text):
        raise ValidationError(t("prompt has no visible characters"), field="prompt")
    return text.strip(_INVISIBLE).strip()


def _coerce(name: str, value: Any, kind: type) -> Any:
    """A flag's text ('60', ' Anime ') as the wire's type; bools must already be bools."""
    if kind is bool:
        if not isinstance(value, bool):
            raise ValidationError(
                t("{name} must be True or False, not {value}", name=name, value=_shown(value)), field=name
            )
        return value
    if kind is int:
        if isinstance(value, bool):
            return value  # refused by the value check with the list of choices
        if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
            if len(value.strip().lstrip("0")) > _MAX_DIGITS:
                shown = _shown(value)
                raise ValidationError(
                    t("{name} {value} is not a number any model takes", name=name, value=shown), field=name
                )
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        raise ValidationError(
            t("{name} must be a whole number, not {value}", name=name, value=_shown(value)), field=name
        )
    text = _text(name, value).strip()
    if name == "size":
        return text.lower().replace("×", "x").replace("*", "x")
    return text if name == "aspect_ratio" else text.lower()


def _check_option(spec: ModelSpec, name: str, value: Any) -> Any:
    allowed = spec.values.get(name)
    if allowed is None:
        takers = [m.name for m in MODELS.values() if m.takes(name)]
        raise ValidationError(
            t(
                "{name} is not a parameter of {model}; models that take it: {models}",
                name=name,
                model=spec.name,
                models=", ".join(takers),
            ),
            field=name,
        )
    value = _coerce(name, value, OPTIONS[name].kind)
    if type(value) is not OPTIONS[name].kind or value not in allowed:
        raise ValidationError(
            t(
                "{name} {value} is not allowed for {model}; choose one of: {choices}",
                name=name,
                value=_shown(value),
                model=spec.name,
                choices=", ".join(map(str, allowed)),
            ),
            field=name,
        )
    return value


def _roles_message(spec: ModelSpec) -> str:
    if spec.images[: spec.min_images] == ("first", "last"):
        return t("{model} needs a first and a last frame (image + last_frame)", model=spec.name)
    if "reference" in spec.images:
        return t(
            "{model} needs 1 to {n} reference images (references=[...])", model=spec.name, n=spec.max_images
        )
    return t("{model} needs a first-frame image", model=spec.name)


def _image_list(
    spec: ModelSpec,
    image: ImageInput | Sequence[ImageInput] | None,
    last_frame: ImageInput | None,
    references: Sequence[ImageInput] | None,
) -> str | tuple[str, ...] | None:
    images = _images(image)
    if last_frame is not None and not (isinstance(last_frame, str) and not last_frame.strip()):
        if "last" not in spec.images:
            takers = [m.name for m in MODELS.values() if "last" in m.images]
            raise ValidationError(
                t(
                    "{model} takes no last frame; models that do: {models}",
                    model=spec.name,
                    models=", ".join(takers),
                ),
                field="last_frame",
            )
        if len(images) != 1:
            raise ValidationError(
                t("a last frame needs exactly one first frame (image=...)"), field="last_frame"
            )
        images.append(image_to_url(last_frame))
    if references is not None and not isinstance(references, (list, tuple)):
        raise ValidationError(
            t("references must be a list of images, not {kind}", kind=type(references).__name__),
            field="references",
        )
    if references:
        if "reference" not in spec.images:
            raise ValidationError(t("{model} takes no reference images", model=spec.name), field="references")
        images += _images(list(references))
    if spec.max_images == 0 and images:
        raise ValidationError(
            t("{model} is text-to-video and takes no image", model=spec.name), field="image"
        )
    if len(images) < spec.min_images:
        raise ValidationError(_roles_message(spec), field="image")
    if len(images) > spec.max_images:
        raise ValidationError(
            t(
                "{model} takes at most {n} image(s) ({roles}), got {got}",
                model=spec.name,
                n=spec.max_images,
                roles=", ".join(spec.images),
                got=len(images),
            ),
            field="image",
        )
    if not images:
        return None
    # One first frame goes as a string (every reading takes it); roles beyond it as a list.
    return images[0] if len(images) == 1 and spec.images[0] == "first" else tuple(images)


def build_request(
    prompt: str | None = None,
    *,
    model: str | None = None,
    image: ImageInput | Sequence[ImageInput] | None = None,
    last_frame: ImageInput | None = None,
    references: Sequence[ImageInput] | None = None,
    user_id: str | None = None,
    request_id: str | None = None,
    **options: Any,
) -> VideoRequest:
    """Validate everything against the catalogue and return a request, or raise ValidationError.

    ``options`` are the catalogue's optional fields (size, fps, duration, quality, style,
    aspect_ratio, movement_amplitude, with_audio, watermark_enabled, off_peak); None means unset.
    """
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise TypeError(f"build_request() got unknown option(s): {', '.join(sorted(unknown))}")
    if model is not None and not isinstance(model, str):
        raise ValidationError(
            t("model must be a model name (text), not {kind}", kind=type(model).__name__), field="model"
        )
    if model is not None and not model.strip():
        raise ValidationError(
            t("model is empty; known models: {models}", models=", ".join(MODELS)), field="model"
        )
    name = _text("model", model) if model is not None else str(resolve("model"))
    spec = get_model(name)
    if spec is None:
        raise ValidationError(
            t("unknown model {name}; known models: {models}", name=_shown(name), models=", ".join(MODELS)),
            field="model",
        )
    text = clean_prompt(prompt)
    if len(text) > spec.max_prompt:
        raise ValidationError(
            t(
                "prompt is {n} characters; {model} takes at most {limit}",
                n=len(text),
                model=spec.name,
                limit=spec.max_prompt,
            ),
            field="prompt",
        )
    image_url = _image_list(spec, image, last_frame, references)
    if not text and image_url is None:
        raise ValidationError(t("give a prompt or a first-frame image (both are empty)"), field="prompt")
    checked = {n: _check_option(spec, n, v) for n, v in options.items() if v is not None}
    if user_id is not None and not 6 <= len(_text("user_id", user_id)) <= 128:
        raise ValidationError(t("user_id must be 6 to 128 characters"), field="user_id")
    if request_id is not None:
        _text("request_id", request_id)
    return VideoRequest(
        prompt=text,
        model=spec.name,
        image_url=image_url,
        user_id=user_id,
        request_id=request_id or new_request_id(),
        **checked,
    )


def _images(image: ImageInput | Sequence[ImageInput] | None) -> list[str]:
    if image is None or (isinstance(image, str) and not image.strip()):
        return []
    if isinstance(image, (list, tuple)):
        return [image_to_url(i) for i in image]
    return [image_to_url(image)]
