"""A plan before paying: --dry-run in every front end shows what would be sent and sends nothing;
its time comes from the folder's own history."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import cogvideo_nb
from cogvideo_nb import PaidJobsError
from cogvideo_nb.__main__ import main
from cogvideo_nb._dryrun import DryRun, planned
from cogvideo_nb._pipeline import plan
from cogvideo_nb.emulator import Emulator

from .conftest import EmulatorFactory

PROMPT = "a {animal} crosses a frozen lake at dawn"


@pytest.fixture
def on_emulator(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("ZHIPUAI_API_KEY", "sk-dry-run-test")
    monkeypatch.setenv("ZHIPUAI_BASE_URL", emulator.base_url)
    monkeypatch.chdir(tmp_path)
    return emulator


def test_every_front_end_shows_the_plan_and_sends_nothing(
    on_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "cogvideo_nb")
    with capture_output() as cell:
        line = "--dry-run --enhance --vary animal=fox,owl --n 2 --model cogvideox-3 --fps 60 --out cell"
        shell.run_cell_magic("cogvideo", line, PROMPT + "\n---\na {animal} <b>lifts</b> off")
    [shown] = [o.data["text/html"] for o in cell.outputs]
    assert shown.count("<tr>") == 1 + 8  # the head, then 2 prompts x 2 animals x 2 runs
    assert "a fox crosses a frozen lake at dawn" in shown and "a owl crosses" in shown  # filled
    assert "&lt;b&gt;lifts&lt;/b&gt;" in shown and "<b>lifts" not in shown  # escaped
    assert "8 paid (8 x cogvideox-3)" in shown and "a dry run: nothing was sent" in shown
    assert "&quot;fps&quot;: 60" in shown and "request_id" not in shown
    assert shown.count("rewritten by the free chat model first (not in a dry run)") == 8

    batch = tmp_path / "p.jsonl"
    batch.write_text(
        json.dumps({"prompt": "a crane in the mist", "model": "cogvideox-3"}) + "\na lone pine\n"
    )
    assert main(["batch", str(batch), "--dry-run", "--out", "batch"]) == 0
    said = capsys.readouterr().out
    assert said.count('"prompt"') == 2 and "1 paid (1 x cogvideox-3)" in said and "nothing was sent" in said
    assert main(["a lone pine", "--translate", "zh", "--dry-run", "--out", "cli"]) == 0
    said = capsys.readouterr().out
    assert "translated into zh by the free chat model first" in said and "all free" in said

    dry = cogvideo_nb.generate_many(["a lone pine", "a crane"], plan=True, output_dir=tmp_path / "py")
    one = cogvideo_nb.generate("a lone pine", plan=True, translate="en", output_dir=tmp_path / "py")
    assert isinstance(dry, DryRun) and len(dry.bodies) == 2 and "2 jobs would be sent" in str(dry)
    assert one.plans[0].translate == "en" and "<table>" in one._repr_html_()
    assert on_emulator.stats()["tasks"] == []  # nothing reached the server, no chat either
    for folder in ("cell", "batch", "cli", "py"):  # no engine: no ledger, no folder
        assert not (tmp_path / folder).exists(), folder


def test_the_cost_guard_points_to_the_plan(on_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["a lone pine", "--model", "cogvideox-3"]) == 1
    assert (
        "add --yes to go ahead, or add --dry-run to see the plan and its time first"
        in capsys.readouterr().err
    )
    with pytest.raises(PaidJobsError, match="or pass plan=True to see the plan"):
        cogvideo_nb.generate_many(["a lone pine"], model="cogvideox-3")


def test_the_estimate_comes_from_the_folders_history(tmp_path: Path) -> None:
    """No history: the time is unknown, said so; a dry run of a folder with history counts its
    jobs (the same parameters first), without opening the ledger for writing."""
    plans = plan(["a fox", "an owl"], {"fps": 60})
    empty = planned(plans, output_dir=tmp_path / "new", concurrency=2)
    assert empty.time.median is None and "expected time: unknown" in str(empty)
    assert not (tmp_path / "new").exists()
    assert "off-peak" not in str(empty)  # CogVideoX has no off-peak price
    vidu = plan(["a fox", "an owl"], {"model": "viduq1-text"})
    assert "2 jobs could run off-peak, cheaper" in str(planned(vidu, output_dir=tmp_path / "v"))
    waiting = plan(["a fox"], {"model": "viduq1-text", "off_peak": True})
    assert "off-peak" not in str(planned(waiting, output_dir=tmp_path / "v"))


@pytest.mark.slow
def test_the_estimate_is_within_a_fifth_of_the_real_makespan_of_a_12_job_grid(
    emulator_factory: EmulatorFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder that has run a few jobs: its dry run of a 12-job grid (four rounds at the
    default concurrency of 3) says how long the grid takes; then the grid runs and is timed.
    Tasks of 3 s, so the server's time, not this machine's load, is most of each wait."""
    emu = emulator_factory(seconds=3.0)
    monkeypatch.setenv("ZHIPUAI_API_KEY", "sk-dry-run-test")
    monkeypatch.setenv("ZHIPUAI_BASE_URL", emu.base_url)
    out = tmp_path / "out"
    warm = cogvideo_nb.generate_many(["a pine", "a crane", "a heron"], output_dir=out, timeout=120)
    assert all(j.status.value == "succeeded" for j in warm)
    grid = [f"a {animal} at dawn" for animal in ("fox", "owl", "hare", "wolf", "deer", "lynx") * 2]
    dry = cogvideo_nb.generate_many(grid, plan=True, output_dir=out)
    assert dry.time.median is not None and all(j.basis == "same parameters" for j in dry.time.jobs)
    began = time.monotonic()
    jobs = cogvideo_nb.generate_many(grid, output_dir=out, timeout=300)
    real = time.monotonic() - began
    assert all(j.status.value == "succeeded" for j in jobs)
    print(f"estimated {dry.time.median:.1f} s (p90 {dry.time.p90:.1f} s), real {real:.1f} s")
    assert abs(dry.time.median - real) <= 0.2 * real, (dry.time.median, real)
