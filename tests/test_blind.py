"""Blind comparison: a grid shuffled and lettered, nothing in what the page gets or a notebook
saves that tells which prompt each cell was until Reveal; the pass's ratings recorded as blind,
with the rater's name, and reported apart from sighted ones."""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from cogvideo_nb import Engine, Job, JobStatus, ValidationError
from cogvideo_nb._blind import Blind, letters
from cogvideo_nb._ledger import Ledger
from cogvideo_nb._ledger_rows import ADDED, SCHEMA, SCHEMA_VERSION
from cogvideo_nb._ratings import Rating, stats, tally, winners
from cogvideo_nb._report import ratings_html, write_report
from cogvideo_nb.widgets import CompareGrid
from cogvideo_nb.widgets._bridge import BRIDGE

from .test_magic import ip, magics  # noqa: F401  (ip: the shell fixture, reused)
from .test_report import finished

PROMPTS = (
    "a zebra crossing a muddy river at dawn, golden light",
    "a zebra crossing a muddy river at dusk, violet haze",
    "a zebra crossing a muddy river at noon #fail",
)


def _widget_states(grid: CompareGrid) -> str:
    """Everything the page holds of the grid: each widget's synced state, as JSON."""
    parts = [grid, grid.controls, grid.view, grid.ending, *grid.cards]
    return json.dumps([w.get_state() for w in parts], default=str)


def _leaks(text: str, jobs: list[Job]) -> list[str]:
    """What of the jobs a blind grid must not say: words of the prompts, file names, parameters,
    ids, the server's error text."""
    said = []
    for job in jobs:
        for word in ("zebra", "dawn", "dusk", "noon", "violet", "#fail", "fps=", "model="):
            if word in text:
                said.append(word)
        for name in (job.video_path and job.video_path.name, job.id, job.task_id, job.error):
            if name and name in text:
                said.append(name)
    return said


def _run(grid: CompareGrid, engine: Engine) -> None:
    grid.show()
    engine.wait(grid.jobs, 30)
    BRIDGE.flush()
    BRIDGE.flush()  # the last job's event, then the grid's end it posts


def _msg(grid: CompareGrid, **content: Any) -> None:
    grid.controls._handle_custom_msg(content, [])  # what the page's comm delivers
    BRIDGE.flush()


def test_letters_run_past_z_and_a_shuffle_is_a_permutation() -> None:
    assert letters(3) == ["A", "B", "C"] and letters(28)[25:] == ["Z", "AA", "AB"]
    blind = Blind.shuffle(6, random.Random(4))
    assert sorted(blind.order) == list(range(6)) and blind.letters == letters(6)
    assert Blind.shuffle(6, random.Random(4)).order == blind.order  # the rng decides, nothing else
    assert Blind.shuffle(6).session != Blind.shuffle(6).session


def test_a_blind_grid_says_nothing_of_its_prompts_until_reveal(engine: Engine) -> None:
    jobs = [engine.submit(PROMPTS[0], fps=30), engine.submit(PROMPTS[1], fps=60), engine.submit(PROMPTS[2])]
    grid = CompareGrid(jobs, engine, blind=True, rng=random.Random(1))
    assert grid.cards == []  # a card's state would carry its prompt
    shown = grid._repr_mimebundle_()  # what the cell's output holds at first (and saves)
    assert _leaks(json.dumps(shown) + _widget_states(grid), jobs) == []
    _run(grid, engine)
    assert grid.controls.finished and grid.controls.blind_mode == "blind"
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED, JobStatus.FAILED]

    ended = grid.static()  # what the output ends as, and what a saved notebook keeps
    page = _widget_states(grid)  # the bar's `ended` carries the same HTML to every page
    assert _leaks(ended["text/html"] + ended["text/plain"] + page, jobs) == []
    html = ended["text/html"]
    assert html.count("<video") == 2 and html.count('poster="data:image/jpeg;base64,') == 2
    assert re.findall(r'data-cvnb-letter="(\w+)"', html) == ["A", "B", "C"]
    assert "<mark" not in html and "data-cvnb-job" not in html
    # each video under a neutral name, the same file as the job's
    b = grid.blind
    assert b is not None
    for letter, job in b.cells(jobs):
        if job.status is JobStatus.SUCCEEDED:
            link = b.links[letter]
            assert link.name == f"{b.session}-{letter}.mp4" and link.parent.name == "blind"
            assert os.path.samefile(link, job.video_path)  # type: ignore[arg-type]
            assert f'src="{os.path.relpath(link)}"' in html

    # the rater stars by letter; a letter with no clip, or out of range, changes nothing
    letter_of = {job.id: letter for letter, job in b.cells(jobs)}
    best, worst, failed = (letter_of[j.id] for j in jobs)
    _msg(grid, action="blind_rate", letter=best, stars=5)
    _msg(grid, action="blind_rate", letter=worst, stars=2)
    _msg(grid, action="blind_rate", letter=failed, stars=4)
    _msg(grid, action="blind_rate", letter=worst, stars=9)
    _msg(grid, action="blind_win", letter=best)
    assert grid.controls.blind_stars == {best: 5, worst: 2} and grid.controls.blind_winner == best
    assert engine.ratings(jobs) == []  # nothing is recorded before Reveal
    _msg(grid, action="reveal", rater="  Ana   Li ")

    rows = engine.ratings(jobs)
    assert {(r.job_id, r.stars, r.won) for r in rows} == {(jobs[0].id, 5, True), (jobs[1].id, 2, False)}
    assert all(r.blind and r.rater == "Ana Li" and r.session == b.session for r in rows)
    assert "2 ratings recorded as blind" in grid.controls.blind_status
    assert "Ana Li" in grid.controls.blind_status
    revealed = grid.static()["text/html"]
    assert grid.controls.blind_mode == "revealed" and grid.controls.ended == revealed
    assert "zebra crossing a muddy river at dawn" in revealed and jobs[0].video_path.name in revealed  # type: ignore[union-attr]
    assert "<mark" in revealed and "by Ana Li" in revealed and "★★★★★" in revealed
    # the same places: each letter's cell is now its job's card
    cells = re.findall(r'data-cvnb-letter="(\w+)".*?data-cvnb-job="([^"]+)"', revealed)
    assert cells == [(letter, job.id) for letter, job in b.cells(jobs)]


