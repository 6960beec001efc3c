"""Settings, read lazily with one precedence: explicit > %config override > environment > default.

Nothing here reads the environment at import; every lookup happens when a client or job is made,
so a notebook can set ``os.environ`` or ``%config CogVideoMagics.api_key=...`` at any time.
The UI layer pushes ``%config`` traitlet values in through :func:`set_overrides`; the core never
imports traitlets or IPython.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ._errors import ConfigError
from ._i18n import N_, fallback_language, read_choice_with, t

__all__ = [
    "DEFAULT_BASE_URL",
    "PROVIDERS",
    "Provider",
    "Secret",
    "Settings",
    "clear_overrides",
    "infer_provider",
    "resolve",
    "resolve_settings",
    "set_overrides",
]

DEFAULT_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"


@dataclass(frozen=True)
class Provider:
    """One platform speaking the API. A key belongs to one platform: it is read only from that
    platform's variable, so a key is never sent to the other."""

    name: str
    title: str
    base_url: str
    key_env: str
    url_env: str
    headers: tuple[tuple[str, str], ...] = ()


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            "bigmodel", "BigModel (open.bigmodel.cn)", DEFAULT_BASE_URL, "ZHIPUAI_API_KEY", "ZHIPUAI_BASE_URL"
        ),
        # zai-sdk's ZaiClient sends Accept-Language en-US,en to Z.ai; so do we.
        Provider(
            "zai",
            "Z.ai (api.z.ai)",
            "https://api.z.ai/api/paas/v4",
            "ZAI_API_KEY",
            "ZAI_BASE_URL",
            (("Accept-Language", "en-US,en"),),
        ),
    )
}

T = TypeVar("T")


