"""The bundled emulator as what a client with no API key talks to.

Whether a client uses the emulator is settled by the settings (no key and no base URL); starting
it is a process matter the client layer must not know about: it sits below the emulator. Importing
the package runs this module, which hands the client layer the emulator's launcher, so
``Client()``, ``AsyncClient()`` and the engine still work offline with no key.
"""

from __future__ import annotations

from ._client_base import serve_keyless_with

__all__ = ["emulator_url", "prestart"]


def emulator_url() -> str:
    """The shared background emulator's base URL, spawned on first use (not at import: a
    notebook that has a key never pays for it)."""
    from .emulator._process import ensure_background

    return ensure_background()


def prestart() -> None:
    """Start spawning it now, in the caller's thread: the fork holds the GIL for tens of ms in a
    big process, better spent when an engine is made than during its first job."""
    from .emulator._process import prestart_background

    prestart_background()


serve_keyless_with(emulator_url)