def test_blind_on_a_finished_grid_and_a_second_rater(engine: Engine) -> None:
    jobs = [engine.submit(PROMPTS[0]), engine.submit(PROMPTS[1])]
    grid = CompareGrid(jobs, engine)  # an ordinary grid, with cards
    _run(grid, engine)
    assert grid.controls.finished and grid.controls.blind_mode == ""
    assert "zebra" in grid.static()["text/html"]
    _msg(grid, action="export")  # a sighted grid exports; a blind one would tell its labels
    _msg(grid, action="blind")
    first = grid.blind
    assert first is not None and grid.controls.blind_mode == "blind"
    assert _leaks(grid.static()["text/html"] + grid.controls.ended, jobs) == []
    _msg(grid, action="blind")  # a second Blind before Reveal keeps the pass
    assert grid.blind is first
    _msg(grid, action="blind_rate", letter="A", stars=3)
    _msg(grid, action="reveal", rater="")  # no name: recorded without one
    assert grid.controls.blind_mode == "revealed"

    _msg(grid, action="blind")  # the next rater: shuffled again, nothing given yet
    second = grid.blind
    assert second is not first and second.session != first.session and second.stars == {}
    assert grid.controls.blind_mode == "blind" and grid.controls.blind_stars == {}
    grid.controls.export_status = ""
    _msg(grid, action="export")
    assert grid.controls.export_status == "not while the grid is blind: Reveal first"
    _msg(grid, action="reveal", rater="Bo")  # nothing rated: nothing recorded
    assert "nothing was rated" in grid.controls.blind_status
    rows = engine.ratings(jobs)
    assert [(r.stars, r.rater, r.session) for r in rows if r.stars] == [(3, None, first.session)]
    assert {r.session for r in rows} == {first.session}


def test_reveal_records_a_pass_whole_or_not_at_all(engine: Engine) -> None:
    job = engine.submit("a heron in the reeds")
    assert job.wait_done(30)
    bad = [Rating(job.id, 4, blind=True, session="s"), Rating(job.id, 7, blind=True, session="s")]
    with pytest.raises(ValidationError, match="rating must be 1 to 5"):
        engine.add_ratings(bad)
    with pytest.raises(ValidationError, match="at most 80"):
        engine.add_ratings([Rating(job.id, 4, rater="x" * 81)])
    with pytest.raises(Exception, match="could not write the ledger"):
        engine.ledger.add_ratings([Rating(job.id, 4), Rating(None, 3)])  # type: ignore[arg-type]  # NOT NULL
    assert engine.ratings([job]) == []
    engine.add_ratings([Rating(job.id, 4, rater="Ana", blind=True, session="s", letter="A", note="calm")])
    again = Ledger(engine.output_dir / "ledger.sqlite").ratings([job.id])  # as another kernel reads it
    assert [(r.stars, r.rater, r.blind, r.session, r.letter, r.note) for r in again] == [
        (4, "Ana", True, "s", "A", "calm")
    ]
    assert engine.ledger.ratings([]) == [] and len(engine.ledger.ratings()) == 1


