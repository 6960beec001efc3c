"""``cogvideo batch``: a file of prompts, a line per finished job, honest exit codes, Ctrl+C."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest

from cogvideo_nb import ValidationError
from cogvideo_nb.__main__ import main
from cogvideo_nb._cli_batch import read_batch, read_source
from cogvideo_nb.emulator import Emulator

from .conftest import EmulatorFactory

PROMPTS = """\
# a class's prompts
a red fox running through fresh snow

{"prompt": "a paper boat on a pond", "duration": 10, "quality": "quality"}
a lantern in the rain #fail
"""


def batch(emu: Emulator, tmp_path: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ZHIPUAI_API_KEY": "sk-batch",
        "ZHIPUAI_BASE_URL": emu.base_url,
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cogvideo_nb", "batch", *args],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen,
    )  # fmt: skip


def test_every_line_is_checked_before_anything_is_sent() -> None:
    requests = [p.request for p in read_batch(PROMPTS.splitlines(), {"model": "cogvideox-flash"}, "p.txt")]
    assert [r.prompt for r in requests] == [
        "a red fox running through fresh snow", "a paper boat on a pond", "a lantern in the rain #fail",
    ]  # fmt: skip
    assert requests[1].duration == 10 and requests[1].quality == "quality" and requests[0].duration is None
    with pytest.raises(ValidationError, match=r"^p\.txt:3: size '1x1' is not allowed"):
        read_batch(["a fox", "", '{"prompt": "a cat", "size": "1x1"}'], {}, "p.txt")
    with pytest.raises(ValidationError, match=r"p\.txt:1: unknown option 'colour'"):
        read_batch(['{"prompt": "a cat", "colour": "red"}'], {}, "p.txt")
    with pytest.raises(ValidationError, match=r"p\.txt:2: not valid JSON"):
        read_batch(["a fox", "{oops"], {}, "p.txt")
    with pytest.raises(ValidationError, match="holds no prompts"):
        read_batch(["# only a comment", "  "], {}, "p.txt")


@pytest.mark.slow
def test_batch_prints_a_line_per_job_and_fails_when_one_failed(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emu = emulator_factory(seconds=0.5)
    (tmp_path / "prompts.txt").write_text(PROMPTS)
    proc = batch(emu, tmp_path, "prompts.txt", "--json")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err  # one job failed
    rows = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["status"] for r in rows) == ["failed", "succeeded", "succeeded"]
    for row in rows:
        if row["status"] == "succeeded":
            with av.open(str(tmp_path / row["video"])) as container:
                assert container.streams.video[0].frames > 0
        else:
            assert "lantern" in row["prompt"] and row["error"]
    assert err.strip().splitlines()[-1].startswith("1 failed, 2 succeeded in ")
    assert len(emu.stats()["tasks"]) == 3

    (tmp_path / "good.txt").write_text("a quiet harbour at dawn\n")
    proc = batch(emu, tmp_path, "good.txt")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    [line] = out.splitlines()
    assert line.startswith("done") and "cogvideo_outputs/a-quiet-harbour-at-dawn-" in line and ".mp4" in line


@pytest.mark.slow
def test_ctrl_c_stops_waiting_and_says_how_to_resume(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emu = emulator_factory(seconds=4)
    (tmp_path / "p.txt").write_text("\n".join(f"a kite over the dunes, take {i}" for i in range(3)))
    proc = batch(emu, tmp_path, "p.txt", "--out", "runs")
    deadline = time.monotonic() + 30
    while len(emu.stats()["tasks"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "3 of 3 jobs still run on the server" in err and "cogvideo --resume --out runs" in err
    # The hint works: the same jobs finish, none is submitted twice.
    env = {**os.environ, "ZHIPUAI_API_KEY": "sk-batch", "ZHIPUAI_BASE_URL": emu.base_url}
    done = subprocess.run(
        [sys.executable, "-m", "cogvideo_nb", "--resume", "--out", "runs", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Counter(json.loads(line)["status"] for line in done.stdout.splitlines()) == {"succeeded": 3}
    assert len(emu.stats()["tasks"]) == 3


def test_a_paid_batch_is_refused_without_yes_and_sends_nothing(emulator: Emulator, tmp_path: Path) -> None:
    """The cost guard: paid lines are counted before the engine starts; --yes lets them go."""
    (tmp_path / "p.txt").write_text(
        'a fox\n{"prompt": "a fox", "model": "cogvideox-3"}\n{"prompt": "a cat", "model": "cogvideox-3"}\n'
    )
    proc = batch(emulator, tmp_path, "p.txt")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "this would start 2 paid jobs (2 x cogvideox-3" in err and "add --yes" in err
    assert emulator.stats()["requests"]["submit"] == 0 and emulator.stats()["tasks"] == []
    # the single-prompt form asks too
    env = {**os.environ, "ZHIPUAI_API_KEY": "sk-batch", "ZHIPUAI_BASE_URL": emulator.base_url}
    one = subprocess.run(
        [sys.executable, "-m", "cogvideo_nb", "a fox", "--model", "cogvideox-2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert one.returncode == 1 and "1 paid job (1 x cogvideox-2" in one.stderr
    assert emulator.stats()["tasks"] == []
    proc = batch(emulator, tmp_path, "p.txt", "--yes")
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert len(emulator.stats()["tasks"]) == 3


# -- hostile batch files: one line of error naming file:line, exit 1, nothing sent ---------------------
@pytest.fixture
def cli(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str]]:
    """``main(["batch", ...])`` in-process against the emulator; every call checks nothing was sent."""
    monkeypatch.setenv("ZHIPUAI_API_KEY", "sk-batch")
    monkeypatch.setenv("ZHIPUAI_BASE_URL", emulator.base_url)
    monkeypatch.chdir(tmp_path)

    def run(source: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        code = main(["batch", source, "--out", str(tmp_path / "out"), "--yes"])
        err = capsys.readouterr().err
        assert emulator.stats()["requests"]["submit"] == 0 and emulator.stats()["tasks"] == []
        assert not (tmp_path / "out").exists(), "the engine must not even start"
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        return code, err

    return run


def stdin_bytes(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Standard input as Python gives it under a UTF-8/C locale: undecodable bytes surrogate-escaped."""
    monkeypatch.setattr(
        sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")
    )


