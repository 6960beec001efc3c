"""Shared fixtures: one fast emulator config, engines that poll fast, and a clean settings environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from cogvideo_nb import Engine, RetryPolicy, resolve_settings
from cogvideo_nb._config import clear_overrides
from cogvideo_nb._polling import PollPolicy
from cogvideo_nb.emulator import Emulator, EmulatorConfig

# The one emulator config of the suite: 0.4 s tasks whose clips are 4 fps x (5 s * 0.1) = 2
# frames, real H.264 MP4s made in milliseconds; tests that need more change it with .replace().
FAST = EmulatorConfig(seconds=0.4, render_fps=4, duration_scale=0.1, seed=7)
FAST_RETRY = RetryPolicy(max_attempts=8, base_delay=0.02, max_delay=0.3, max_elapsed=10)


def fast_poll() -> PollPolicy:
    """Polls every 0.05-0.5 s (the product waits 2 s before its first look). A new one each time:
    a policy learns durations, and one test's must not plan another's polls."""
    return PollPolicy(min_interval=0.05, first_poll=0.1, max_interval=0.5)


def pytest_configure(config: pytest.Config) -> None:
    """Bytecode for every process the suite starts, even where the shell sets
    PYTHONDONTWRITEBYTECODE: xdist workers, kernels, servers, the CLI and emulators each import
    the same modules, and compiling them from source again costs ~1 s of CPU apiece (the fast tier
    takes ~95 s instead of ~57 s on two cores). Written beside the interpreter (the throwaway test
    environment), never into the source tree. Set here, before the workers start, so they inherit it."""
    prefix = os.environ.setdefault("PYTHONPYCACHEPREFIX", str(Path(sys.prefix) / "pycache"))
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.pycache_prefix = prefix
    sys.dont_write_bytecode = False
    # The toolkit's words follow the locale (_i18n): the suite speaks English unless a test
    # chooses (COGVIDEO_LANG, language=), whatever the machine's LANG or JupyterLab's language
    # setting (read by kernels: here an empty folder). Before the workers start.
    os.environ.pop("COGVIDEO_LANG", None)
    os.environ["JUPYTERLAB_SETTINGS_DIR"] = str(Path(sys.prefix) / "no-lab-settings")
    os.environ.pop("LC_MESSAGES", None)
    os.environ["LANG"] = os.environ["LC_ALL"] = "C.UTF-8"


_ENV = (
    "ZHIPUAI_API_KEY",
    "ZAI_API_KEY",
    "ZHIPUAI_BASE_URL",
    "ZAI_BASE_URL",
    "COGVIDEO_OUTPUT_DIR",
    "COGVIDEO_CONCURRENCY",
    "COGVIDEO_PROVIDER",
    "COGVIDEO_LANG",
)


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never see a developer's real key or settings."""
    for var in _ENV:
        monkeypatch.delenv(var, raising=False)
    clear_overrides()
    yield
    clear_overrides()


class EmulatorFactory(Protocol):
    def __call__(
        self, config: EmulatorConfig = ..., *, state_dir: Path | None = None, **changes: Any
    ) -> Emulator: ...


@pytest.fixture
def emulator_factory(tmp_path: Path) -> Iterator[EmulatorFactory]:
    """Started emulators (FAST unless told), each stopped after the test."""
    started: list[Emulator] = []

    def make(config: EmulatorConfig = FAST, *, state_dir: Path | None = None, **changes: Any) -> Emulator:
        emu = Emulator(
            config.replace(**changes) if changes else config, state_dir=state_dir or tmp_path / "emu"
        )
        started.append(emu.start())
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory()


def settings_for(emu: Emulator, folder: Path) -> dict[str, Any]:
    """What a test passes to get_engine(), generate() and the like: the emulator's URL and an
    output folder of the test's own."""
    return {"api_key": "sk-test", "base_url": emu.base_url, "output_dir": folder / "out"}


@pytest.fixture
def engine_opts(emulator: Emulator, tmp_path: Path) -> dict[str, Any]:
    return settings_for(emulator, tmp_path)


class EngineFactory(Protocol):
    def __call__(self, emu: Emulator | None = None, **settings: Any) -> Engine: ...


@pytest.fixture
def engine_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EngineFactory]:
    """Engines that poll fast and submit with no gap, on ``emu`` (default: the ``emulator``
    fixture's), closed after the test. Keyword arguments are settings (``concurrency=10``)."""
    made: list[Engine] = []

    def make(emu: Emulator | None = None, **settings: Any) -> Engine:
        emu = emu or request.getfixturevalue("emulator")
        opts = {**settings_for(emu, tmp_path), **settings}
        eng = Engine(resolve_settings(**opts), policy=fast_poll(), submit_gap=0)
        made.append(eng)
        return eng

    yield make
    for eng in made:
        eng.close()


@pytest.fixture
def engine(engine_factory: EngineFactory) -> Engine:
    return engine_factory()


@pytest.fixture
def fast_default_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Engines the code under test makes for itself (get_engine() behind the magics and
    generate()) poll like fast_poll(), not on the product's 2 s first look: a test hook that
    replaces only the default policy a scheduler is given when none is passed."""
    from cogvideo_nb import _scheduler

    monkeypatch.setattr(_scheduler, "PollPolicy", fast_poll)
