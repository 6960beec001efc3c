"""The headless command: the no-key path starts the bundled emulator by itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

ENV_DROP = ("ZHIPUAI_API_KEY", "ZAI_API_KEY", "ZHIPUAI_BASE_URL", "ZAI_BASE_URL")


def cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROP}
    env.update(COGVIDEO_EMULATOR_SECONDS="0.5", COGVIDEO_EMULATOR_STATE=str(tmp_path / "emu"))
    return subprocess.run(
        [sys.executable, "-m", "cogvideo_nb", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_no_key_runs_on_the_emulator_and_prints_paths(tmp_path: Path) -> None:
    out = cli("a red fox running through fresh snow", "--json", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    assert row["status"] == "succeeded" and row["emulated"] is True
    video = tmp_path / row["video"]
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
    assert (tmp_path / row["cover"]).read_bytes().startswith(b"\x89PNG")


def test_plain_output_labels_emulated_results(tmp_path: Path) -> None:
    out = cli("a paper boat", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("video: cogvideo_outputs/a-paper-boat-") and "[EMULATED]" in out.stdout
    assert "using the bundled emulator" in out.stderr


def test_bad_input_is_refused_before_anything_runs(tmp_path: Path) -> None:
    out = cli("a fox", "--size", "640x480", tmp_path=tmp_path)
    assert out.returncode == 1
    assert "error: size '640x480' is not allowed for cogvideox-flash" in out.stderr
    assert not (tmp_path / "cogvideo_outputs").exists() and not (tmp_path / "emu").exists()


def test_no_prompt_explains_itself(tmp_path: Path) -> None:
    out = cli(tmp_path=tmp_path)
    assert out.returncode == 2 and "give a prompt" in out.stderr


def test_flags_come_from_the_catalogue() -> None:
    from cogvideo_nb.__main__ import _parser

    args = _parser().parse_args(
        ["x", "--model", "vidu2-reference", "--reference", "a.png", "--reference", "b.png",
         "--aspect-ratio", "1:1", "--no-watermark", "--off-peak", "--duration", "4"]
    )  # fmt: skip
    assert args.reference == ["a.png", "b.png"] and args.aspect_ratio == "1:1"
    assert (args.watermark_enabled, args.off_peak, args.duration, args.with_audio) == (False, True, 4, None)
    assert _parser().parse_args(["x", "--last-frame", "z.png", "--audio"]).with_audio is True


def test_a_concurrency_below_one_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to be accepted: the job stayed queued forever, and so did every later one."""
    from cogvideo_nb.__main__ import main

    batch = tmp_path / "prompts.txt"
    batch.write_text("a fox\n", "utf-8")
    for argv in (["a fox", "--concurrency", "0"], ["batch", str(batch), "--concurrency", "-2"]):
        out = tmp_path / "out"
        assert main([*argv, "--out", str(out)]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: bad value") and "concurrency" in err and "\n" not in err
        assert not (out / "ledger.sqlite").exists()  # no engine was made


def test_history_is_a_table_for_people_and_json_lines_with_json(tmp_path: Path) -> None:
    assert cli("a quiet harbour at dawn", "--json", tmp_path=tmp_path).returncode == 0
    table = cli("--history", tmp_path=tmp_path)
    assert table.returncode == 0, table.stderr
    [line] = table.stdout.splitlines()
    assert "succeeded" in line and "a quiet harbour at dawn" in line and not line.startswith("{")
    [row] = map(json.loads, cli("--history", "--json", tmp_path=tmp_path).stdout.splitlines())
    assert line.startswith(row["id"][-8:]) and row["status"] == "succeeded"
