"""The magics in a real InteractiveShell, against the emulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from PIL import Image

from cogvideo_nb import JobStatus
from cogvideo_nb._config import resolve
from cogvideo_nb._i18n import t
from cogvideo_nb.emulator import Emulator
from cogvideo_nb.magic import CogVideoMagics
from cogvideo_nb.widgets._bridge import BRIDGE
from cogvideo_nb.widgets._card import POSTER

from ._wait import wait_for_status
from .conftest import EngineFactory

SENTINEL = "sk-MAGIC-SENTINEL-77a1"
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def ip(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_default_polls: None
) -> Iterator[InteractiveShell]:
    """The one InteractiveShell with the extension loaded, on the test's emulator and folder
    (its engines poll fast: ``fast_default_polls``)."""
    monkeypatch.setenv("ZHIPUAI_API_KEY", SENTINEL)
    monkeypatch.chdir(tmp_path)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "cogvideo_nb")
    shell.run_line_magic("config", f"CogVideoMagics.base_url = {emulator.base_url!r}")
    shell.run_line_magic("config", f"CogVideoMagics.output_dir = {str(tmp_path / 'out')!r}")
    magics(shell).outputs.clear()  # the shell is a singleton shared by these tests
    yield shell
    # A card's last update (its output ending as HTML) runs on the UI thread after its job ends:
    # drained here, it lands in its own test, not in the next test's captured output.
    BRIDGE.flush()
    for name in ("base_url", "output_dir", "concurrency"):
        shell.run_line_magic("config", f"CogVideoMagics.{name} = None")


def magics(ip: InteractiveShell) -> CogVideoMagics:
    return ip.magics_manager.registry["CogVideoMagics"]  # type: ignore[no-any-return]


def jobs_of(ip: InteractiveShell) -> list:  # type: ignore[type-arg]
    return [c.job for c in magics(ip).cards.values()]


def test_config_traitlets_feed_the_settings(ip: InteractiveShell) -> None:
    ip.run_line_magic("config", "CogVideoMagics.concurrency = 5")
    assert resolve("concurrency") == 5
    with capture_output() as out:
        ip.run_line_magic("config", "CogVideoMagics")
    assert SENTINEL not in out.stdout  # the key is not a traitlet, so %config cannot echo it


def test_one_prompt_returns_at_once_and_finishes_in_the_background(
    ip: InteractiveShell, emulator: Emulator
) -> None:
    with capture_output() as out:
        ip.run_cell_magic("cogvideo", "", "a red kite over the dunes")
    [job] = jobs_of(ip)
    assert not job.done  # the magic did not wait
    assert "application/vnd.jupyter.widget-view+json" in out.outputs[0].data
    assert "a red kite over the dunes" in out.outputs[0].data["text/html"]
    assert job.wait_done(30) and job.status is JobStatus.SUCCEEDED


def test_a_finished_card_rewrites_its_static_html(ip: InteractiveShell) -> None:
    with capture_output() as out:
        ip.run_cell_magic("cogvideo", "", "a lantern drifting on a lake")
        [job] = jobs_of(ip)
        assert job.wait_done(30)
        BRIDGE.flush()
    first, last = out.outputs[0], out.outputs[-1]
    assert "<video" not in first.data["text/html"] and WIDGET in first.data
    assert last.update and last.transient == {"display_id": f"cvnb-{job.id}"}
    # The ended job's output is what every renderer can show: no widget view left to fail.
    assert "<video" in last.data["text/html"] and WIDGET not in last.data
    # Pages that do not know the display id (a reload, a second tab, a later kernel) find the
    # output by what it shows and end it with the same HTML, which the card carries.
    assert first.metadata == {"cogvideo_nb": {"shows": f"job:{job.id}"}}
    assert last.metadata == {"cogvideo_nb": {"shows": f"job:{job.id}", "final": True}}
    [card] = magics(ip).cards.values()
    assert card.shows == f"job:{job.id}" and card.poster and card.poster not in card.static_html
    assert card.static_html.replace(POSTER, card.poster) == last.data["text/html"]


def test_wait_leaves_the_final_static_output(ip: InteractiveShell) -> None:
    with capture_output() as out:
        ip.run_cell_magic("cogvideo", "--wait --fps 60", "a lighthouse in fog")
    [job] = jobs_of(ip)
    assert job.status is JobStatus.SUCCEEDED and job.request.fps == 60
    final = out.outputs[-1].data["text/html"]
    assert "<video" in final and 'poster="data:image/jpeg;base64,' in final and job.video_path.name in final


def test_namespace_interpolation(ip: InteractiveShell) -> None:
    ip.user_ns["animal"] = "otter"
    with capture_output():
        ip.run_cell_magic("cogvideo", "", "an {animal} in {{braces}}")
    assert jobs_of(ip)[0].prompt == "an otter in {braces}"
    with pytest.raises(UsageError, match=r"\{ghost\} is not defined"):
        ip.run_cell_magic("cogvideo", "", "a {ghost}")


def test_grid_of_prompts_times_varied_sizes(ip: InteractiveShell) -> None:
    with capture_output() as out:
        ip.run_cell_magic(
            "cogvideo", "--vary size=720x480,1024x1024", "a cat on a roof\n---\na dog on a roof"
        )
    jobs = jobs_of(ip)
    assert len(jobs) == 4
    assert [(j.prompt, j.request.size, j.label) for j in jobs] == [
        ("a cat on a roof", "720x480", "size=720x480"),
        ("a cat on a roof", "1024x1024", "size=1024x1024"),
        ("a dog on a roof", "720x480", "size=720x480"),
        ("a dog on a roof", "1024x1024", "size=1024x1024"),
    ]
    cards = list(magics(ip).cards.values())
    assert cards[0].prompt_parts == [["a ", False], ["cat", True], [" on a roof", False]]
    assert len({c.group for c in cards}) == 1
    assert out.outputs[0].data["text/html"].count('class="cvnb-static"') == 4


def test_a_finished_grid_rewrites_its_static_html_and_carries_it_to_every_page(ip: InteractiveShell) -> None:
    with capture_output() as out:
        ip.run_cell_magic("cogvideo", "", "a cat on a roof\n---\na dog on a roof")
        jobs = jobs_of(ip)
        assert all(j.wait_done(30) for j in jobs)
        BRIDGE.flush()
    first, last = out.outputs[0], out.outputs[-1]
    [grid] = [s for s in magics(ip).outputs.shown]
    key = f"cvnb-grid-{grid.group}"
    assert WIDGET in first.data and first.metadata == {"cogvideo_nb": {"shows": key}}
    assert last.update and last.metadata == {"cogvideo_nb": {"shows": key, "final": True}}
    assert last.data["text/html"].count("<video") == 2 and WIDGET not in last.data
    # The grid's Ending (a view in every page that draws the grid) carries the same end.
    assert grid.ending.key == key and grid.ending.html == last.data["text/html"]
    assert grid.ending in grid.children


def test_vary_a_prompt_placeholder(ip: InteractiveShell) -> None:
    with capture_output():
        ip.run_cell_magic("cogvideo", '--vary "style=oil paint,clay"', "a fox, {style} style")
    assert [j.prompt for j in jobs_of(ip)] == ["a fox, oil paint style", "a fox, clay style"]


def test_image_from_a_variable(ip: InteractiveShell) -> None:
    ip.user_ns["frame"] = Image.new("RGB", (32, 18), (10, 120, 200))
    with capture_output():
        ip.run_cell_magic("cogvideo", "--image {frame}", "the scene comes alive")
    assert str(jobs_of(ip)[0].request.image_url).startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    ("line", "cell", "message"),
    [
        ("--fps 24", "a fox", "fps 24 is not allowed"),
        ("--size 640x480", "a fox", "size '640x480' is not allowed for cogvideox-flash"),
        ("--model cogvideox-9", "a fox", "unknown model 'cogvideox-9'"),
        ("", "   \n", "the cell is empty"),
        ("", "x" * 513, "513 characters"),
        ("--vary size", "a fox", "--vary needs key=value1,value2"),
        ("--vary size=720x480", "a fox", "at least two values"),
        ("--vary colour=red,blue", "a fox", "not a parameter"),
        ("--bogus", "a fox", "unrecognized arguments: --bogus"),
        ('--vary "size=720x480', "a fox", "could not read options"),
        ("--image /no/such.png", "a fox", "image file not found"),
        ("--image {nothing}", "a fox", "nothing is not defined"),
        ("", "fine\n---\n" + "y" * 600, "prompt 2: prompt is 600 characters"),
    ],
)
def test_bad_input_is_a_clear_usage_error_and_sends_nothing(
    ip: InteractiveShell, emulator: Emulator, line: str, cell: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("cogvideo", line, cell)
    assert emulator.stats()["tasks"] == []


def test_usage_errors_print_without_a_traceback(ip: InteractiveShell) -> None:
    with capture_output() as out:
        ip.run_cell("%%cogvideo --fps 24\na fox")
    text = out.stdout + out.stderr
    assert "UsageError: fps 24 is not allowed" in text and "Traceback" not in text


def test_help_lists_the_options() -> None:
    doc = CogVideoMagics.cogvideo.__doc__ or ""
    for option in (
        "--model",
        "--size",
        "--fps",
        "--duration",
        "--quality",
        "--audio",
        "--image",
        "--vary",
        "--wait",
        "--out",
        "--concurrency",
    ):
        assert option in doc


def test_history_id_is_the_id_show_takes(ip: InteractiveShell) -> None:
    with capture_output():
        ip.run_cell_magic("cogvideo", "--wait --fps 60", "a <b>bold</b> heron")
    [job] = jobs_of(ip)
    table = ip.run_line_magic("cogvideo", "history")
    assert "&lt;b&gt;bold&lt;/b&gt; heron" in table.data and "<b>bold" not in table.data
    assert "fps=60" in table.data  # the parameters column
    details = table.data.split("<details><summary>show</summary>", 1)[1]  # one click shows the job
    assert job.video_path.name in details and "<video" in details
    shown_id = re.search(r"<code[^>]*>([^<]+)</code>", table.data).group(1)  # type: ignore[union-attr]
    for ident in (shown_id, job.id[:14], job.id[5:12], job.task_id[:10], job.task_id[-6:]):
        assert job.video_path.name in ip.run_line_magic("cogvideo", f"show {ident}").data
    with pytest.raises(UsageError, match="no job matches 'nope'"):
        ip.run_line_magic("cogvideo", "show nope")


def test_subcommands_parse_their_arguments(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match=r"invalid choice: 'dance' \(choose from 'status', 'history'"):
        ip.run_line_magic("cogvideo", "dance")
    with pytest.raises(UsageError, match="expected a number of rows"):
        ip.run_line_magic("cogvideo", "history abc")
    with pytest.raises(UsageError, match="required: id"):
        ip.run_line_magic("cogvideo", "show")
    with capture_output() as out:
        assert ip.run_line_magic("cogvideo", "resume -h") is None
    assert "--all" in out.stdout and "same tasks" in out.stdout


def test_config_reads_as_text(ip: InteractiveShell) -> None:
    with capture_output() as out:
        assert ip.run_line_magic("cogvideo", "config") is None
    assert "platform: BigModel (open.bigmodel.cn)\nAPI key: set\nservice: " in out.stdout
    assert SENTINEL not in out.stdout


def test_status_shows_only_what_is_in_flight(ip: InteractiveShell) -> None:
    with capture_output():
        ip.run_cell_magic("cogvideo", "--wait", "a finished kite")
        ip.run_cell_magic("cogvideo", "", "a slow kite #seconds=4\n---\na slower kite #seconds=5")
    status = ip.run_line_magic("cogvideo", "status").data
    assert "<b>2 in flight</b>" in status and "finished kite" not in status and "slow kite" in status
    with capture_output():
        ip.run_line_magic("cogvideo", "wait")
    assert all(j.done for j in jobs_of(ip))
    with capture_output() as out:
        ip.run_line_magic("cogvideo", "status")
    assert "nothing in flight" in out.stdout


def test_wait_right_after_submitting_waits_for_every_job(ip: InteractiveShell) -> None:
    """Jobs not yet started on the engine loop are waited for too."""
    with capture_output() as out:
        ip.run_cell_magic("cogvideo", "", "\n---\n".join(f"a moth number {i}" for i in range(6)))
        ip.run_line_magic("cogvideo", "wait")
    assert all(j.status is JobStatus.SUCCEEDED for j in jobs_of(ip))
    final = out.outputs[-1]  # the grid's output, made static from the waiting cell
    assert final.update and WIDGET not in final.data and final.data["text/html"].count("<video") == 6
    # each result once: in the grid above, not again as copies under the wait
    assert not [o for o in out.outputs if not o.update and "<video" in o.data.get("text/html", "")]
    assert "6 job(s) ended (6 succeeded): their results are in their outputs above" in out.stdout


def test_stop_then_resume_reuses_the_task_and_the_card(ip: InteractiveShell, emulator: Emulator) -> None:
    with capture_output():
        ip.run_cell_magic("cogvideo", "", "a slow tide #seconds=3")
    [job] = jobs_of(ip)
    card = magics(ip).cards[job.id]
    while job.task_id is None:
        job.wait_done(0.02)
    with capture_output():
        ip.run_line_magic("cogvideo", f"stop {job.id[-8:]}")
    assert job.wait_done(5) and job.status is JobStatus.DETACHED
    with capture_output() as out:
        ip.run_line_magic("cogvideo", "resume")
    assert "1 job(s) you stopped waiting for" in out.stdout
    assert "every job in the ledger has ended" not in out.stdout
    with capture_output() as out:
        ip.run_line_magic("cogvideo", f"resume {job.id[-8:]} --wait")
    assert "in their cards above" in out.stdout
    BRIDGE.flush()
    assert job.status is JobStatus.SUCCEEDED and card.job is job and card.status == "succeeded"
    assert len(emulator.stats()["tasks"]) == 1  # the same task, no new cost


def test_resume_with_nothing_to_do(ip: InteractiveShell) -> None:
    with capture_output() as out:
        ip.run_line_magic("cogvideo", "resume")
    assert "nothing to resume" in out.stdout


def test_cell_options_come_from_the_catalogue(ip: InteractiveShell) -> None:
    first, last = "https://img.test/first.png", "https://img.test/last.png"
    with capture_output():
        ip.run_cell_magic(
            "cogvideo",
            f"--model VIDUQ1-START-END --image {first} --last-frame {last} --movement-amplitude small "
            "--off-peak --no-watermark --yes",  # --yes: paid models (the cost guard)
            "a door opens onto the sea",
        )
        ip.run_cell_magic(
            "cogvideo",
            "--model viduq1-text --vary style=general,anime --aspect-ratio 9:16 --yes",
            "a paper crane",
        )
    start_end, *texts = [j.request.to_body() for j in jobs_of(ip)]
    assert start_end["model"] == "viduq1-start-end" and start_end["image_url"] == [first, last]
    assert (start_end["movement_amplitude"], start_end["off_peak"], start_end["watermark_enabled"]) == (
        "small", True, False,
    )  # fmt: skip
    assert sorted(b["style"] for b in texts) == ["anime", "general"]
    assert {b["aspect_ratio"] for b in texts} == {"9:16"}
    with pytest.raises(UsageError, match="fps is not a parameter of viduq1-text"):
        ip.run_cell_magic("cogvideo", "--model viduq1-text --fps 30", "a crane")
    with pytest.raises(UsageError, match="viduq1-start-end needs a first and a last frame"):
        ip.run_cell_magic("cogvideo", f"--model viduq1-start-end --image {first}", "a crane")


def test_wait_makes_outputs_static_even_for_jobs_that_ended_before_it(ip: InteractiveShell) -> None:
    """Headless runners drop the UI thread's update: the waiting cell sends it again."""
    with capture_output():
        ip.run_cell_magic("cogvideo", "", "a quick wren")
    [job] = jobs_of(ip)
    assert job.wait_done(30)
    BRIDGE.flush()
    with capture_output() as out:
        ip.run_line_magic("cogvideo", "wait")
    [update] = [o for o in out.outputs if o.update]
    assert update.transient == {"display_id": f"cvnb-{job.id}"}
    assert WIDGET not in update.data and "<video" in update.data["text/html"]
    with capture_output() as again:  # once made static from a cell, not again
        ip.run_line_magic("cogvideo", "wait")
    assert not [o for o in again.outputs if o.update]


