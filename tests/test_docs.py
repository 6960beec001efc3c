"""The README says what the code is: every public name in its API tables, every module once in
its architecture section, in the layer the layering test gives it."""

from __future__ import annotations

import re
from pathlib import Path

import cogvideo_nb

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
README_ZH = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")


def _section(title: str, text: str = README) -> str:
    start = text.index(title)
    end = text.find("\n#", start + len(title))
    return text[start : end if end != -1 else None]


def _fenced(text: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```$", text, re.M | re.S)


def test_the_chinese_readme_gives_the_same_quick_start_and_both_link_each_other() -> None:
    """Word for word: a command that drifted in one README would fail only its readers."""
    commands = _fenced(_section("## Quick start"))
    assert commands and "cogvideo lab" in commands[0]
    assert _fenced(_section("## 快速上手", README_ZH)) == commands
    assert README.startswith("[简体中文](README.zh-CN.md)\n")
    assert "](README.md)" in README_ZH.split("\n## ")[0]  # near its top
    for said in ("COGVIDEO_LANG=zh", '%config CogVideoMagics.language = "zh"', "cogvideo lab --lang zh"):
        assert said in README_ZH and said in README, said


def test_every_public_name_is_in_the_api_tables_and_nothing_else_is() -> None:
    text = _section("### The public API")
    named = set(re.findall(r"`([A-Za-z_]+)[`(]", text))
    public = set(cogvideo_nb.__all__) - {"__version__"}
    assert public - named == set(), "public but not documented"
    private = {n for n in named if n.startswith("_")}
    assert private == set(), "private names in the public tables"


def test_the_architecture_section_names_every_module_once_in_its_layer() -> None:
    from .test_layering import LAYERS, layer_of, modules

    text = _section("### Architecture")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] in {name for name, _ in LAYERS}:
            outside = re.sub(r"\([^()]*\)", "", cells[1])  # what a module does, in brackets
            rows[cells[0]] = re.findall(r"`([\w/]+)`", outside)
    assert sorted(rows) == sorted(name for name, _ in LAYERS)
    named = [m.replace("/__init__", "").replace("/", ".") for ms in rows.values() for m in ms]
    assert sorted(named) == sorted(set(named)), "a module named twice"
    assert set(named) == set(modules()), "README and the package disagree on which modules exist"
    for layer, ms in rows.items():
        for m in ms:
            name = m.replace("/__init__", "").replace("/", ".")
            rank = layer_of(name)
            assert rank is not None and LAYERS[rank][0] == layer, f"{m}: the README puts it in {layer}"
