"""The study report opened as a teacher would: a file in chromium, no server, every video plays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cogvideo_nb._report import write_report
from tests.test_report import HOSTILE, finished

from .conftest import BROWSER_1

pytestmark = [pytest.mark.browser, BROWSER_1]


@pytest.mark.parametrize("embed", [False, True])
def test_report_opens_and_its_videos_play(browser: Any, tmp_path: Path, embed: bool) -> None:
    jobs = [
        finished(tmp_path, "a fox in watercolor", rating=5, rating_note="best"),
        finished(tmp_path, HOSTILE, rating=1),
    ]
    out = write_report(jobs, tmp_path / "handout" / "study.html", embed=embed)
    page = browser.new_page()
    dialogs: list[str] = []

    def dialog(d: Any) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    try:
        page.goto(out.as_uri())
        assert page.title() == "Prompt study"
        videos = page.locator("video")
        assert videos.count() == 2
        page.wait_for_function(
            "() => [...document.querySelectorAll('video')].every(v => v.readyState >= 1 && v.duration > 0)",
            timeout=20_000,
        )
        page.evaluate("() => Promise.all([...document.querySelectorAll('video')].map(v => v.play()))")
        page.wait_for_function(
            "() => [...document.querySelectorAll('video')].every(v => v.currentTime > 0.1)", timeout=20_000
        )
        assert page.locator(".stars").first.inner_text() == "★★★★★"
        assert HOSTILE.split(" a fox")[0] in page.locator(".prompt").nth(1).inner_text()  # shown as text
        assert not dialogs  # the hostile prompt never ran
    finally:
        page.close()