def test_resume_after_a_cell_with_its_own_concurrency_reuses_the_engine_and_the_card(
    ip: InteractiveShell, emulator: Emulator
) -> None:
    import time

    ip.run_line_magic("config", "CogVideoMagics.timeout = 0.3")
    try:
        with capture_output():
            ip.run_cell_magic("cogvideo", "--concurrency 5", "a slow tide #seconds=1.2")
        [job] = jobs_of(ip)
        assert job.wait_done(10) and job.status is JobStatus.DETACHED  # gave up after 0.3 s
        time.sleep(1.2)  # the server finishes meanwhile
        with capture_output():
            ip.run_line_magic("cogvideo", "resume --wait")
    finally:
        ip.run_line_magic("config", "CogVideoMagics.timeout = None")
    assert jobs_of(ip) == [job] and job.status is JobStatus.SUCCEEDED  # the card's own Job object
    stats = emulator.stats()
    assert len(stats["tasks"]) == 1 and stats["requests"]["file"] == 2  # one engine, one owner


@pytest.mark.parametrize("value", ["0", "-2"])
def test_a_concurrency_below_one_is_a_usage_error_in_the_cell_and_in_config(
    ip: InteractiveShell, emulator: Emulator, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(UsageError, match="concurrency"):
        ip.run_cell_magic("cogvideo", f"--concurrency {value}", "a fox")
    ip.run_line_magic("config", "CogVideoMagics.concurrency = 4")
    ip.run_line_magic("config", f"CogVideoMagics.concurrency = {value}")  # %config logs errors
    assert f"bad value {value} for concurrency: must be at least 1" in caplog.text
    assert magics(ip).concurrency == 4  # the refused value is not kept: the last good one is
    assert resolve("concurrency") == 4
    ip.run_line_magic("config", "CogVideoMagics.concurrency = None")


def test_a_huge_history_count_is_a_usage_error(ip: InteractiveShell) -> None:
    for n in ("99999999999999999999999", "10001", "9" * 5000):
        with pytest.raises(UsageError, match=r"history: argument n: at most 10000 rows, got '\d+") as info:
            ip.run_line_magic("cogvideo", f"history {n}")
        assert "\n" not in str(info.value) and len(str(info.value)) < 200
    assert "no jobs yet" in ip.run_line_magic("cogvideo", "history 10000").data  # the cap itself is fine
    with pytest.raises(UsageError, match=r"report: argument --last: at most 10000 rows"):
        ip.run_line_magic("cogvideo", "report --last 99999999999999999999999")


def test_a_variable_that_cannot_become_text_is_a_usage_error(
    ip: InteractiveShell, emulator: Emulator
) -> None:
    class Sulky:
        def __str__(self) -> str:
            raise RuntimeError("no text today")

    ip.user_ns["mood"] = Sulky()
    with pytest.raises(
        UsageError, match=r"^\{mood\} could not be turned into text: RuntimeError: no text today$"
    ):
        ip.run_cell_magic("cogvideo", "", "a fox, {mood}")
    assert emulator.stats()["tasks"] == []

    class Wordless:
        def __str__(self) -> str:
            return 42  # type: ignore[return-value]

    ip.user_ns["mood"] = Wordless()
    with pytest.raises(UsageError, match=r"^\{mood\} could not be turned into text: TypeError: __str__ "):
        ip.run_cell_magic("cogvideo", "--image photos/{mood}.png", "a fox")
    assert emulator.stats()["tasks"] == []


def test_the_restart_notice_resumes_into_an_output_of_its_own_that_ends_static(
    ip: InteractiveShell, engine_factory: EngineFactory, tmp_path: Path
) -> None:
    """A click runs outside any cell: the resumed cards go to an output displayed with the notice
    (by id), which ends as static HTML; what is saved of the notice itself is its text."""
    from cogvideo_nb.magic import _offer_resume

    before = engine_factory(output_dir=tmp_path / "out")  # the kernel that stopped
    job = before.submit("a barge on a misty river #seconds=1.5")
    wait_for_status(job, JobStatus.RUNNING)
    before.close()
    with capture_output() as out:
        offer = _offer_resume(ip)
        text, button, message = offer.children
        assert "1 job(s)" in text.value
        button.click()
        [card] = magics(ip).cards.values()
        assert card.job.id == job.id and card.job.wait_done(30)
        BRIDGE.flush()
    notice, slot, *updates = out.outputs
    saved = notice.metadata["cogvideo_nb"]["saved"]
    assert WIDGET in notice.data and "1 job(s)" in saved["text/html"] and WIDGET not in saved
    key = slot.metadata["cogvideo_nb"]["shows"]
    assert slot.transient == {"display_id": key} and message.value == "resumed 1 job(s)"
    assert WIDGET in updates[0].data  # the live card
    assert updates[-1].metadata == {"cogvideo_nb": {"shows": key, "final": True}}
    assert "<video" in updates[-1].data["text/html"] and WIDGET not in updates[-1].data


# -- in Chinese (COGVIDEO_LANG=zh): usage errors, the history table, help ---------------------------
def test_a_usage_error_of_percent_cogvideo_is_said_in_chinese(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("cogvideo", "dance")
    said = str(info.value)
    inner = t("argument {argument}: {problem}", "zh", argument="COMMAND", problem="@")
    before, after = t("{prog}: {message} (see {prog} -h)", "zh", prog="%cogvideo", message=inner).split("@")
    # %cogvideo：参数 COMMAND：...（见 %cogvideo -h）
    assert said.startswith(before) and said.endswith(after), said
    assert "无效的选择：'dance'（可选：'status', 'history'" in said  # argparse's own words, said ours
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("cogvideo", "history abc")
    assert t("expected a number of rows (1 or more), got {shown}", "zh", shown="'abc'") in str(info.value)
    assert "行数应为" in str(info.value)
    with pytest.raises(UsageError, match="缺少必需的参数：id"):
        ip.run_line_magic("cogvideo", "show")
    with capture_output() as out:
        ip.run_line_magic("cogvideo", "")  # the commands, each with its help
    assert out.stdout.startswith("用法：%cogvideo") and t("recent jobs, newest first", "zh") in out.stdout
    assert "Recent" not in out.stdout and "options" not in out.stdout


def test_the_history_table_is_headed_in_chinese(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    assert "还没有任务" in ip.run_line_magic("cogvideo", "history").data
    with capture_output():
        ip.run_cell_magic("cogvideo", "--wait", "一只柴犬在草地上奔跑")
    table = ip.run_line_magic("cogvideo", "history").data
    heads = re.findall(r"<th>([^<]*)</th>", table)
    words = ("id", "status", "parameters", "prompt", "created", "took", "result")
    assert heads == [t(w, "zh") for w in words] + [""]
    assert heads[:4] == ["编号", "状态", "参数", "提示词"]
    assert "<td>已完成</td>" in table and "<summary>查看</summary>" in table
    assert re.search(r"<td>\d+ 秒</td>", table)


def test_a_bad_cell_option_and_the_cell_help_are_said_in_chinese(
    ip: InteractiveShell, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("cogvideo", "--bogus", "一只柴犬")
    said = t("unrecognized arguments: {words}", "zh", words="--bogus")
    assert str(info.value) == said == "无法识别的参数：--bogus"
    with pytest.raises(UsageError, match=r"^参数 --n：无效的 int 值：'x'$"):
        ip.run_cell_magic("cogvideo", "--n x", "一只柴犬")
    with pytest.raises(UsageError, match="--vary 需要 key=value1,value2"):
        ip.run_cell_magic("cogvideo", "--vary size", "一只柴犬")
    with pytest.raises(UsageError, match=r"^笔记本中没有定义 \{ghost\}"):
        ip.run_cell_magic("cogvideo", "", "一只{ghost}")
    assert emulator.stats()["tasks"] == []
    # %%cogvideo? asks the magic's getdoc(): the options' help in the language in force
    doc = magics(ip).cogvideo.getdoc()
    assert "用单元格中的提示词生成视频" in doc and t("a title for the grid", "zh") in doc
    assert t("frames per second", "zh") in doc and "--fps FPS" in doc
    assert "frames per second" in (CogVideoMagics.cogvideo.__doc__ or "")  # the docstring: English
    with capture_output() as out:
        ip.run_line_magic("config", "CogVideoMagics")
    assert t("tasks in flight at once", "zh") in out.stdout
