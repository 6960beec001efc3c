"""Timing and fault knobs of the emulator.

One frozen dataclass so an in-process emulator, the CLI and the background subprocess
(configured only through ``COGVIDEO_EMULATOR_*`` env vars) all agree on names and defaults.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .._i18n import t

__all__ = [
    "ENV_PREFIX", "FAULT_KNOBS", "EmulatorConfig", "default_state_dir", "parse_faults",
]  # fmt: skip

ENV_PREFIX = "COGVIDEO_EMULATOR_"

# Knobs accepted in a faults string (``p_500=0.1,slow_seconds=2``); probabilities are 0..1.
FAULT_KNOBS = (
    "p_500", "p_429", "p_drop", "p_drop_after", "p_slow", "p_malformed", "p_fail",
    "slow_seconds", "url_ttl",
)  # fmt: skip

Timing = Literal["fixed", "uniform", "lognormal"]
Duplicates = Literal["echo", "error"]
Media = Literal["small", "real"]


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that makes the emulator slow, flaky or strict; defaults behave like a calm API.

    Processing time per task: ``seconds`` if set (fixed), else drawn from ``timing``
    (``uniform`` over min/max or ``lognormal`` around ``median_seconds`` with ``sigma``),
    then multiplied by ``time_scale``. ``seed`` makes times, outcomes and faults repeatable.

    Faults, each a probability per API request (submit or poll): ``p_500`` (500, code "500"),
    ``p_429`` (429 "1302" with ``Retry-After`` = 1 s x ``time_scale``), ``p_drop`` (connection
    closed before any work), ``p_drop_after`` (closed after the work: a submit's task exists),
    ``p_slow`` (sleep ``slow_seconds`` first; not scaled, it is for client timeouts) and
    ``p_malformed`` (a 200's body truncated; the work, e.g. the task, is done). ``p_fail`` is
    per task: it ends FAIL. ``url_ttl`` is the result links' lifetime in seconds.
    ``max_in_flight``: tasks PROCESSING per key and model (None: the catalogue's per-model
    number, e.g. 1 for cogvideox-3), beyond which a submit gets 429 code 1302.
    ``duplicates``: how a repeated ``request_id`` is answered, per the two readings of the API
    notes: ``echo`` (the original task) or ``error`` (HTTP 400, code 1231, no task id).
    ``media``: ``small`` clips (short side 240) or ``real`` ones (the requested size and frame
    count at the real service's bitrate; env ``COGVIDEO_EMULATOR_MEDIA=real``).
    Env: ``COGVIDEO_EMULATOR_<FIELD>`` (``KEYS`` for accepted_keys, comma-separated lists) and
    ``COGVIDEO_EMULATOR_FAULTS="p_500=0.1,p_429=0.05"``.
    """

    seconds: float | None = None
    timing: Timing = "lognormal"
    median_seconds: float = 4.0
    sigma: float = 0.35
    min_seconds: float = 2.0
    max_seconds: float = 6.0
    time_scale: float = 1.0
    seed: int | None = None
    # Faults: probability per API request (submit or poll), except p_fail which is per task.
    p_500: float = 0.0
    p_429: float = 0.0
    p_drop: float = 0.0
    p_drop_after: float = 0.0
    p_slow: float = 0.0
    slow_seconds: float = 5.0
    p_malformed: float = 0.0
    p_fail: float = 0.0
    url_ttl: float = 3600.0
    duplicates: Duplicates = "echo"
    retention_seconds: float = 7 * 86400.0  # finished tasks older than this are pruned at start
    # None: each model's own limit from the catalogue (tasks in flight per key and model);
    # a number overrides it for every model.
    max_in_flight: int | None = None
    # None accepts any non-empty bearer token (plain key or the SDK's JWT).
    accepted_keys: frozenset[str] | None = None
    blocked_words: tuple[str, ...] = ("blockedword",)
    render_fps: int | None = 16
    duration_scale: float = 1.0
    render_workers: int = 2
    # "small": short side 240 at render_fps (fast, the default); "real": the requested size, fps
    # and frame count at the real service's bitrate (see _media; render_fps/duration_scale unused).
    media: Media = "small"

    def __post_init__(self) -> None:
        for name in ("p_500", "p_429", "p_drop", "p_drop_after", "p_slow", "p_malformed"):
            _check_probability(name, getattr(self, name))
        _check_probability("p_fail", self.p_fail)
        if self.duplicates not in ("echo", "error"):
            raise ValueError(t("duplicates must be echo or error, not {value}", value=repr(self.duplicates)))
        if self.media not in ("small", "real"):
            raise ValueError(t("media must be small or real, not {value}", value=repr(self.media)))
        if self.timing not in ("fixed", "uniform", "lognormal"):
            raise ValueError(
                t("timing must be fixed, uniform or lognormal, not {value}", value=repr(self.timing))
            )
        if self.time_scale < 0 or self.duration_scale <= 0:
            raise ValueError(t("time_scale must be >= 0 and duration_scale > 0"))
        if (self.max_in_flight is not None and self.max_in_flight < 1) or self.render_workers < 1:
            raise ValueError(t("max_in_flight and render_workers must be >= 1"))
        if self.render_fps is not None and self.render_fps < 1:
            raise ValueError(t("render_fps must be >= 1 or None"))

    def replace(self, **changes: object) -> EmulatorConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def with_faults(self, spec: str) -> EmulatorConfig:
        return self.replace(**parse_faults(spec))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmulatorConfig:
        """Read ``COGVIDEO_EMULATOR_*``: the only channel into a background subprocess."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value if value not in (None, "") else None

        changes: dict[str, object] = {}
        floats = ("seconds", "time_scale", "median_seconds", "sigma", "min_seconds",
                  "max_seconds", "duration_scale", "retention_seconds", *FAULT_KNOBS)  # fmt: skip
        for name in floats:
            if (raw := get(name.upper())) is not None:
                changes[name] = _number(name, raw)
        for name in ("seed", "max_in_flight", "render_workers"):
            if (raw := get(name.upper())) is not None:
                changes[name] = None if raw.lower() == "none" else int(raw)
        if (raw := get("DUPLICATES")) is not None:
            changes["duplicates"] = raw.strip().lower()
        if (raw := get("MEDIA")) is not None:
            changes["media"] = raw.strip().lower()
        if (raw := get("TIMING")) is not None:
            changes["timing"] = raw.strip().lower()
        if (raw := get("RENDER_FPS")) is not None:
            changes["render_fps"] = None if raw.lower() in ("none", "source") else int(raw)
        if (raw := get("KEYS")) is not None:
            changes["accepted_keys"] = frozenset(k.strip() for k in raw.split(",") if k.strip())
        if (raw := get("BLOCKED_WORDS")) is not None:
            changes["blocked_words"] = tuple(w.strip() for w in raw.split(",") if w.strip())
        if (raw := get("FAULTS")) is not None:
            changes.update(parse_faults(raw))
        return cls(**changes)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The inverse of :meth:`from_env`, so a launcher can hand this config to a child."""
        env: dict[str, str] = {}
        defaults = EmulatorConfig()
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value == getattr(defaults, f.name):
                continue
            if f.name in ("accepted_keys", "blocked_words"):
                text = ",".join(sorted(value) if f.name == "accepted_keys" else value)
            elif value is None:
                text = "none"
            else:
                text = str(value)
            name = "KEYS" if f.name == "accepted_keys" else f.name.upper()
            env[ENV_PREFIX + name] = text
        return env


def parse_faults(spec: str) -> dict[str, float]:
    """Parse ``p_500=0.1,p_429=0.05``; unknown knobs fail loudly rather than being ignored."""
    out: dict[str, float] = {}
    for part in spec.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, raw = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in FAULT_KNOBS:
            raise ValueError(
                t(
                    "bad fault {part}; expected one of {knobs}=<n>",
                    part=repr(part),
                    knobs=", ".join(FAULT_KNOBS),
                )
            )
        out[name] = _number(name, raw.strip())
    return out


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where a long-lived emulator keeps tasks, so a restarted kernel still finds them."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV_PREFIX + "STATE")
    if raw:
        return Path(raw).expanduser()
    return Path.home() / ".cache" / "cogvideo_nb" / "emulator"


def _number(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(t("{name} must be a number, not {value}", name=name, value=repr(raw))) from None


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            t("{name} must be a probability in [0, 1], not {value}", name=name, value=repr(value))
        )
