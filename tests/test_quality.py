"""Lint and strict typing are part of the suite, so the one test command checks them too."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
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


def test_the_wheel_ships_what_an_installed_package_needs(tmp_path: Path) -> None:
    """Built as a user's pip would: type marker, front-end files and the notebooks `cogvideo lab` copies."""
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    assert Path(uv).exists(), "uv is missing: run scripts/test.sh, which installs it into .tools/"
    out = subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    [wheel] = tmp_path.glob("cogvideo_nb-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "cogvideo_nb/py.typed", "cogvideo_nb/widgets/_card.js", "cogvideo_nb/widgets/_card.css",
        "cogvideo_nb/notebooks/quickstart.ipynb", "cogvideo_nb/notebooks/prompt_design.ipynb",
        "cogvideo_nb/notebooks/comparison_grid.ipynb", "cogvideo_nb/notebooks/prompt_lab.ipynb",
    ):  # fmt: skip
        assert needed in names, needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "cogvideo = cogvideo_nb.__main__:main" in zipfile.ZipFile(wheel).read(entry).decode()
