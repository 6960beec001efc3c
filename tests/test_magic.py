"""The magics in a real InteractiveShell, against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from PIL import Image

from cogvideo_nb._config import resolve
from cogvideo_nb._jobs import JobStatus
from cogvideo_nb.emulator import Emulator
from cogvideo_nb.magic import CogVideoMagics

SENTINEL = "sk-MAGIC-SENTINEL-77a1"


@pytest.fixture
def ip(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("ZHIPUAI_API_KEY", SENTINEL)
    monkeypatch.chdir(tmp_path)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "cogvideo_nb")
    shell.run_line_magic("config", f"CogVideoMagics.base_url = {emulator.base_url!r}")
    shell.run_line_magic("config", f"CogVideoMagics.output_dir = {str(tmp_path / 'out')!r}")
    magics(shell).cards.clear()  # the shell is a singleton shared by these tests
    yield shell
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
    first, last = out.outputs[0], out.outputs[-1]
    assert "<video" not in first.data["text/html"]
    assert last.update and last.transient == {"display_id": f"cvnb-{job.id}"}  # type: ignore[attr-defined]
    assert "<video" in last.data["text/html"]


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
    assert out.outputs[0].data["text/html"].count("cvnb-static") == 4


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


def test_line_magic_status_config_show(ip: InteractiveShell) -> None:
    with capture_output():
        ip.run_cell_magic("cogvideo", "--wait", "a <b>bold</b> heron")
    table = ip.run_line_magic("cogvideo", "history")
    assert "&lt;b&gt;bold&lt;/b&gt; heron" in table.data and "<b>bold" not in table.data
    config = ip.run_line_magic("cogvideo", "config")
    assert "API key: set" in config and SENTINEL not in config
    job = jobs_of(ip)[0]
    shown = ip.run_line_magic("cogvideo", f"show {job.id[:14]}")
    assert "<video" in shown.data
    with pytest.raises(UsageError, match="no job matches"):
        ip.run_line_magic("cogvideo", "show nope")
    with pytest.raises(UsageError, match="unknown %cogvideo command"):
        ip.run_line_magic("cogvideo", "dance")


def test_resume_with_nothing_to_do(ip: InteractiveShell) -> None:
    with capture_output() as out:
        ip.run_line_magic("cogvideo", "resume")
    assert "nothing to resume" in out.stdout


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
