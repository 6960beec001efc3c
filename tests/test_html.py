"""Static HTML (what saved notebooks show) and the teaching diff of grids."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from cogvideo_nb import Job, JobStatus, build_request
from cogvideo_nb._diff import diff_parts
from cogvideo_nb._html import grid_html, job_html, make_poster
from cogvideo_nb._jobs import move


def _done(folder: Path, cover: bytes | None = None, prompt: str = "a kite") -> Job:
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / "a-kite.mp4"
    video.write_bytes(b"not really a video")
    cover_path = None
    if cover is not None:
        cover_path = folder / "a-kite.png"
        cover_path.write_bytes(cover)
    job = Job(request=build_request(prompt))
    for status in (JobStatus.SUBMITTING, JobStatus.RUNNING, JobStatus.DOWNLOADING):
        move(job, status)
    move(job, JobStatus.SUCCEEDED, video_path=video, cover_path=cover_path, task_id="t-1")
    return job


def _png(width: int, height: int) -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("name", ["out#1", "what?", "100%", "a b"])
def test_static_links_are_url_quoted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.chdir(tmp_path)
    page = job_html(_done(tmp_path / name))
    src = re.search(r'<video[^>]* src="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    href = re.search(r'<a href="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    from urllib.parse import quote, unquote

    assert src == href == f"{quote(name, safe='')}/a-kite.mp4"
    assert unquote(src) == f"{name}/a-kite.mp4"  # the browser asks for exactly this file


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A Jupyter runtime folder of the test's own, where a fake server may write its file; the
    root the kernel read once (``server_root`` caches it) is forgotten before and after."""
    from cogvideo_nb._html import server_root

    folder = tmp_path / "runtime"
    folder.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(folder))
    server_root.cache_clear()
    yield folder
    server_root.cache_clear()


def _serve(runtime: Path, root: Path) -> None:
    """A Jupyter server (this process's parent) with ``root``, as the kernel will read it."""
    import json
    import os

    from cogvideo_nb._html import server_root

    (runtime / f"jpserver-{os.getppid()}.json").write_text(json.dumps({"root_dir": str(root)}))
    server_root.cache_clear()


def test_a_video_the_jupyter_server_cannot_serve_says_so(tmp_path: Path, runtime: Path) -> None:
    """``--out`` outside the server's root: live cards play it through the kernel, but a reopened
    notebook cannot; the saved card says why, instead of a player that 404s without a word. The
    root is the one the kernel's server wrote in its runtime file."""
    root = tmp_path / "root"
    outside = _done(tmp_path / "elsewhere")
    assert "outside the Jupyter server" not in job_html(outside)  # no server: nothing to say
    _serve(runtime, root)
    assert "outside the Jupyter server" in job_html(outside)
    assert "outside the Jupyter server" not in job_html(_done(root / "lessons" / "outs"))


def test_a_symlinked_server_root_is_found_and_named(tmp_path: Path, runtime: Path) -> None:
    """The server names its root by a link; the kernel's folder resolved through it: the path
    under the root is found by real paths (the page's own prefix check failed here)."""
    from cogvideo_nb._html import under_root

    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir()
    link.symlink_to(real, target_is_directory=True)
    _serve(runtime, link)
    job = _done(real / "week 1" / "outs")
    assert under_root(job.video_path) == "week 1/outs/a-kite.mp4"  # type: ignore[arg-type]
    page = job_html(job)
    # but jupyter_server answers 500 for every file under a symlinked root: the card says so
    assert "outside the Jupyter server" not in page and "folder is a symlink" in page


def test_a_poster_is_inline_and_the_clip_is_shown_at_most_twice_its_width(tmp_path: Path) -> None:
    page = job_html(_done(tmp_path, _png(426, 240)))
    assert 'poster="data:image/jpeg;base64,' in page and "max-width:852px" in page
    assert str(tmp_path / "a-kite.mp4") in page  # says where the video is, for a moved notebook


@pytest.mark.parametrize(
    "cover",
    [  # made in the test, not at collection (the bomb takes a second to encode)
        lambda: b"\x89PNG\r\n\x1a\njunk that is no image",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        lambda: _png(9000, 9000),  # bigger than any video frame: refused before decoding
    ],
    ids=["junk", "svg", "bomb"],
)
def test_an_undecodable_cover_gives_a_card_without_poster(tmp_path: Path, cover: Callable[[], bytes]) -> None:
    job = _done(tmp_path, cover())
    assert make_poster(job.cover_path) is None
    page = job_html(job)
    assert "<video" in page and "poster=" not in page and "a-kite.mp4" in page


def test_static_grid_keeps_two_columns_and_highlights_differences(tmp_path: Path) -> None:
    jobs = [Job(request=build_request(p)) for p in ("a fox, watercolor", "a fox, <b>clay</b>")]
    page = grid_html(jobs, title="styles", group="g1")
    assert "minmax(min(240px,calc(50% - 4px)),1fr)" in page
    assert re.search(r"<mark style=\"[^\"]*\">watercolor</mark>", page)
    assert "&lt;b&gt;clay&lt;/b&gt;" in page and "<b>clay" not in page


def _marked(prompts: list[str]) -> list[list[str]]:
    return [[t for t, differs in parts if differs] for parts in diff_parts(prompts)]


def test_each_step_highlights_what_it_added() -> None:
    steps = [
        "a red fox",
        "a red fox trots through deep snow",
        "a red fox trots through deep snow in a birch forest",
        "a red fox trots through deep snow in a birch forest, golden hour, calm",
    ]
    assert _marked(steps) == [[], ["trots through deep snow"], ["in a birch forest"], ["golden hour, calm"]]


def test_cjk_is_compared_by_character_and_punctuation_is_no_difference() -> None:
    assert _marked(["一只红狐狸在雪中奔跑。", "一只灰狐狸在雪中奔跑！"]) == [["红"], ["灰"]]
    assert _marked(["a cat on a roof.", "a cat on a roof!"]) == [[], []]


def test_unrelated_prompts_highlight_what_no_other_shares() -> None:
    marked = _marked(["a lighthouse in fog", "a dog on a boat at night", "a lighthouse at night"])
    assert marked[1] == ["dog on a boat"]  # unrelated to its neighbours: only what is its own


def test_a_saved_card_keeps_its_id_its_stars_and_whole_parameters(tmp_path: Path) -> None:
    job = _done(tmp_path, _png(64, 36))
    job.rating, job.rating_note = 4, "the string <sags>"
    page = job_html(job)
    assert "<code" in page and f">{job.short_id}</code>" in page  # what %cogvideo show takes
    assert "★★★★ the string &lt;sags&gt;" in page
    assert '<span style="white-space:nowrap">model=cogvideox-flash</span>' in page  # never "cogvideox-/flash"
    assert "word-break:break-all" not in page
    # the theme's colours where the page has them (dark Lab), light ones where it has none
    assert "var(--jp-layout-color0,#fff)" in page and "var(--jp-ui-font-color1," in page
