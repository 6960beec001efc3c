"""One pipeline behind every front end: the same input makes the same requests everywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import cogvideo_nb
from cogvideo_nb import PaidJobsError, ValidationError
from cogvideo_nb.__main__ import main
from cogvideo_nb._pipeline import plan
from cogvideo_nb.emulator import Emulator

PROMPT = "a heron lifts off a misty pond"
# Each option as a person gives it in each front end; the same job in all four.
OPTIONS: dict[str, Any] = {
    "size": "1920x1080",
    "fps": 60,
    "quality": "quality",
    "with_audio": True,
    "duration": 10,
}
FLAGS = ["--size", "1920x1080", "--fps", "60", "--quality", "quality", "--audio", "--duration", "10"]


def _sent(emulator: Emulator) -> list[dict[str, object]]:
    """What the server was asked, without the ids that differ by design."""
    return [{"model": t["model"], "prompt": t["prompt"], **t["params"]} for t in emulator.stats()["tasks"]]


def test_cell_cli_batch_and_python_send_the_same_request(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZHIPUAI_API_KEY", "sk-pipeline-test")
    monkeypatch.setenv("ZHIPUAI_BASE_URL", emulator.base_url)
    monkeypatch.chdir(tmp_path)
    seen: dict[str, list[dict[str, object]]] = {}

    def took(front: str) -> None:
        before = sum(len(v) for v in seen.values())
        seen[front] = _sent(emulator)[before:]

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "cogvideo_nb")
    with capture_output():
        shell.run_cell_magic("cogvideo", " ".join([*FLAGS, "--out", "cell", "--wait"]), PROMPT)
    took("cell")
    assert main([PROMPT, *FLAGS, "--out", "cli", "--json"]) == 0
    took("cli")
    batch = tmp_path / "prompts.jsonl"
    batch.write_text(json.dumps({"prompt": PROMPT, **OPTIONS}) + "\n", encoding="utf-8")
    assert main(["batch", str(batch), "--out", "batch", "--json"]) == 0
    took("batch")
    jobs = cogvideo_nb.generate_many([PROMPT], output_dir=tmp_path / "py", timeout=60, **OPTIONS)
    assert [j.status.value for j in jobs] == ["succeeded"]
    took("generate_many")
    [cell] = seen["cell"]
    assert cell["prompt"] == PROMPT and (cell["size"], cell["fps"], cell["with_audio"]) == (
        "1920x1080",
        60,
        True,
    )
    assert seen == {front: [cell] for front in seen}, seen


@pytest.mark.parametrize("front", ["cli", "batch", "generate_many"])
def test_every_front_end_refuses_an_unconfirmed_paid_job_before_sending(
    front: str,
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ZHIPUAI_API_KEY", "sk-pipeline-test")
    monkeypatch.setenv("ZHIPUAI_BASE_URL", emulator.base_url)
    monkeypatch.chdir(tmp_path)
    if front == "generate_many":
        with pytest.raises(PaidJobsError, match="pass yes=True"):
            cogvideo_nb.generate_many([PROMPT], model="cogvideox-3", output_dir=tmp_path / "o")
    else:
        batch = tmp_path / "p.txt"
        batch.write_text(PROMPT + "\n", encoding="utf-8")
        argv = [PROMPT] if front == "cli" else ["batch", str(batch)]
        assert main([*argv, "--model", "cogvideox-3", "--out", "o"]) == 1
        assert "add --yes" in capsys.readouterr().err
    assert emulator.stats()["tasks"] == []
    assert not (tmp_path / "o" / "ledger.sqlite").exists()  # refused before the engine was made


def test_plan_expands_vary_and_repeats_with_their_own_request_ids() -> None:
    plans = plan(
        ["a {animal} at dawn"],
        {"fps": 60},
        vary=[("animal", ["fox", "owl"]), ("quality", ["speed", "quality"])],
        n=2,
    )
    assert [p.request.prompt for p in plans] == ["a fox at dawn"] * 4 + ["a owl at dawn"] * 4
    assert [p.request.quality for p in plans[:4]] == ["speed", "speed", "quality", "quality"]
    assert plans[0].label == "animal=fox, quality=speed, run 1/2"
    assert len({p.request.request_id for p in plans}) == 8 and {p.request.fps for p in plans} == {60}
    with pytest.raises(ValidationError, match="prompt 2: "):
        plan(["fine", "x" * 600])
    with pytest.raises(ValidationError, match="--vary colour: not a parameter"):
        plan(["a fox"], vary=[("colour", ["red", "blue"])])
