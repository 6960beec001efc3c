"""Lint and strict typing are part of the suite, so the one test command checks them too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_is_clean() -> None:
    out = run("ruff", "check", "cogvideo_nb", "tests", "bench")
    assert out.returncode == 0, out.stdout + out.stderr
    fmt = run("ruff", "format", "--check", "cogvideo_nb")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict_is_clean() -> None:
    out = run("mypy", "--strict", "cogvideo_nb")
    assert out.returncode == 0, out.stdout + out.stderr


def test_py_typed_ships() -> None:
    assert (ROOT / "cogvideo_nb" / "py.typed").exists()
