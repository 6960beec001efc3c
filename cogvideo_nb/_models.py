"""The model catalogue: what each model accepts, so bad values fail before a request leaves.

Shared by request validation and the emulator, which must agree with each other and the API notes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_MODEL", "DURATIONS", "FPS_VALUES", "MAX_IMAGE_BYTES", "MAX_PROMPT_CHARS",
    "MODELS", "QUALITIES", "ModelSpec", "get_model", "model_concurrency",
]  # fmt: skip

_COGVIDEOX_SIZES = (
    "720x480", "1024x1024", "1280x960", "960x1280",
    "1920x1080", "1080x1920", "2048x1080", "3840x2160",
)  # fmt: skip
_COGVIDEOX3_SIZES = (
    "1280x720", "720x1280", "1024x1024", "1920x1080", "1080x1920", "2048x1080", "3840x2160",
)  # fmt: skip


@dataclass(frozen=True)
class ModelSpec:
    """What one model takes. ``sizes`` is None where the API notes publish no list."""

    name: str
    sizes: tuple[str, ...] | None
    default_size: str
    needs_image: bool = False
    max_images: int = 1
    free: bool = False


MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec("cogvideox-flash", _COGVIDEOX_SIZES, "1920x1080", free=True),
        ModelSpec("cogvideox-2", _COGVIDEOX_SIZES, "1920x1080"),
        ModelSpec("cogvideox-3", _COGVIDEOX3_SIZES, "1920x1080", max_images=2),
        ModelSpec("viduq1-text", None, "1920x1080"),
        ModelSpec("viduq1-image", None, "1920x1080", needs_image=True),
        ModelSpec("vidu2-image", None, "1920x1080", needs_image=True),
        ModelSpec("viduq1-start-end", None, "1920x1080", needs_image=True, max_images=2),
        ModelSpec("vidu2-start-end", None, "1920x1080", needs_image=True, max_images=2),
        ModelSpec("vidu2-reference", None, "1920x1080", needs_image=True, max_images=3),
    )
}

DEFAULT_MODEL = "cogvideox-flash"
FPS_VALUES = (30, 60)
DURATIONS = (5, 10)
QUALITIES = ("speed", "quality")
MAX_PROMPT_CHARS = 512
MAX_IMAGE_BYTES = 5 * 1024 * 1024


def get_model(name: str) -> ModelSpec | None:
    return MODELS.get(name)


# Tasks in flight per model. Limits are per account tier and unpublished; one account listing
# showed cogvideox-3 = 1 and each Vidu model = 5. Unlisted models get a conservative default.
_CONCURRENCY = {
    "cogvideox-3": 1,
    **{name: 5 for name in MODELS if name.startswith("vidu")},
}
DEFAULT_MODEL_CONCURRENCY = 5


def model_concurrency(name: str) -> int:
    """How many tasks of this model may be in flight at once (the scheduler's per-model cap)."""
    return _CONCURRENCY.get(name, DEFAULT_MODEL_CONCURRENCY)
