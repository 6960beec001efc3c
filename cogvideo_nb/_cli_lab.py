"""``cogvideo lab``: the main job from an installed package, with no clone and no key.

The notebooks ship inside the package; they are copied into a folder the user owns, because
a notebook opened from site-packages would be edited in place (or fail to save) and be lost on
the next upgrade. A file already there is never overwritten: it may hold the user's work.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import urllib.parse
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

__all__ = ["NOTEBOOKS", "copy_notebooks", "lab_main"]

NOTEBOOKS = ("quickstart.ipynb", "prompt_design.ipynb", "comparison_grid.ipynb", "prompt_lab.ipynb")
DEFAULT_DIR = "cogvideo_notebooks"


def copy_notebooks(folder: Path) -> tuple[list[Path], list[Path]]:
    """Copy the shipped notebooks into ``folder``; returns (copied, kept as the user left them)."""
    folder.mkdir(parents=True, exist_ok=True)
    shipped = resources.files("cogvideo_nb") / "notebooks"
    copied: list[Path] = []
    kept: list[Path] = []
    for name in NOTEBOOKS:
        target = folder / name
        try:
            # "x": create only if absent, so a user's edited copy is never replaced, even in a race.
            with target.open("xb") as f:
                f.write((shipped / name).read_bytes())
            copied.append(target)
        except FileExistsError:
            kept.append(target)
    return copied, kept


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cogvideo lab",
        description="Copy the tutorial notebooks into a folder you own and open JupyterLab on the "
        "quickstart. Arguments after the options go to `jupyter lab` (e.g. --no-browser --port 8899).",
    )
    p.add_argument("--dir", default=DEFAULT_DIR, help=f"where the notebooks go (default ./{DEFAULT_DIR})")
    p.add_argument("--open", default=NOTEBOOKS[0], help="notebook to open (default quickstart.ipynb)")
    return p


def lab_main(argv: Sequence[str]) -> int:
    args, jupyter_args = _parser().parse_known_args(argv)
    folder = Path(args.dir).expanduser().resolve()
    try:
        copied, kept = copy_notebooks(folder)
    except OSError as exc:
        print(f"error: cannot write the notebooks to {folder}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for path in copied:
        print(f"copied  {path}", file=sys.stderr)
    for path in kept:
        print(f"kept    {path} (already there: your copy is left as it is)", file=sys.stderr)
    if importlib.util.find_spec("jupyterlab") is None:
        print(
            "error: JupyterLab is not installed here; install it with: pip install 'cogvideo_nb[lab]'",
            file=sys.stderr,
        )
        return 1
    # default_url, not a positional file: it also makes the printed URL (--no-browser, remote
    # machines) open the quickstart, and `python -m jupyterlab FILE` ignores the file.
    page = "/lab/tree/" + urllib.parse.quote(args.open)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={folder}",
        f"--LabApp.default_url={page}",
    ]
    # JupyterLab refuses to start as root without this; containers and cloud VMs run as root.
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in jupyter_args:
        cmd.append("--allow-root")
    cmd += jupyter_args
    print(f"starting JupyterLab on {folder / args.open}", file=sys.stderr)
    sys.stderr.flush()
    os.chdir(folder)
    if os.name == "posix":  # become the server, so Ctrl+C and signals reach it directly
        os.execv(sys.executable, cmd)  # noqa: S606 (argv list, no shell)
    import subprocess

    return subprocess.call(cmd)