def test_a_version_4_ledger_gains_the_ratings_table_and_keeps_its_jobs(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        for name, kind in ADDED.items():
            db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
        db.execute(
            "INSERT INTO jobs (id, status, request, duration_key, created_at, updated_at, rating) "
            "VALUES ('cvnb-old', 'succeeded', ?, '', 1, 1, 4)",
            (json.dumps({"model": "cogvideox-flash", "prompt": "an old fox"}),),
        )
        db.execute("PRAGMA user_version = 4")
    ledger = Ledger(path)
    try:
        old = ledger.load("cvnb-old")
        assert old is not None and old.rating == 4 and old.prompt == "an old fox"  # the sighted stars stay
        ledger.add_ratings([Rating("cvnb-old", 5, rater="Bo", blind=True, session="p1")])
        assert [(r.job_id, r.stars) for r in ledger.ratings(["cvnb-old"])] == [("cvnb-old", 5)]
    finally:
        ledger.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5


def test_mean_count_interval_and_wins() -> None:
    assert stats([]).count == 0 and stats([4]) == stats([4]) and stats([4]).low is None
    three = stats([3, 4, 5])  # mean 4, sd 1: 4 ± 4.303/sqrt(3), clipped to the scale
    assert (three.count, three.mean) == (3, 4.0)
    assert three.low == pytest.approx(4 - 4.303 / 3**0.5) and three.high == 5.0
    many = stats([4, 5] * 20)
    assert many.low == pytest.approx(4.5 - 2.0 * (40 / 39 * 0.25) ** 0.5 / 40**0.5)
    rows = [
        Rating("a", 5, blind=True, session="s1"), Rating("b", 3, blind=True, session="s1"),  # a, by stars
        Rating("a", 2, blind=True, session="s2"), Rating("b", None, blind=True, session="s2", won=True),
        Rating("a", 4, blind=True, session="s3"), Rating("b", 4, blind=True, session="s3"),  # a tie
        Rating("a", 1), Rating("b", 5),  # sighted: no session, no wins
    ]  # fmt: skip
    assert winners(rows) == {"s1": "a", "s2": "b", "s3": None}
    got = tally(rows, lambda job_id: job_id)
    assert (got["a"].blind.count, got["a"].blind.mean, got["a"].wins, got["a"].sessions) == (3, 11 / 3, 1, 3)
    assert (got["b"].blind.count, got["b"].wins, got["b"].sighted.mean) == (2, 1, 5.0)
    assert got["a"].sighted.count == 1 and got["a"].sighted.mean == 1.0


def test_the_report_puts_blind_and_sighted_ratings_apart(tmp_path: Path) -> None:
    warm = finished(tmp_path, "a fox at dawn, warm light", rating=2)  # its card's (sighted) stars
    cold = finished(tmp_path, "a fox at dawn, cold light")
    again = finished(tmp_path, "a fox at dawn, cold light")  # a repeat: the same variant
    ratings = [
        Rating(warm.id, 5, rater="Ana", blind=True, session="p1", won=True),
        Rating(cold.id, 3, rater="Ana", blind=True, session="p1"),
        Rating(warm.id, 4, rater="<b>Bo</b>", blind=True, session="p2"),
        Rating(again.id, 2, rater="<b>Bo</b>", blind=True, session="p2"),
        Rating(cold.id, 4, blind=False),  # a sighted row
    ]
    text = write_report([warm, cold, again], tmp_path / "study.html", ratings=ratings).read_text("utf-8")
    table = text[text.index("Ratings: blind and sighted") : text.index('<div class="grid">')]
    rows = re.findall(r"<tr><td>(.*?)<div.*?</div></td>(.*?)</tr>", table)
    cells = {prompt: re.findall(r'<td class="num">([^<]*)</td>', rest) for prompt, rest in rows}
    #                 blind: mean, count, interval, won         sighted: mean, count, interval
    assert cells["a fox at dawn, warm light"] == ["4.50", "2", "1.00-5.00", "2 of 2", "2.00", "1", "-"]
    assert cells["a fox at dawn, cold light"] == ["2.50", "2", "1.00-5.00", "0 of 2", "4.00", "1", "-"]
    assert "2 blind passes" in table and "raters: Ana, &lt;b&gt;Bo&lt;/b&gt;" in table and "<b>Bo" not in text
    assert "blind: ★★★★★ Ana (winner) · ★★★★☆ &lt;b&gt;Bo&lt;/b&gt;" in text  # under its run
    assert ratings_html([cold], []) == ""  # nothing rated: no table


@pytest.mark.usefixtures("fast_default_polls")
def test_cv_report_reads_the_folders_blind_ratings(engine_opts: dict[str, Any], tmp_path: Path) -> None:
    import cogvideo_nb as cv

    jobs = cv.generate_many(["a kite at dawn", "a kite at dusk"], timeout=30, **engine_opts)
    cv.rate(jobs[1], 3, **engine_opts)  # sighted, on its card
    cv.get_engine(**engine_opts).add_ratings(
        [Rating(jobs[0].id, 5, rater="Ana", blind=True, session="p", won=True),
         Rating(jobs[1].id, 2, rater="Ana", blind=True, session="p")]
    )  # fmt: skip
    text = cv.report(jobs, tmp_path / "study.html", **engine_opts).read_text("utf-8")
    table = text[text.index("Ratings: blind and sighted") : text.index('<div class="grid">')]
    assert "raters: Ana" in table and "1 blind pass" in table
    dawn, dusk = (table[table.index(f"a kite at {w}") :].split("</tr>")[0] for w in ("dawn", "dusk"))
    assert re.findall(r'num">([^<]*)<', dawn) == ["5.00", "1", "-", "1 of 1", "-", "0", "-"]
    assert re.findall(r'num">([^<]*)<', dusk) == ["2.00", "1", "-", "0 of 1", "3.00", "1", "-"]


def test_the_magic_makes_a_blind_grid_and_wait_shows_no_prompt(ip: InteractiveShell) -> None:  # noqa: F811
    with pytest.raises(UsageError, match="--blind compares two or more clips"):
        ip.run_cell_magic("cogvideo", "--blind", "a lone zebra")
    with capture_output() as out:
        ip.run_cell_magic("cogvideo", "--blind --n 2 --vary fps=30,60", "a zebra at dawn")
        ip.run_line_magic("cogvideo", "wait")
    [grid] = magics(ip).shown
    assert isinstance(grid, CompareGrid) and grid.blind is not None and len(grid.jobs) == 4
    assert magics(ip).cards == {} and magics(ip).outputs.shown_jobs() == grid.jobs
    said = json.dumps([o.data for o in out.outputs]) + out.stdout
    assert _leaks(said, grid.jobs) == [], said  # the grid's output and wait's, all blind
    assert "4 job(s) ended" in out.stdout


@pytest.fixture
def zh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    yield


def test_a_blind_grid_speaks_chinese(engine: Engine, zh: None) -> None:
    jobs = [engine.submit("一只斑马在黎明过河"), engine.submit("一只斑马在黄昏过河")]
    grid = CompareGrid(jobs, engine, blind=True)
    assert grid.controls.text["Reveal"] == "揭晓" and grid.controls.text["Blind"] == "盲评"
    assert grid.controls.text["your name (optional)"] == "你的名字（可选）"
    _run(grid, engine)
    html = grid.static()["text/html"]
    assert "2 个片段的盲评" in html and "斑马" not in html
    assert grid.controls.blind_status == "为每个片段评分（或选出最佳），然后点“揭晓”"
    _msg(grid, action="blind_rate", letter="A", stars=4)
    _msg(grid, action="reveal", rater="李雷")
    assert grid.controls.blind_status == "1 个评分已记为盲评（评分人：李雷）"
    assert "已揭晓：以上评分已记为盲评，评分人：李雷。" in grid.static()["text/html"]


def test_a_saved_notebook_holds_no_prompt_of_a_blind_grid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run headless (nbclient), as a notebook is executed and saved: the blind cell's outputs
    carry letters, posters and neutrally named videos, and nowhere its prompts."""
    import nbformat  # here, not at collection: with jsonschema it takes seconds to import
    from nbclient import NotebookClient

    monkeypatch.setenv("COGVIDEO_EMULATOR_SECONDS", "0.5")
    monkeypatch.setenv("COGVIDEO_EMULATOR_STATE", str(tmp_path / "emu"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext cogvideo_nb"),
        nbformat.v4.new_code_cell("%%cogvideo --blind\n" + "\n---\n".join(PROMPTS[:2])),
    ]
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = json.dumps(nb.cells[1].outputs)
    assert "zebra" not in outputs and "dawn" not in outputs and "fps" not in outputs
    html = "".join(o.get("data", {}).get("text/html", "") for o in nb.cells[1].outputs)
    assert html.count('class="cvnb-static-video"') == 2 and "cvnb-blind" in html
    links = re.findall(r'src="(cogvideo_outputs/blind/[0-9a-f]{8}-[AB]\.mp4)"', html)
    assert len(links) == 2 and all((tmp_path / link).is_file() for link in links)
    assert "application/vnd.jupyter.widget-view+json" not in outputs
