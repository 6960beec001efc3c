"""Settings, read lazily with one precedence: explicit > %config override > environment > default.

Nothing here reads the environment at import; every lookup happens when a client or job is made,
so a notebook can set ``os.environ`` or ``%config CogVideoMagics.api_key=...`` at any time.
The UI layer pushes ``%config`` traitlet values in through :func:`set_overrides`; the core never
imports traitlets or IPython.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ._errors import ConfigError

__all__ = [
    "DEFAULT_BASE_URL",
    "Secret",
    "Settings",
    "clear_overrides",
    "resolve",
    "resolve_settings",
    "set_overrides",
]

DEFAULT_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"

T = TypeVar("T")


class Secret:
    """A string that will not print itself: repr, str and format all hide it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled, so it cannot leak into a file")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("must be positive")
    return value


@dataclass(frozen=True)
class _Setting:
    env: tuple[str, ...]
    default: Any
    parse: Callable[[str], Any] = str


_SETTINGS: dict[str, _Setting] = {
    "api_key": _Setting(("ZHIPUAI_API_KEY", "ZAI_API_KEY"), None, Secret),
    "base_url": _Setting(("ZHIPUAI_BASE_URL", "ZAI_BASE_URL"), None),
    "output_dir": _Setting(("COGVIDEO_OUTPUT_DIR",), Path("cogvideo_outputs"), Path),
    "concurrency": _Setting(("COGVIDEO_CONCURRENCY",), 3, _positive_int),
    "timeout": _Setting(("COGVIDEO_TIMEOUT",), 900.0, _positive_float),
    "model": _Setting(("COGVIDEO_MODEL",), "cogvideox-flash"),
}

_overrides: dict[str, Any] = {}


def set_overrides(**values: Any) -> None:
    """Record ``%config`` values (None removes one). Only the UI layer calls this."""
    for name, value in values.items():
        if name not in _SETTINGS:
            raise ConfigError(f"unknown setting {name!r}; known: {', '.join(_SETTINGS)}")
        if value is None or value == "":
            _overrides.pop(name, None)
        else:
            _overrides[name] = value


def clear_overrides() -> None:
    _overrides.clear()


def resolve(name: str, explicit: Any = None, *, environ: Mapping[str, str] | None = None) -> Any:
    """One setting's value by the documented precedence."""
    setting = _SETTINGS[name]
    if explicit is not None:
        return _coerce(name, setting, explicit)
    if name in _overrides:
        return _coerce(name, setting, _overrides[name])
    env = os.environ if environ is None else environ
    for var in setting.env:
        raw = env.get(var, "").strip()
        if raw:
            return _coerce(name, setting, raw, source=var)
    return setting.default


def _clean_key(value: Any, source: str | None) -> Secret:
    """Strip a key (``Path(...).read_text()`` ends in a newline) and refuse one with whitespace or
    control characters inside: it would be sent wrong and could leak into messages. Never echoed."""
    raw = value.reveal() if isinstance(value, Secret) else value
    where = f"${source}" if source else "api_key"
    if not isinstance(raw, str):
        raise ConfigError(f"{where} must be a string")
    raw = raw.strip()
    if not raw:
        raise ConfigError(f"{where} is empty")
    if any(c.isspace() or not c.isprintable() for c in raw):
        raise ConfigError(f"{where} contains whitespace or control characters (the key is not shown)")
    return Secret(raw)


def _coerce(name: str, setting: _Setting, value: Any, source: str | None = None) -> Any:
    if name == "api_key":
        return _clean_key(value, source)
    if not isinstance(value, str) or setting.parse is str:
        return value
    try:
        return setting.parse(value)
    except ValueError as exc:
        where = f"${source}" if source else name
        # The key is never echoed; other values are safe to show.
        shown = "" if name == "api_key" else f" {value!r}"
        raise ConfigError(f"bad value{shown} for {where}: {exc}") from None


@dataclass(frozen=True)
class Settings:
    """A resolved snapshot. ``base_url`` is None when the embedded emulator should be used."""

    api_key: Secret | None
    base_url: str | None
    output_dir: Path
    concurrency: int
    timeout: float
    model: str

    @property
    def uses_emulator(self) -> bool:
        return bool(self.api_key is None and self.base_url is None)


def resolve_settings(*, environ: Mapping[str, str] | None = None, **explicit: Any) -> Settings:
    """Resolve every setting at once; unknown names are a ConfigError."""
    unknown = set(explicit) - set(_SETTINGS)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    values = {name: resolve(name, explicit.get(name), environ=environ) for name in _SETTINGS}
    if values["api_key"] is not None and values["base_url"] is None:
        values["base_url"] = DEFAULT_BASE_URL
    if values["base_url"] is not None:
        values["base_url"] = str(values["base_url"]).rstrip("/")
    return Settings(**values)
