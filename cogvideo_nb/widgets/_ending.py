"""What an output ends as, carried to every page that shows it (see ``_notebook.js``).

The kernel turns an output into static HTML by its display id; pages that do not know that id (a
reload, a second tab, the outputs of a kernel since restarted) get the same HTML from this
widget, whose view rewrites every output marked as showing the same thing in its notebook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["ESM_NOTEBOOK", "Ending", "mark"]

_HERE = Path(__file__).parent
ESM_NOTEBOOK = (_HERE / "_notebook.js").read_text("utf-8")


def mark(key: str, *, final: bool = False, saved: dict[str, str] | None = None) -> dict[str, Any]:
    """An output's metadata: what it shows (the page finds it by this), whether it has ended, and
    what to save instead of a widget no reopened notebook could draw."""
    shown: dict[str, Any] = {"shows": key}
    if final:
        shown["final"] = True
    if saved is not None:
        shown["saved"] = saved
    return {"cogvideo_nb": shown}


class Ending(anywidget.AnyWidget):
    _esm = ESM_NOTEBOOK + (_HERE / "_ending.js").read_text("utf-8")

    key = traitlets.Unicode("").tag(sync=True)  # the outputs to rewrite: those marked as showing it
    html = traitlets.Unicode("").tag(sync=True)  # "" until the end
    plain = traitlets.Unicode("").tag(sync=True)
