"""Shared helpers for the emulator tests: the submit/poll steps over httpx."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from cogvideo_nb.emulator import Emulator, EmulatorConfig

from .conftest import FAST

KEY = "abc.def"
AUTH = {"Authorization": f"Bearer {KEY}"}


@contextmanager
def running(config: EmulatorConfig = FAST, state_dir: Path | None = None) -> Iterator[Emulator]:
    with Emulator(config, state_dir=state_dir) as emu:
        yield emu


def submit(emu: Emulator, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    body.setdefault("model", "cogvideox-flash")
    return httpx.post(
        emu.base_url + "/videos/generations", json=body, headers=AUTH if headers is None else headers
    )


def poll(emu: Emulator, task_id: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"{emu.base_url}/async-result/{task_id}", headers=headers or AUTH)


def wait_done(emu: Emulator, task_id: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer: dict[str, Any] = poll(emu, task_id).json()
        if answer["task_status"] != "PROCESSING":
            return answer
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} still PROCESSING after {timeout}s")


def top_level_atoms(data: bytes) -> list[str]:
    """MP4 box types in file order, to check faststart (moov before mdat)."""
    atoms, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        atoms.append(kind)
        if size < 8:
            break
        pos += size
    return atoms
