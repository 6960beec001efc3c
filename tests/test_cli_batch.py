"""``cogvideo batch``: a file of prompts, a line per finished job, honest exit codes, Ctrl+C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import av
import pytest

from cogvideo_nb._cli_batch import read_batch
from cogvideo_nb._errors import ValidationError
from cogvideo_nb.emulator import Emulator

PROMPTS = """\
# a class's prompts
a red fox running through fresh snow

{"prompt": "a paper boat on a pond", "duration": 10, "quality": "quality"}
a lantern in the rain #fail
"""


def batch(emu: Emulator, tmp_path: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ZHIPUAI_API_KEY": "sk-batch",
        "ZHIPUAI_BASE_URL": emu.base_url,
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cogvideo_nb", "batch", *args],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen,
    )  # type: ignore[call-overload]  # fmt: skip


def test_every_line_is_checked_before_anything_is_sent() -> None:
    requests = read_batch(PROMPTS.splitlines(), {"model": "cogvideox-flash"}, "p.txt")
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
def test_batch_prints_a_line_per_job_and_fails_when_one_failed(emulator_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
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
def test_ctrl_c_stops_waiting_and_says_how_to_resume(emulator_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
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
