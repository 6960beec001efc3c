"""The folder as a gallery: filters, sort and pages over the ledger, lineage, posters made once and
no video read, the card's rating, a selection opened as a grid, stitched or tiled, the saved page,
its words in Chinese, and ``%cogvideo gallery`` / ``cv.gallery()``."""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display
from IPython.utils.capture import capture_output
from PIL import Image

import cogvideo_nb
from cogvideo_nb import Engine, JobStatus, ValidationError
from cogvideo_nb import _gallery as gallery_core
from cogvideo_nb._gallery import POSTER_SLOT, THUMBS_DIR, Filters, browse, card_data, gallery_html, lineage
from cogvideo_nb._i18n import t
from cogvideo_nb._jobs import Job, move
from cogvideo_nb._ledger import Ledger
from cogvideo_nb._request import build_request
from cogvideo_nb.widgets._bridge import BRIDGE
from cogvideo_nb.widgets._gallery import Gallery
from cogvideo_nb.widgets._words import messages_in

from .test_magic import ip, jobs_of  # noqa: F401  (ip: the shell fixture, reused)

PACKAGE = Path(cogvideo_nb.__file__).parent
DAY = 86400.0
START = time.mktime(dt.date(2026, 3, 1).timetuple()) + 12 * 3600  # noon, local time


def _cover(path: Path, shade: int) -> Path:
    Image.new("RGB", (64, 36), (shade % 256, 80, 160)).save(path)
    return path


def add(
    ledger: Ledger,
    prompt: str,
    *,
    created: float,
    status: JobStatus = JobStatus.SUCCEEDED,
    model: str = "cogvideox-flash",
    rating: int | None = None,
    note: str | None = None,
    cover: bool = True,
    request: Any = None,
    **fields: Any,
) -> Job:
    """A job straight into the ledger, as the engine leaves it (files beside it when done)."""
    folder = ledger.path.parent
    job = Job(request=request or build_request(prompt, model=model), created_at=created, **fields)
    if status is JobStatus.SUCCEEDED:
        for step in (JobStatus.SUBMITTING, JobStatus.RUNNING, JobStatus.DOWNLOADING):
            move(job, step)
        video = folder / f"{job.short_id}.mp4"
        video.write_bytes(b"not read by the gallery")
        covered = _cover(folder / f"{job.short_id}.png", int(created)) if cover else None
        move(job, status, video_path=video, cover_path=covered, task_id=f"t-{job.short_id}",
             finished_at=created + 30)  # fmt: skip
    elif status is JobStatus.FAILED:
        move(job, JobStatus.SUBMITTING)
        move(job, status, error="the server said <no>", finished_at=created + 5)
    elif status is JobStatus.RUNNING:
        move(job, JobStatus.SUBMITTING)
        move(job, status, task_id=f"t-{job.short_id}")
    ledger.record(job)
    if rating is not None:
        ledger.rate(job.id, rating, note)
        job.rating, job.rating_note = rating, note
    return job


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = Ledger(tmp_path / "out" / "ledger.sqlite")
    yield store
    store.close()


@pytest.fixture
def many(ledger: Ledger) -> list[Job]:
    """120 jobs over 12 days: two models, four states, some rated; the prompts say their number."""
    jobs = []
    for i in range(120):
        status = [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.RUNNING][i % 4]
        where = "snow" if i % 3 else "雪地"
        jobs.append(
            add(ledger, f"A fox number {i} in the {where}", created=START + i * DAY / 10, status=status,
                model="cogvideox-3" if i % 5 == 0 else "cogvideox-flash",
                rating=(i % 5) + 1 if status is JobStatus.SUCCEEDED and i % 2 == 0 else None)
        )  # fmt: skip
    return jobs


def ids(page: gallery_core.Page) -> list[str]:
    return [i.id for i in page.items]


