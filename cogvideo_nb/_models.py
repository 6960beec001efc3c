"""The model catalogue: every model's parameters, values, defaults, limits and image roles.

One table drives everything that knows the API's shape: request validation (``_request``), the
``%%cogvideo`` options, the CLI flags, the form's choices and the emulator's checks. Nothing
else lists parameters. Facts are from the API notes; where sources disagree both readings are
accepted and the row says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._i18n import N_

__all__ = [
    "COMMON_FIELDS", "DEFAULT_MODEL", "MAX_IMAGE_BYTES", "MODELS", "OPTIONS", "ImageRole",
    "ModelSpec", "Option", "get_model", "model_concurrency", "option_values",
]  # fmt: skip

MAX_IMAGE_BYTES = 5 * 1024 * 1024
DEFAULT_MODEL = "cogvideox-flash"
ImageRole = str  # "first" (first frame), "last" (last frame), "reference"


@dataclass(frozen=True)
class Option:
    """One optional request field as the UIs show it: wire name, flag, type, help and label."""

    name: str
    kind: type  # int, str or bool: what the wire carries
    flag: str  # the CLI / magic flag without dashes (``audio`` for with_audio)
    help: str  # said later, through t(): the catalogue holds it (N_)
    label: str  # the form's name for it, said later too


# Display order for the CLI, the magic and the form; the wire names are the API's.
OPTIONS: dict[str, Option] = {
    o.name: o
    for o in (
        Option("size", str, "size", N_("WIDTHxHEIGHT from the model's list"), N_("Size")),
        Option("fps", int, "fps", N_("frames per second"), N_("FPS")),
        Option("duration", int, "duration", N_("seconds"), N_("Duration")),
        Option("quality", str, "quality", N_("speed or quality"), N_("Quality")),
        Option("style", str, "style", N_("visual style (viduq1-text)"), N_("Visual style")),
        Option(
            "aspect_ratio",
            str,
            "aspect-ratio",
            N_("frame shape (viduq1-text, vidu2-reference)"),
            N_("Aspect ratio"),
        ),
        Option(
            "movement_amplitude",
            str,
            "movement-amplitude",
            N_("how much moves (Vidu models)"),
            N_("Movement"),
        ),
        Option("with_audio", bool, "audio", N_("AI sound effects"), N_("AI sound effects")),
        Option(
            "watermark_enabled",
            bool,
            "watermark",
            N_("the platform's watermark (server default: on)"),
            N_("Watermark"),
        ),
        Option(
            "off_peak", bool, "off-peak", N_("cheaper run in off-peak hours (Vidu models)"), N_("Off-peak")
        ),
    )
}

# Fields every model takes, checked in _request / the emulator by their own rules.
COMMON_FIELDS = ("model", "prompt", "image_url", "request_id", "user_id")

_BOOL = (True, False)
# Sizes: the older list for cogvideox-2/flash, the current one for cogvideox-3 which the current
# docs extend to all CogVideoX. Sources disagree for flash/2, so they take the union of both.
_COGVIDEOX_OLD = ("720x480", "1024x1024", "1280x960", "960x1280", "1920x1080", "1080x1920",
                  "2048x1080", "3840x2160")  # fmt: skip
_COGVIDEOX3 = ("1280x720", "720x1280", "1024x1024", "1920x1080", "1080x1920", "2048x1080", "3840x2160")
_COGVIDEOX_ANY = (*_COGVIDEOX_OLD, *(s for s in _COGVIDEOX3 if s not in _COGVIDEOX_OLD))
# Vidu: the notes give one example each (viduq1 1080p, vidu2 720p); aspect_ratio documents
# 16:9, 9:16 and 1:1, so each model takes its resolution in those three shapes and no other.
_VIDU_Q1 = ("1920x1080", "1080x1920", "1080x1080")
_VIDU_2 = ("1280x720", "720x1280", "720x720")


def _cogvideox(sizes: tuple[str, ...]) -> dict[str, tuple[Any, ...]]:
    # duration: documented for cogvideox-3; one transcription omits it for flash/2, the reference
    # lists 5/10 for CogVideoX: accepted for all three.
    return {"size": sizes, "fps": (30, 60), "duration": (5, 10), "quality": ("speed", "quality"),
            "with_audio": _BOOL, "watermark_enabled": _BOOL}  # fmt: skip


def _vidu(sizes: tuple[str, ...], duration: int, **extra: tuple[Any, ...]) -> dict[str, tuple[Any, ...]]:
    # No fps/quality for Vidu: the platform refuses them. Durations: the official examples
    # (4 s for vidu2-*, 5 s for viduq1-*).
    amplitude = ("auto", "small", "medium", "large")
    return {"size": sizes, "duration": (duration,), "movement_amplitude": amplitude,
            "off_peak": _BOOL, "with_audio": _BOOL, "watermark_enabled": _BOOL, **extra}  # fmt: skip


@dataclass(frozen=True)
class ModelSpec:
    """What one model takes. ``values`` maps each optional field it accepts to its allowed values.

    ``images`` names the role of each image slot in order; the first ``min_images`` are required.
    ``concurrency`` is tasks in flight per account for this model (the platform publishes none;
    one account listing showed cogvideox-3 = 1 and each Vidu model = 5).
    """

    name: str
    values: Mapping[str, tuple[Any, ...]]
    defaults: Mapping[str, Any]
    images: tuple[ImageRole, ...] = ("first",)
    min_images: int = 0
    max_prompt: int = 512
    concurrency: int = 5
    free: bool = False
    default_size: str = "1920x1080"

    @property
    def max_images(self) -> int:
        return len(self.images)

    @property
    def sizes(self) -> tuple[str, ...]:
        return tuple(self.values.get("size", ()))

    def takes(self, name: str) -> bool:
        return name in self.values


_COG_DEFAULTS = {"fps": 30, "duration": 5, "quality": "speed", "with_audio": False, "watermark_enabled": True}
_VIDU_DEFAULTS = {"movement_amplitude": "auto", "off_peak": False, "with_audio": False,
                  "watermark_enabled": True}  # fmt: skip
_ASPECT = ("16:9", "9:16", "1:1")

MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec("cogvideox-flash", _cogvideox(_COGVIDEOX_ANY), _COG_DEFAULTS, free=True),
        ModelSpec("cogvideox-2", _cogvideox(_COGVIDEOX_ANY), _COG_DEFAULTS),
        # first + last frame as a two-image list
        ModelSpec("cogvideox-3", _cogvideox(_COGVIDEOX3), _COG_DEFAULTS, ("first", "last"), concurrency=1),
        ModelSpec(
            "viduq1-text",
            _vidu(_VIDU_Q1, 5, style=("general", "anime"), aspect_ratio=_ASPECT),
            {**_VIDU_DEFAULTS, "duration": 5, "style": "general", "aspect_ratio": "16:9"},
            images=(),
            max_prompt=1500,
        ),
        ModelSpec(
            "viduq1-image",
            _vidu(_VIDU_Q1, 5),
            {**_VIDU_DEFAULTS, "duration": 5},
            min_images=1,
            max_prompt=1500,
        ),
        ModelSpec(
            "vidu2-image",
            _vidu(_VIDU_2, 4),
            {**_VIDU_DEFAULTS, "duration": 4},
            min_images=1,
            max_prompt=1500,
            default_size="1280x720",
        ),
        ModelSpec(
            "viduq1-start-end",
            _vidu(_VIDU_Q1, 5),
            {**_VIDU_DEFAULTS, "duration": 5},
            ("first", "last"),
            min_images=2,
            max_prompt=1500,
        ),
        ModelSpec(
            "vidu2-start-end",
            _vidu(_VIDU_2, 4),
            {**_VIDU_DEFAULTS, "duration": 4},
            ("first", "last"),
            min_images=2,
            max_prompt=1500,
            default_size="1280x720",
        ),
        ModelSpec(
            "vidu2-reference",
            _vidu(_VIDU_2, 4, aspect_ratio=_ASPECT),
            {**_VIDU_DEFAULTS, "duration": 4, "aspect_ratio": "16:9"},
            ("reference",) * 3,
            min_images=1,
            max_prompt=1500,
            default_size="1280x720",
        ),
    )
}


def get_model(name: object) -> ModelSpec | None:
    """The spec for a model name; names are case-insensitive, as the platform treats them."""
    return MODELS.get(name.strip().lower()) if isinstance(name, str) else None


def option_values(name: str) -> tuple[Any, ...]:
    """Every value any model takes for ``name``, in catalogue order (for flags and help)."""
    out: list[Any] = []
    for spec in MODELS.values():
        out += [v for v in spec.values.get(name, ()) if v not in out]
    return tuple(out)


def model_concurrency(name: str) -> int:
    """Tasks of this model that may be in flight at once (the scheduler's per-model cap)."""
    spec = get_model(name)
    return spec.concurrency if spec is not None else 5
