"""Shared fixtures: an in-process emulator tuned for speed, and a clean settings environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cogvideo_nb._config import clear_overrides
from cogvideo_nb._retry import RetryPolicy
from cogvideo_nb.emulator import Emulator, EmulatorConfig

FAST = EmulatorConfig(seconds=0.4, render_fps=4, duration_scale=0.1, seed=7)
FAST_RETRY = RetryPolicy(max_attempts=8, base_delay=0.02, max_delay=0.3, max_elapsed=10)

_ENV = (
    "ZHIPUAI_API_KEY",
    "ZAI_API_KEY",
    "ZHIPUAI_BASE_URL",
    "ZAI_BASE_URL",
    "COGVIDEO_OUTPUT_DIR",
    "COGVIDEO_CONCURRENCY",
    "COGVIDEO_PROVIDER",
)


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never see a developer's real key or settings."""
    for var in _ENV:
        monkeypatch.delenv(var, raising=False)
    clear_overrides()
    yield
    clear_overrides()


@pytest.fixture
def emulator_factory(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def make(config: EmulatorConfig = FAST, *, state_dir: Path | None = None, **changes: object) -> Emulator:
        emu = Emulator(
            config.replace(**changes) if changes else config, state_dir=state_dir or tmp_path / "emu"
        )
        started.append(emu.start())
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(emulator_factory: Callable[..., Emulator]) -> Emulator:
    return emulator_factory()