# -- filters, sort, pages ----------------------------------------------------------------------------
def test_pages_newest_first_and_every_filter_in_sql(ledger: Ledger, many: list[Job]) -> None:
    newest = sorted(many, key=lambda j: -j.created_at)
    first = browse(ledger)
    assert (first.total, first.pages, first.number, len(first.items)) == (120, 3, 1, 48)
    assert ids(first) == [j.id for j in newest[:48]]
    third = browse(ledger, Filters(), 3)
    assert ids(third) == [j.id for j in newest[96:]] and third.first == 97
    assert browse(ledger, Filters(), 99).number == 3  # past the end: the last page

    def expect(filters: Filters, keep: Any) -> None:
        want = [j.id for j in newest if keep(j)]
        page = browse(ledger, filters, 1, 200)
        assert (ids(page), page.total) == (want, len(want)), filters

    expect(Filters.of(text="NUMBER 1"), lambda j: "number 1" in j.prompt)  # case-blind, ASCII
    expect(Filters.of(text="雪地"), lambda j: "雪地" in j.prompt)
    expect(Filters.of(model="cogvideox-3"), lambda j: j.request.model == "cogvideox-3")
    expect(Filters.of(status="failed"), lambda j: j.status is JobStatus.FAILED)
    expect(Filters.of(status="active"), lambda j: j.status is JobStatus.RUNNING)
    expect(Filters.of(rating="unrated"), lambda j: j.rating is None)
    expect(Filters.of(rating="4"), lambda j: (j.rating or 0) >= 4)
    day3, day5 = dt.date(2026, 3, 3), dt.date(2026, 3, 5)
    expect(
        Filters.of(since=day3.isoformat(), until=day5.isoformat()),  # whole days, both included
        lambda j: day3 <= dt.date.fromtimestamp(j.created_at) <= day5,
    )
    expect(
        Filters.of(text="snow", model="cogvideox-flash", rating="2"),
        lambda j: "snow" in j.prompt and j.request.model == "cogvideox-flash" and (j.rating or 0) >= 2,
    )
    by_rating = browse(ledger, Filters.of(sort="rating"), 1, 200)
    rated = sorted((j for j in many if j.rating), key=lambda j: (-(j.rating or 0), -j.created_at))
    assert ids(by_rating)[: len(rated)] == [j.id for j in rated]  # best first, ties newest first
    assert all(i.rating is None for i in by_rating.items[len(rated) :])  # unrated last
    assert ids(browse(ledger, Filters.of(sort="oldest"), 1, 5)) == [j.id for j in many[:5]]
    assert browse(ledger, Filters.of(text="no such words")).total == 0


