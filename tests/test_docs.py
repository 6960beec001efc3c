"""The README says what the code is: every public name in its API tables, every module once in
its architecture section, in the layer the layering test gives it."""

from __future__ import annotations

import re
from pathlib import Path

import cogvideo_nb

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n#", start + len(title))
    return README[start : end if end != -1 else None]


def test_every_public_name_is_in_the_api_tables_and_nothing_else_is() -> None:
    text = _section("### The public API")
    named = set(re.findall(r"`([A-Za-z_]+)[`(]", text))
    public = set(cogvideo_nb.__all__) - {"__version__"}
    assert public - named == set(), "public but not documented"
    private = {n for n in named if n.startswith("_")}
    assert private == set(), "private names in the public tables"