def test_an_undecodable_byte_on_stdin_names_its_line_and_sends_nothing(
    cli: Callable[..., tuple[int, str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin_bytes(monkeypatch, "a red fox in the snow\na héron \xff at dawn\n".encode("latin-1"))
    code, err = cli("-", capsys)
    assert code == 1
    # a Latin-1 é is the first undecodable byte; the column counts characters
    assert err.startswith("error: <stdin>:2: not valid UTF-8 (byte 0xe9 at column 4)"), err
    stdin_bytes(monkeypatch, "a red fox\r\na héron ".encode() + b"\xff at dawn\r\n")
    code, err = cli("-", capsys)
    assert code == 1
    assert err.startswith("error: <stdin>:2: not valid UTF-8 (byte 0xff at column 9)"), err


def test_a_lone_surrogate_in_text_stdin_or_a_json_escape_is_refused(
    cli: Callable[..., tuple[int, str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A stdin without bytes underneath (a notebook, a StringIO): build_request refuses the text.
    monkeypatch.setattr(sys, "stdin", io.StringIO("a red fox\na heron \udcff at dawn\n"))
    code, err = cli("-", capsys)
    assert code == 1 and err.startswith("error: <stdin>:2: prompt holds U+DCFF at character 9"), err
    # Strict UTF-8 on disk, but a JSON \\u escape can still spell a lone surrogate.
    Path("p.txt").write_text('a fox\n{"prompt": "a cat", "user_id": "student-\\udcff"}\n')
    code, err = cli("p.txt", capsys)
    assert code == 1 and err.startswith("error: p.txt:2: user_id holds U+DCFF"), err


def test_a_bom_before_a_json_line_is_not_part_of_the_prompt(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_bytes(
        b'\xef\xbb\xbf{"prompt": "a paper boat", "duration": 10}\n'  # a BOM at the file's start
        b"\xef\xbb\xbf# a comment pasted from another file\n"
        b'\xef\xbb\xbf{"prompt": "a kite", "fps": 60}\n'  # and at a line's start (files joined)
    )
    lines, source = read_source(str(path))
    first, second = [p.request for p in read_batch(lines, {}, source)]
    assert (first.prompt, first.duration) == ("a paper boat", 10)
    assert (second.prompt, second.fps) == ("a kite", 60)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"prompt": "a cat", "model": "vidu2-reference", "references": 5}',
         "references must be a list of images, not int"),
        ('{"prompt": "a cat", "model": "vidu2-reference", "references": "abc"}',
         "references must be a list of images, not str"),
        ('{"prompt": "a cat", "model": 0}', "model must be a model name (text), not int"),
        ('{"prompt": "a cat", "model": false}', "model must be a model name (text), not bool"),
        ('{"prompt": "a cat", "fps": ' + "9" * 5000 + "}",
         "not valid JSON (a number of more than 4300 digits)"),
        ('{"prompt": ' + "[" * 100_000, "not valid JSON (nested too deeply)"),
        ('{"prompt": "a cat", "fps": 1e999}', "fps must be a whole number, not inf"),
    ],
    ids=["references 5", "references 'abc'", "model 0", "model false", "5000-digit fps", "deep nesting",
         "fps 1e999"],
)  # fmt: skip
def test_a_hostile_json_line_is_one_line_naming_it(
    cli: Callable[..., tuple[int, str]], capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    Path("p.txt").write_text(f"a red fox\n{line}\n")
    code, err = cli("p.txt", capsys)
    assert code == 1 and err.startswith(f"error: p.txt:2: {message}"), err[:300]


def test_an_endless_or_huge_batch_file_is_refused_by_size(
    cli: Callable[..., tuple[int, str]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (10 * 2**20 + 1))
    code, err = cli(str(big), capsys)
    assert code == 1 and err.startswith(f"error: {big} is over 10 MiB"), err
    # Reached only once the cap above holds: without it this would read until memory ran out.
    if Path("/dev/zero").exists():
        code, err = cli("/dev/zero", capsys)
        assert code == 1 and err.startswith("error: /dev/zero is over 10 MiB"), err