def test_a_literal_percent_or_underscore_is_looked_for_as_written(ledger: Ledger) -> None:
    add(ledger, "100% orange", created=START)
    add(ledger, "1000 oranges", created=START + 1)
    add(ledger, "snake_case", created=START + 2)
    add(ledger, "snakeXcase", created=START + 3)
    assert [i.prompt for i in browse(ledger, Filters.of(text="0%")).items] == ["100% orange"]
    assert [i.prompt for i in browse(ledger, Filters.of(text="e_c")).items] == ["snake_case"]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"status": "done"}, "status must be one of"),
        ({"rating": "6"}, "rating must be unrated or 1 to 5"),
        ({"sort": "random"}, "sort must be one of"),
        ({"since": "2026-13-01"}, "since must be a date like 2026-01-31"),
        ({"colour": "red"}, "unknown filter colour"),
    ],
)
def test_a_bad_filter_says_what_is_allowed(raw: dict[str, str], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        Filters.of(raw)


# -- lineage ----------------------------------------------------------------------------------------
def test_lineage_names_what_a_job_was_enhanced_from_continues_and_repeats(ledger: Ledger) -> None:
    plain = add(ledger, "a red fox", created=START)
    enhanced = add(ledger, "a red fox, trotting through snow at golden hour", created=START + 1,
                   original_prompt="a red fox", rewrite="enhance")  # fmt: skip
    request = build_request("a kite over dunes", fps=60)
    runs = [
        add(ledger, "", created=START + 10 + i, request=request.with_new_id(), label=f"run {i + 1}/3")
        for i in range(3)
    ]
    other_fps = add(ledger, "a kite over dunes", created=START + 20)  # not the same request
    child = add(ledger, "the kite lands", created=START + 30, continues=runs[1].id)

    said = lineage(ledger, enhanced)
    assert [(link.said, link.job) for link in said] == [("enhanced from: a red fox", plain.id)]
    first, second = lineage(ledger, runs[0]), lineage(ledger, runs[1])
    assert first[0].said.startswith("repeated 2 more times, next " + runs[1].short_id)
    assert first[0].job == runs[1].id
    assert second[0].said.startswith(f"repeat of {runs[0].short_id} · a kite over dunes (run 2 of 3)")
    assert second[0].job == runs[0].id
    assert second[1] == gallery_core.Link(f"continued by {child.short_id} · the kite lands", child.id)
    assert lineage(ledger, other_fps) == []  # same prompt, other fps: no repeat
    assert [(link.said, link.job) for link in lineage(ledger, child)] == [
        (f"continues {runs[1].short_id} · a kite over dunes", runs[1].id)
    ]
    card = card_data(ledger, ledger.load(child.id) or child)
    assert card["lineage"] == [
        {"said": f"continues {runs[1].short_id} · a kite over dunes", "job": runs[1].id}
    ]
    assert card["poster"].startswith("data:image/jpeg;base64,") and card["video_name"].endswith(".mp4")


def test_translated_from_says_so(ledger: Ledger) -> None:
    job = add(ledger, "a red fox in the snow", created=START, original_prompt="雪中的红狐狸",
              rewrite="translate:en")  # fmt: skip
    assert [link.said for link in lineage(ledger, job)] == ["translated from: 雪中的红狐狸"]


# -- posters: made once, kept on disk; no video read -----------------------------------------------------
def test_posters_are_made_once_kept_on_disk_and_no_video_is_opened(
    ledger: Ledger, many: list[Job], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = ledger.path.parent
    videos = {str(j.video_path) for j in many if j.video_path}
    opened: list[str] = []

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and isinstance(args[0], (str, Path)) and str(args[0]) in videos:
            opened.append(str(args[0]))

    sys.addaudithook(hook)  # cannot be removed: it only records, and only these files
    page = browse(ledger)
    done = [i for i in page.items if i.cover_path]
    assert done and all(gallery_core.poster(i.cover_path, folder, make=False) is None for i in done)
    made = [gallery_core.poster(i.cover_path, folder) for i in done]
    assert all(m and m.startswith("data:image/jpeg;base64,") for m in made)
    assert len(list((folder / THUMBS_DIR).glob("*.jpg"))) == len(done)
    # another kernel: nothing in memory, every poster read from disk, none decoded again
    gallery_core._MEMORY.clear()
    monkeypatch.setattr(gallery_core, "jpeg_thumbnail", lambda *a, **k: pytest.fail("decoded again"))
    assert [gallery_core.poster(i.cover_path, folder, make=False) for i in done] == made
    broken = folder / "broken.png"
    broken.write_bytes(b"<svg>not a picture</svg>")
    monkeypatch.undo()
    assert gallery_core.poster(broken, folder) == ""  # no poster to have: not "pending"
    assert gallery_core.poster(None, folder) == "" and gallery_core.poster(folder / "gone.png", folder) == ""
    assert opened == []


# -- the widget -------------------------------------------------------------------------------------
def settle(gallery: Gallery) -> None:
    """Until the UI thread has made every poster the gallery asked for."""
    for _ in range(100):
        BRIDGE.flush()
        if not any(d["poster_pending"] for d in gallery.items):
            BRIDGE.flush()
            return
    pytest.fail("posters still pending")


@pytest.fixture
def filled(engine: Engine) -> list[Job]:
    return [
        add(engine.ledger, f"a heron number {i} <b>lifts</b> off", created=START + i,
            rating=(i % 5) + 1 if i % 3 == 0 else None,
            model="cogvideox-3" if i % 4 == 0 else "cogvideox-flash")
        for i in range(60)
    ]  # fmt: skip


def test_the_first_page_comes_at_once_and_its_posters_follow(engine: Engine, filled: list[Job]) -> None:
    gallery_core._MEMORY.clear()
    gallery = Gallery(engine)
    assert len(gallery.items) == 48 and (gallery.total, gallery.pages, gallery.number) == (60, 2, 1)
    assert gallery.items[0]["prompt"] == "a heron number 59 <b>lifts</b> off"  # newest first, as text
    assert all(d["poster_pending"] and not d["poster"] for d in gallery.items)  # none made yet
    assert gallery.snapshot.count("\x00poster:") == 48
    settle(gallery)
    assert all(d["poster"].startswith("data:image/jpeg") for d in gallery.items)
    for _ in range(5):  # the next page's posters: made ahead of a click, a few per turn
        BRIDGE.flush()
    ahead = filled[:12]  # page 2: made and kept, not sent
    assert all(gallery_core.poster(j.cover_path, engine.ledger.path.parent, make=False) for j in ahead)
    again = Gallery(engine)  # a second gallery: every poster of its first page at once
    assert not any(d["poster_pending"] for d in again.items)


def test_the_page_asks_and_the_kernel_answers(engine: Engine, filled: list[Job]) -> None:
    gallery = Gallery(engine)
    gallery._handle_custom_msg(
        {"action": "query", "filters": {"model": "cogvideox-3", "sort": "rating"}, "page": 1}, []
    )
    BRIDGE.flush()
    want = sorted((j for j in filled if j.request.model == "cogvideox-3"),
                  key=lambda j: (j.rating is None, -(j.rating or 0), -j.created_at))  # fmt: skip
    assert [d["id"] for d in gallery.items] == [j.id for j in want]
    assert gallery.filters["model"] == "cogvideox-3" and gallery.total == 15 and gallery.message == ""
    gallery._handle_custom_msg({"action": "query", "filters": {"status": "finished"}, "page": 1}, [])
    BRIDGE.flush()
    assert gallery.message.startswith("status must be one of") and gallery.total == 15  # unchanged
    gallery._handle_custom_msg({"action": "query", "filters": {}, "page": 2}, [])
    BRIDGE.flush()
    assert gallery.number == 2 and len(gallery.items) == 12 and gallery.first == 49
    assert [c[1] for c in gallery.choices["model"]] == ["any model", "cogvideox-3", "cogvideox-flash"]


def test_a_click_opens_the_card_and_its_stars_go_to_the_ledger(engine: Engine, filled: list[Job]) -> None:
    gallery = Gallery(engine)
    job = filled[-1]
    gallery._handle_custom_msg({"action": "open", "id": job.id}, [])
    BRIDGE.flush()
    detail = gallery.detail
    assert (detail["id"], detail["prompt"], detail["status"]) == (job.id, job.prompt, "succeeded")
    assert "model=cogvideox-flash" in detail["params"] and detail["poster"].startswith("data:image/jpeg")
    gallery._handle_custom_msg({"action": "rate", "id": job.id, "rating": 4, "note": "lift <b>late</b>"}, [])
    BRIDGE.flush()
    stored = engine.ledger.load(job.id)
    assert stored is not None and (stored.rating, stored.rating_note) == (4, "lift <b>late</b>")
    assert (gallery.detail["rating"], gallery.detail["rating_note"]) == (4, "lift <b>late</b>")
    assert gallery.items[0]["rating"] == 4  # its tile follows, and the page a notebook saves
    stars = f'<code>{job.short_id}</code> <span style="color:#9a6700">★★★★</span>'
    assert stars in gallery.saved()["text/html"]
    gallery._handle_custom_msg({"action": "rate", "id": job.id, "rating": 9, "note": ""}, [])
    BRIDGE.flush()
    assert gallery.detail["rating_error"].startswith("rating must be 1 to 5")
    seq = gallery.detail["seq"]
    gallery.open_card(job.id)  # the same card again: a new opening the page sees
    assert gallery.detail["seq"] == seq + 1
    gallery.open_card("no-such-job")
    assert gallery.message.startswith("no job matches 'no-such-job'")


def test_a_saved_gallery_is_its_page_as_escaped_html(engine: Engine, filled: list[Job]) -> None:
    evil = add(engine.ledger, 'a <script>alert("x")</script> & "quotes"', created=START + 1000,
               status=JobStatus.FAILED)  # fmt: skip
    gallery = Gallery(engine)
    settle(gallery)
    saved = gallery.saved()["text/html"]
    assert "<script>" not in saved and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;" in saved
    assert "\x00" not in saved and saved.count("data:image/jpeg;base64,") == 47  # the failed one has none
    assert saved.count('class="cvnb-static-tile"') == 48 and "1-48 of 61 jobs · page 1 of 2" in saved
    assert f'data-cvnb-tile="{evil.id}"' in saved and "failed" in saved
    assert re.search(
        r'<a href="[^"]+\.mp4" target="_blank"><img src="data:image/jpeg', saved
    )  # opens the video
    # the live page fills these slots from what it holds when it saves
    assert all(POSTER_SLOT.format(id=d["id"]) in gallery.snapshot for d in gallery.items)
    assert "<script>" not in gallery.snapshot
    filtered = gallery_html(browse(engine.ledger, Filters.of(text="heron", rating="3")), {})
    assert "· with “heron” · ★★★ or more" in filtered
    bundle = gallery._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["text/html"] == saved and "application/vnd.jupyter.widget-view+json" in data


def test_the_gallery_speaks_chinese(
    engine: Engine, filled: list[Job], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    gallery = Gallery(engine)
    source = (PACKAGE / "widgets" / "_gallery.js").read_text("utf-8")
    assert set(messages_in(source)) == set(gallery.text)
    assert all(t(m, "zh") != m for m in messages_in(source)), "a word without Chinese"
    assert gallery.text["Open as grid"] == "打开为对比网格" and gallery.text["Stitch"] == "拼接"
    offered = gallery.choices
    assert ["rating", "评分最高在前"] in offered["sort"] and ["", "任意模型"] in offered["model"]
    saved = gallery.saved()["text/html"]
    assert "作品集" in saved and "共 60 个任务" in saved
    # (page code shows no word of its own: test_i18n checks every page module, this one included)


# -- %cogvideo gallery, cv.gallery(), and what a selection becomes ---------------------------------------
def test_gallery_command_opens_with_its_filters(ip: InteractiveShell, tmp_path: Path) -> None:  # noqa: F811
    engine = cogvideo_nb.get_engine()
    add(engine.ledger, "a lantern on a lake", created=START, rating=5)
    add(engine.ledger, "a lantern in the rain", created=START + 1)
    shown = ip.run_line_magic("cogvideo", "gallery --text lantern --rating 5 --sort rating")
    assert isinstance(shown, Gallery)
    assert [d["prompt"] for d in shown.items] == ["a lantern on a lake"]
    assert shown.filters == Filters.of(text="lantern", rating="5", sort="rating").to_dict()
    with pytest.raises(UsageError, match="since must be a date"):
        ip.run_line_magic("cogvideo", "gallery --since 2026-02-30")
    with pytest.raises(UsageError, match="invalid choice"):
        ip.run_line_magic("cogvideo", "gallery --rating 7")
    from_python = cogvideo_nb.gallery(output_dir=tmp_path / "out", text="rain")
    assert [d["prompt"] for d in from_python.items] == ["a lantern in the rain"]


def test_a_selection_opens_below_as_a_grid_then_stitched_and_tiled(ip: InteractiveShell) -> None:  # noqa: F811
    with capture_output():
        ip.run_cell_magic("cogvideo", "--wait", "a red kite\n---\na blue kite\n---\na kite #fail")
    kites = {j.prompt: j for j in jobs_of(ip)}
    red, blue, failed = kites["a red kite"], kites["a blue kite"], kites["a kite #fail"]
    gallery = ip.run_line_magic("cogvideo", "gallery")
    with capture_output() as out:
        display(gallery)
    first, below = out.outputs[0], out.outputs[1]
    assert first.metadata["cogvideo_nb"]["shows"] == gallery.key  # the page saves this output as its page
    assert "cvnb-static-gallery" in first.metadata["cogvideo_nb"]["saved"]["text/html"]
    assert below.metadata == {"cogvideo_nb": {"shows": gallery.results.id}} and below.data["text/html"] == ""

    with capture_output() as out:
        BRIDGE.call(lambda: gallery.act("grid", [blue.id, red.id]))  # in the order ticked
        BRIDGE.flush()
    grid_out, ended = out.outputs[0], out.outputs[-1]
    assert grid_out.transient == {"display_id": gallery.results.id} and grid_out.update
    assert "application/vnd.jupyter.widget-view+json" in grid_out.data
    assert (
        ended.transient == {"display_id": gallery.results.id}
        and "cvnb-static-grid" in ended.data["text/html"]
    )
    html_text = ended.data["text/html"]
    assert html_text.index("a blue kite") < html_text.index("a red kite")
    assert ended.metadata == {"cogvideo_nb": {"shows": gallery.results.id, "final": True}}
    assert gallery.message == "2 jobs opened below as a grid"

    gallery.act("stitch", [red.id, failed.id])
    assert gallery.message == f"only finished videos can be joined; not: {failed.short_id}"
    gallery.act("grid", [red.id])
    assert gallery.message == "select 2 to 24 jobs first"
    with capture_output() as out:
        gallery.act("stitch", [red.id, blue.id])
    [stitched] = out.outputs
    name = re.search(r"stitched-[0-9a-f]{8}\.mp4", stitched.data["text/html"])
    assert name and (gallery.engine.output_dir / name.group()).stat().st_size > 0
    assert (
        "<video" in stitched.data["text/html"] and gallery.message == f"{name.group()} is below the gallery"
    )
    with capture_output() as out:
        gallery.act("tile", [red.id, blue.id])
    tiled = re.search(r"tiled-[0-9a-f]{8}\.mp4", out.outputs[0].data["text/html"])
    assert tiled and (gallery.engine.output_dir / tiled.group()).is_file()
    assert (gallery.engine.output_dir / tiled.group()).with_suffix(".png").is_file()  # the contact sheet


def test_a_headless_run_gets_the_page_as_static_html(
    ip: InteractiveShell,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """nbconvert and papermill allow no stdin and save what the kernel displayed: no widget."""
    from types import SimpleNamespace

    engine = cogvideo_nb.get_engine()
    add(engine.ledger, "a lantern on a lake", created=START)
    gallery_core._MEMORY.clear()
    shown = ip.run_line_magic("cogvideo", "gallery")
    assert shown.items[0]["poster_pending"]
    monkeypatch.setattr(ip, "kernel", SimpleNamespace(_allow_stdin=False), raising=False)
    with capture_output() as out:
        display(shown)
    [only] = out.outputs
    assert "application/vnd.jupyter.widget-view+json" not in only.data
    page = only.data["text/html"]
    assert "a lantern on a lake" in page and "data:image/jpeg;base64," in page
    assert only.metadata == {"cogvideo_nb": {"shows": shown.key, "final": True}}
