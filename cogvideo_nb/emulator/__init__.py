"""A local emulator of the CogVideoX async video API (submit, poll, download).

It speaks only the wire format in the API notes, so the official SDK, plain httpx and this
package's own client all work against it unchanged except for the base URL; it never imports
the client. Results are real, small H.264 MP4s drawn from the prompt and labelled EMULATED.

Prompt markers, for deterministic tests and demos:

* ``#fail`` - the task ends FAIL with reason "emulated failure requested by #fail".
* ``#seconds=N`` - this task takes exactly N wall seconds (float; ``time_scale`` not applied).

Use ``with Emulator(EmulatorConfig(seconds=0.5)) as emu: ...`` and point a client at
``emu.base_url``; or ``python -m cogvideo_nb.emulator``; or ``ensure_background()`` for one
shared subprocess per interpreter. Knobs: :class:`EmulatorConfig` (env ``COGVIDEO_EMULATOR_*``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._config import EmulatorConfig, default_state_dir, parse_faults
from ._process import BackgroundEmulator, ensure_background, start_background

if TYPE_CHECKING:
    from ._emulator import Emulator
    from ._render import RenderResult, output_size, render_clip

__all__ = [
    "BackgroundEmulator", "Emulator", "EmulatorConfig", "RenderResult", "default_state_dir",
    "ensure_background", "output_size", "parse_faults", "render_clip", "start_background",
]  # fmt: skip

# The package's keyless default (cogvideo_nb._local) loads the launcher inside a notebook kernel;
# PyAV, numpy and Pillow (~200 ms, GIL held) load only when something in-process actually renders
# or serves.
_LAZY = {
    "Emulator": "_emulator",
    "RenderResult": "_render",
    "output_size": "_render",
    "render_clip": "_render",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