class Secret:
    """A string that will not print itself: repr, str and format all hide it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def _fault(self) -> str | None:
        """What makes this no usable key, in words that never quote it (None: nothing): a
        message with a ``{where}`` placeholder, translated where it is said."""
        if not isinstance(self._value, str):
            return N_("{where} must be a string")
        text = self._value.strip()
        if not text:
            return N_("{where} is empty")
        if any(c.isspace() or not c.isprintable() for c in text):
            return N_("{where} contains whitespace or control characters (the key is not shown)")
        return None

    def _stripped(self) -> Secret:
        return Secret(self._value.strip())

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled, so it cannot leak into a file")


class _Refused(ValueError):
    """A parser's refusal, said later: in the message that names the setting (``_coerce``), in
    the language in force there (the language setting's own, in the one it falls back to)."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message.format(**values))
        self.message, self.values = message, values


def _positive_int(value: Any) -> int:
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Refused(N_("must be a whole number"))
    if value < 1:
        raise _Refused(N_("must be at least 1"))
    return value


def _positive_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _Refused(N_("must be a number of seconds"))
    number = float(value)  # "nan", "inf" and "1e999" parse: refused below
    if not math.isfinite(number) or number <= 0:
        raise _Refused(N_("must be a finite number of seconds above 0"))
    return number


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Refused(N_("must be a non-empty string"))
    return value.strip()


def _folder(value: Any) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise _Refused(N_("must be a folder path"))
    return Path(value)


def _language(value: Any) -> str:
    """``en`` or ``zh``; a locale or tag names one too (``zh_CN.UTF-8``, ``zh-Hans``, ``en-US``)."""
    code = _text(value).lower().replace("-", "_").split("_")[0].split(".")[0]
    if code not in ("en", "zh"):
        raise _Refused(N_("must be en or zh"))
    return code


def _provider_name(value: Any) -> str:
    name = _text(value).lower().replace(".", "").replace("-", "")
    if name not in PROVIDERS:
        raise _Refused(N_("must be one of: {choices}"), choices=", ".join(PROVIDERS))
    return name


@dataclass(frozen=True)
class _Setting:
    env: tuple[str, ...]
    default: Any
    # Checks and converts a value from any source (argument, %config, environment): one
    # validation, so a number that arrives as a number is checked like the same text.
    parse: Callable[[Any], Any]


_SETTINGS: dict[str, _Setting] = {
    # api_key / base_url: env read from the provider's own variables (see resolve)
    "provider": _Setting(("COGVIDEO_PROVIDER",), None, _provider_name),
    "api_key": _Setting((), None, Secret),
    "base_url": _Setting((), None, _text),
    "output_dir": _Setting(("COGVIDEO_OUTPUT_DIR",), Path("cogvideo_outputs"), _folder),
    "concurrency": _Setting(("COGVIDEO_CONCURRENCY",), 3, _positive_int),
    "timeout": _Setting(("COGVIDEO_TIMEOUT",), 900.0, _positive_float),
    "model": _Setting(("COGVIDEO_MODEL",), "cogvideox-flash", _text),
    # None: not chosen; the words then follow the page's language, else the kernel's locale (_i18n)
    "language": _Setting(("COGVIDEO_LANG",), None, _language),
}

_overrides: dict[str, Any] = {}


def set_overrides(**values: Any) -> None:
    """Record ``%config`` values (None removes one), each checked now: a bad value is refused
    where it was typed, not by the next job. Only the UI layer calls this."""
    hide_key_in(values)
    for name in values:
        if name not in _SETTINGS:
            shown = repr(name)
            raise ConfigError(
                t("unknown setting {name}; known: {known}", name=shown, known=", ".join(_SETTINGS))
            )
    checked = {n: _coerce(n, _SETTINGS[n], v) for n, v in values.items() if v is not None and v != ""}
    for name in values:
        if name in checked:
            _overrides[name] = checked[name]
        else:
            _overrides.pop(name, None)


def clear_overrides() -> None:
    _overrides.clear()


def infer_provider(explicit: Any = None, *, environ: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """``(provider, chosen)``: argument > %config > COGVIDEO_PROVIDER > the key variable that is
    set (only ZAI_API_KEY: zai) > bigmodel. ``chosen`` is False when nothing named one."""
    named = resolve("provider", explicit, environ=environ)
    if named is not None:
        return str(named), True
    env = os.environ if environ is None else environ
    has = {n: bool(env.get(p.key_env, "").strip()) for n, p in PROVIDERS.items()}
    return ("zai" if has["zai"] and not has["bigmodel"] else "bigmodel"), False


def resolve(
    name: str,
    explicit: Any = None,
    *,
    environ: Mapping[str, str] | None = None,
    provider: str | None = None,
) -> Any:
    """One setting's value by the documented precedence."""
    setting = _SETTINGS[name]
    if explicit is not None:
        return _coerce(name, setting, explicit)
    if name in _overrides:
        return _coerce(name, setting, _overrides[name])
    env = os.environ if environ is None else environ
    env_vars = setting.env
    if name in ("api_key", "base_url"):
        chosen = PROVIDERS[provider or infer_provider(environ=env)[0]]
        env_vars = (chosen.key_env if name == "api_key" else chosen.url_env,)
    for var in env_vars:
        value = _from_env(env, var, secret=name == "api_key")  # this frame never holds a key
        if value is not None:
            return _coerce(name, setting, value, source=var)
    return setting.default


def _from_env(env: Mapping[str, str], var: str, *, secret: bool) -> Any:
    """A variable's value (None when unset or blank); a key comes back already wrapped."""
    text = env.get(var, "")
    if not text.strip():
        return None
    return Secret(text) if secret else text.strip()


def hide_key(value: Any) -> Any:
    """A key given as a plain string, wrapped at once (unchecked: ``_clean_key`` checks it), so
    no frame that holds it can show it in a verbose traceback. Public entry points call this
    first, on their ``api_key`` argument, before anything else can fail."""
    return Secret(value) if isinstance(value, str) else value


def hide_key_in(options: dict[str, Any]) -> None:
    """:func:`hide_key` on ``options["api_key"]``, in place: a ``**kwargs`` dict is a frame's local."""
    if "api_key" in options:
        options["api_key"] = hide_key(options["api_key"])


def _clean_key(value: Any, source: str | None) -> Secret:
    """Strip a key (``Path(...).read_text()`` ends in a newline) and refuse one with whitespace or
    control characters inside: it would be sent wrong and could leak into messages. Never echoed,
    and never held in the clear by this frame when it refuses one."""
    value = hide_key(value)
    where = f"${source}" if source else "api_key"
    if not isinstance(value, Secret):
        raise ConfigError(t("{where} must be a string", where=where))
    fault = value._fault()
    if fault is not None:
        raise ConfigError(t(fault, where=where))
    return value._stripped()


def _coerce(name: str, setting: _Setting, value: Any, source: str | None = None) -> Any:
    if name == "api_key":
        return _clean_key(value, source)
    try:
        return setting.parse(value)
    except (ValueError, TypeError, OverflowError) as exc:
        where = f"${source}" if source else name
        bad = value if isinstance(value, (str, int, float)) else type(value).__name__
        shown = f"{bad!r:.60}"
        # a bad language cannot name the language to say so in: the page's or the locale's
        lang = fallback_language()[0] if name == "language" else None
        reason = t(exc.message, lang, **exc.values) if isinstance(exc, _Refused) else str(exc)
        raise ConfigError(
            t("bad value {shown} for {where}: {reason}", lang, shown=shown, where=where, reason=reason)
        ) from None


@dataclass(frozen=True)
class Settings:
    """A resolved snapshot. ``base_url`` is None when the embedded emulator should be used."""

    provider: str
    api_key: Secret | None
    base_url: str | None
    output_dir: Path
    concurrency: int
    timeout: float
    model: str
    language: str | None = None  # chosen (argument, %config, COGVIDEO_LANG); see _i18n.language

    @property
    def uses_emulator(self) -> bool:
        return bool(self.api_key is None and self.base_url is None)

    @property
    def platform(self) -> Provider:
        return PROVIDERS[self.provider]


def resolve_settings(*, environ: Mapping[str, str] | None = None, **explicit: Any) -> Settings:
    """Resolve every setting at once; unknown names are a ConfigError."""
    hide_key_in(explicit)
    unknown = set(explicit) - set(_SETTINGS)
    if unknown:
        raise ConfigError(t("unknown setting(s): {names}", names=", ".join(sorted(unknown))))
    provider, _ = infer_provider(explicit.get("provider"), environ=environ)
    values = {
        name: resolve(name, explicit.get(name), environ=environ, provider=provider)
        for name in _SETTINGS
        if name != "provider"
    }
    # A key means the real service (its platform's URL); no key and no URL mean the emulator.
    if values["base_url"] is None and values["api_key"] is not None:
        values["base_url"] = PROVIDERS[provider].base_url
    if values["base_url"] is not None:
        values["base_url"] = str(values["base_url"]).rstrip("/")
    return Settings(provider=provider, **values)


read_choice_with(lambda explicit: resolve("language", explicit))  # the language _i18n speaks in
