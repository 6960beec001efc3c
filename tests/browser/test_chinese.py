"""JupyterLab set to Chinese (its language pack, Settings > Language) in a real browser: the card,
the grid, the form, an error and ``%cogvideo config`` speak Chinese; the same notebook in a Lab
set back to its default (English) stays English. Chinese renders with Debian's fonts-noto-cjk,
which the test command installs; the screenshots are test-artifacts/chinese-*.png."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from cogvideo_nb._i18n import t

from .conftest import BROWSER_2, VIEWPORT, Lab, Notebook, serve_lab

# a server of its own starts and stops inside these tests' time: more than the default 120 s
pytestmark = [pytest.mark.browser, BROWSER_2, pytest.mark.timeout(300)]

SOURCES = (
    "%load_ext cogvideo_nb",
    "%%cogvideo\n一只柴犬在草地上奔跑，阳光明媚，蓝天",
    "%%cogvideo\n一只柴犬在草地上奔跑\n---\n一只柴犬在雪地上奔跑",
    "from cogvideo_nb.widgets import PromptForm\nPromptForm()",
    "%%cogvideo --fps 24\n一只柴犬在草地上奔跑",
    "%cogvideo config",
)
_ENDED_JS = """([i, n]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const vs = cell ? Array.from(cell.querySelectorAll('.cvnb-static video')) : [];
  return vs.length === n && vs.every((v) => v.readyState >= 1);
}"""
_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A server of its own: its language is a server-wide setting no other test should see."""
    with serve_lab(tmp_path_factory.mktemp("chinese")) as server:
        yield server


def set_lab_language(lab: Lab, locale: str) -> None:
    """What Settings > Language writes; a page loaded after it is in that language."""
    folder = lab.base / "config" / "lab" / "user-settings" / "@jupyterlab" / "translation-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.jupyterlab-settings").write_text(json.dumps({"locale": locale}), "utf-8")


def run_all(nb: Notebook) -> list[str]:
    """Run every cell as a user would; the text each cell's output shows once it has ended."""
    for i in range(len(SOURCES)):
        nb.run(i)
        nb.wait_ran(i, timeout=60)
    nb.page.wait_for_function(_ENDED_JS, arg=[1, 1], timeout=60_000, polling=200)
    nb.page.wait_for_function(_ENDED_JS, arg=[2, 2], timeout=60_000, polling=200)
    return [nb.cell(i).locator(".jp-Cell-outputWrapper").inner_text() for i in range(len(SOURCES))]


def test_lab_in_chinese_speaks_chinese_and_in_english_stays_english(
    notebook: Notebook, browser: Any, lab: Lab
) -> None:
    set_lab_language(lab, "zh_CN")
    nb = notebook.open(*SOURCES)
    assert nb.page.evaluate("document.documentElement.lang") == "zh-CN"
    assert nb.page.get_by_text("文件", exact=True).count() >= 1  # Lab's own menu, from its pack
    card, grid, _, error, config = run_all(nb)[1:]
    zh = lambda message, **values: t(message, "zh", **values)  # noqa: E731
    assert zh("succeeded") in card and zh("EMULATED") in card and "succeeded" not in card
    assert zh("{n} to compare", n=2) in grid and zh("Play all") in grid and "Play all" not in grid
    for part in ("Subject", "Motion", "Scene", "Style"):
        assert nb.cell(3).get_by_text(zh(part), exact=True).count() >= 1, part
    assert nb.cell(3).get_by_role("button", name=zh("Generate")).count() == 1
    assert "UsageError" in error and "fps" in error and _CJK.search(error), error
    # the card's view told the kernel the page's language, which now outranks Lab's setting
    assert zh("the page's language") in config, config
    nb.cell(1).scroll_into_view_if_needed()
    nb.shot("chinese-lab-card-grid")
    nb.cell(3).scroll_into_view_if_needed()
    nb.shot("chinese-lab-form-error")

    # The same notebook in a page of a Lab set back to its default language (English): a new
    # notebook file, so a new kernel that heard nothing from the Chinese page.
    set_lab_language(lab, "default")
    context = browser.new_context(viewport=VIEWPORT)
    try:
        en = Notebook(lab=lab, page=context.new_page(), scenario="chinese_en").open(*SOURCES)
        assert en.page.evaluate("document.documentElement.lang") == "en"
        card, grid, _, error, config = run_all(en)[1:]
        assert "succeeded" in card and "EMULATED" in card  # (the prompt and its file name stay Chinese)
        assert zh("succeeded") not in card and zh("EMULATED") not in card
        assert "2 to compare" in grid and "Play all" in grid
        assert en.cell(3).get_by_text("Subject", exact=True).count() >= 1
        assert (
            "UsageError" in error
            and "fps" in error
            and not _CJK.search(error.replace("一只柴犬在草地上奔跑", ""))
        )
        assert "language: en" in config
        en.cell(1).scroll_into_view_if_needed()
        en.shot("chinese-lab-in-english")
    finally:
        context.close()
        lab.close_sessions("chinese_en/chinese_en.ipynb")
