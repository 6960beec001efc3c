"""The study options of the magics on the emulator: --enhance, --vary enhance, --n, --continue,
the cost guard, and %cogvideo stitch / report / rate."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from cogvideo_nb import JobStatus
from cogvideo_nb._ledger import Ledger
from cogvideo_nb._media import clip_info
from cogvideo_nb.emulator import Emulator

from .test_magic import SENTINEL, ip, jobs_of  # noqa: F401  (ip: the shell fixture, reused)


@pytest.fixture
def shell(ip: InteractiveShell) -> InteractiveShell:  # noqa: F811
    return ip


def html_of(out: object) -> str:
    return "".join(o.data.get("text/html", "") for o in out.outputs)  # type: ignore[attr-defined]


def test_enhance_shows_both_prompts_and_generates_from_the_rewrite(
    shell: InteractiveShell, emulator: Emulator, tmp_path: Path
) -> None:
    with capture_output() as out:
        shell.run_cell_magic("cogvideo", "--enhance --wait", "a red fox in the snow")
    [job] = jobs_of(shell)
    assert job.status is JobStatus.SUCCEEDED
    assert job.original_prompt == "a red fox in the snow"
    assert job.prompt.startswith("a red fox in the snow.") and len(job.prompt) > 60
    shown = html_of(out)
    assert "cvnb-enhance" in shown and "<mark>" in shown  # side by side, the additions marked
    assert emulator.stats()["requests"]["chat"] == 1
    stored = Ledger(tmp_path / "out" / "ledger.sqlite").load(job.id)
    assert stored is not None and (stored.original_prompt, stored.prompt) == (job.original_prompt, job.prompt)
    assert SENTINEL not in shown + out.stdout + out.stderr


def test_vary_enhance_puts_both_in_a_grid(shell: InteractiveShell, emulator: Emulator) -> None:
    with capture_output():
        shell.run_cell_magic("cogvideo", "--vary enhance=off,on --wait", "一只红狐狸在雪中")
    off, on = jobs_of(shell)
    assert (off.label, on.label) == ("enhance=off", "enhance=on")
    assert off.prompt == "一只红狐狸在雪中" and off.original_prompt is None
    assert on.original_prompt == "一只红狐狸在雪中" and on.prompt.startswith("一只红狐狸在雪中。")
    assert all("\u4e00" <= ch <= "\u9fff" or not ch.isalpha() for ch in on.prompt)  # still Chinese
    with pytest.raises(UsageError, match="off,on"):
        shell.run_cell_magic("cogvideo", "--vary enhance=maybe,on", "x")


def test_n_runs_the_same_request_side_by_side(shell: InteractiveShell, emulator: Emulator) -> None:
    with capture_output() as out:
        shell.run_cell_magic("cogvideo", "--n 3 --fps 60 --wait", "a paper boat on a pond")
    jobs = jobs_of(shell)
    assert len(jobs) == 3 and len({j.id for j in jobs}) == 3 and len({j.task_id for j in jobs}) == 3
    assert {j.prompt for j in jobs} == {"a paper boat on a pond"} and {j.request.fps for j in jobs} == {60}
    assert [j.label for j in jobs] == ["run 1/3", "run 2/3", "run 3/3"]
    assert all(j.status is JobStatus.SUCCEEDED for j in jobs)
    # the emulator, like the seedless API, makes each run different (same colours, other motion);
    # without that, one prompt renders to the very same bytes
    assert len({j.video_sha256 for j in jobs}) == 3
    assert "application/vnd.jupyter.widget-view+json" in out.outputs[0].data  # one grid
    for bad in ("0", "5"):
        with pytest.raises(UsageError, match="1 to 4"):
            shell.run_cell_magic("cogvideo", f"--n {bad}", "x")


def test_continue_starts_from_a_finished_job(shell: InteractiveShell, emulator: Emulator) -> None:
    with capture_output():
        shell.run_cell_magic("cogvideo", "--wait", "a lighthouse at dusk")
        [first] = jobs_of(shell)
    with capture_output() as out:
        shell.run_cell_magic("cogvideo", f"--continue {first.id[-12:]} --wait", "the beam sweeps the sea")
    second = next(j for j in jobs_of(shell) if j is not first)
    # Each result once: the card, which ends as the video; no second copy below it.
    shown = [o for o in out.outputs if second.id in o.data.get("text/html", "")]
    assert not [o for o in shown if "data-cvnb-copy" in o.data["text/html"]]
    assert [o.update for o in shown] == [False, *([True] * (len(shown) - 1))]
    assert second.status is JobStatus.SUCCEEDED and second.continues == first.id
    assert isinstance(second.request.image_url, str) and second.request.image_url.startswith("data:image/png")
    with pytest.raises(UsageError, match="--continue: no job matches"):
        shell.run_cell_magic("cogvideo", "--continue nothing-like-this", "x")
    with pytest.raises(UsageError, match="leave out --image"):
        shell.run_cell_magic("cogvideo", f"--continue {first.id} --image x.png", "x")


def test_paid_cells_need_yes_and_send_nothing_before_it(shell: InteractiveShell, emulator: Emulator) -> None:
    with pytest.raises(UsageError, match=r"this would start 2 paid jobs \(2 x cogvideox-3.*add --yes"):
        shell.run_cell_magic("cogvideo", "--model cogvideox-3 --n 2 --enhance", "a fox")
    stats = emulator.stats()
    assert stats["tasks"] == [] and "chat" not in stats["requests"]  # not even the rewrite
    with capture_output():
        shell.run_cell_magic("cogvideo", "--n 2", "a fox")  # the free model never asks
        shell.run_cell_magic("cogvideo", "--model cogvideox-3 --yes --wait", "a fox")
    assert len(emulator.stats()["tasks"]) == 3


def test_stitch_report_and_rate_commands(shell: InteractiveShell, emulator: Emulator, tmp_path: Path) -> None:
    with capture_output():
        shell.run_cell_magic("cogvideo", "--wait", "a kite rises\n---\na kite falls")
    a, b = jobs_of(shell)
    rated = shell.run_line_magic("cogvideo", f"rate {a.id[-10:]} 5 smooth <b>climb</b>").data
    assert (
        "rated" in rated and "&lt;b&gt;" in rated and a.rating == 5 and a.rating_note == "smooth <b>climb</b>"
    )
    stitched = shell.run_line_magic("cogvideo", f"stitch {a.id} {b.id} --out story.mp4")
    assert "story.mp4" in stitched.data
    assert clip_info(tmp_path / "story.mp4").duration == pytest.approx(
        clip_info(a.video_path).duration + clip_info(b.video_path).duration, abs=0.3
    )
    shown = shell.run_line_magic("cogvideo", "report --out handout/study.html")
    assert "study.html" in shown.data
    # Lab's viewer cannot play videos kept beside it (the server refuses them): the link says so
    assert "--embed" in shown.data and str(tmp_path / "handout" / "study.html") in shown.data
    assert "--embed" not in shell.run_line_magic("cogvideo", "report --out handout/e.html --embed").data
    text = (tmp_path / "handout" / "study.html").read_text("utf-8")
    assert "★★★★★" in text and "smooth &lt;b&gt;climb&lt;/b&gt;" in text
    assert len(list((tmp_path / "handout" / "study_files").glob("*.mp4"))) == 2
    assert SENTINEL not in text
    with pytest.raises(UsageError, match="two or more"):
        shell.run_line_magic("cogvideo", f"stitch {a.id}")
    with pytest.raises(UsageError, match="invalid choice: 9"):
        shell.run_line_magic("cogvideo", f"rate {a.id} 9")


def test_history_shows_both_prompts_and_the_rating(shell: InteractiveShell, emulator: Emulator) -> None:
    with capture_output():
        shell.run_cell_magic("cogvideo", "--enhance --wait", "a <kite> at the beach")
    [job] = jobs_of(shell)
    shell.run_line_magic("cogvideo", f"rate {job.id} 3 ok")
    table = shell.run_line_magic("cogvideo", "history 5").data
    assert "enhanced from: a &lt;kite&gt; at the beach" in table and "★★★ ok" in table
