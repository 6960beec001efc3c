"""Lint and strict typing are part of the suite, so the one test command checks them too."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from cogvideo_nb._cli_lab import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_is_clean() -> None:
    out = run("ruff", "check", "cogvideo_nb", "tests", "bench")
    assert out.returncode == 0, out.stdout + out.stderr
    fmt = run("ruff", "format", "--check", "cogvideo_nb", "tests")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict_is_clean() -> None:
    """The package and the tests (a few strictness flags are relaxed for tests.*: pyproject)."""
    out = run("mypy", "--strict", "cogvideo_nb", "tests")
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_wheel_ships_what_an_installed_package_needs(tmp_path: Path) -> None:
    """Built as a user's pip would: type marker, front-end files and the notebooks `cogvideo lab` copies.

    Through the PEP 517 backend of [build-system] (setuptools, in the test extra), called in a
    subprocess on a copy of the project: no uv, pip or `build` needed, no network, nothing
    written into the source tree, so it passes in any environment with the test extra.
    """
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "cogvideo_nb", src / "cogvideo_nb", ignore=shutil.ignore_patterns("__pycache__"))
    backend = re.search(r'^build-backend = "(.+)"$', (ROOT / "pyproject.toml").read_text("utf-8"), re.M)
    assert backend and backend[1] == "setuptools.build_meta", backend  # what the subprocess calls
    dist = tmp_path / "dist"
    dist.mkdir()
    out = subprocess.run(
        [sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_wheel({str(dist)!r})"],
        cwd=src,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    [wheel] = dist.glob("cogvideo_nb-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    notebooks = [f"cogvideo_nb/notebooks/{lang}{n}" for lang in ("", "zh/") for n in NOTEBOOKS]  # both sets
    for needed in (
        "cogvideo_nb/py.typed", "cogvideo_nb/widgets/_card.js", "cogvideo_nb/widgets/_card.css", *notebooks,
    ):  # fmt: skip
        assert needed in names, needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "cogvideo = cogvideo_nb.__main__:main" in zipfile.ZipFile(wheel).read(entry).decode()
