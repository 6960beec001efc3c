"""Every timing and fault knob does what it says (probability 1.0 for determinism), plus the
prompt markers, env/CLI configuration and the background subprocess's lifecycle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

from cogvideo_nb.emulator import EmulatorConfig, _process, parse_faults, start_background

from ._emu import AUTH, poll, running, submit, wait_done
from .conftest import FAST


def test_p_500_fails_before_any_task_exists() -> None:
    with running(FAST.replace(p_500=1.0)) as emu:
        resp = submit(emu, prompt="x")
        assert resp.status_code == 500 and resp.json()["error"]["code"] == "500"
        assert poll(emu, "any").status_code == 500
        assert emu.stats()["tasks"] == []


@pytest.mark.parametrize(
    ("scale", "header"), [(1.0, "1"), (0.5, "1"), (2.2, "3"), (0.0, "0")]
)  # whole seconds
def test_p_429_sends_scaled_retry_after(scale: float, header: str) -> None:
    with running(FAST.replace(p_429=1.0, time_scale=scale)) as emu:
        resp = submit(emu, prompt="x")
        assert resp.status_code == 429 and resp.json()["error"]["code"] == "1302"
        assert resp.headers["Retry-After"] == header
        assert emu.stats()["tasks"] == []


def test_p_drop_closes_without_answer_and_creates_nothing() -> None:
    with running(FAST.replace(p_drop=1.0)) as emu:
        with pytest.raises(httpx.RemoteProtocolError):
            submit(emu, prompt="x", request_id="r1")
        assert emu.stats()["tasks"] == []
        assert emu.stats()["requests"]["submit"] == 1


def test_p_drop_after_creates_the_task_then_drops_the_duplicate_trap() -> None:
    with running(FAST.replace(p_drop_after=1.0)) as emu:
        for _ in range(3):  # a client retrying with one request_id gets one task
            with pytest.raises(httpx.RemoteProtocolError):
                submit(emu, prompt="x", request_id="same")
        assert len(emu.stats()["tasks"]) == 1
        for _ in range(2):  # without a request_id every retry is a new, paid-for task
            with pytest.raises(httpx.RemoteProtocolError):
                submit(emu, prompt="x")
        assert len(emu.stats()["tasks"]) == 3


def test_p_slow_delays_the_answer() -> None:
    with running(FAST.replace(p_slow=1.0, slow_seconds=0.4)) as emu:
        start = time.monotonic()
        assert submit(emu, prompt="x").status_code == 200
        assert time.monotonic() - start >= 0.4
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{emu.base_url}/async-result/x", headers=AUTH, timeout=0.1)


def test_p_malformed_sends_truncated_json_after_doing_the_work() -> None:
    with running(FAST.replace(p_malformed=1.0)) as emu:
        resp = submit(emu, prompt="x")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/json")
        with pytest.raises(json.JSONDecodeError):
            json.loads(resp.content)
        assert resp.content.startswith(b'{"id": "')
        assert len(emu.stats()["tasks"]) == 1
        # error answers stay well-formed: the fault models a broken success body
        assert submit(emu, model="nope", prompt="x").json()["error"]["code"] == "1211"


def test_p_fail_ends_tasks_in_fail_with_a_reason() -> None:
    with running(FAST.replace(p_fail=1.0)) as emu:
        task_id = submit(emu, prompt="x").json()["id"]
        answer = wait_done(emu, task_id)
        assert answer["task_status"] == "FAIL" and "video_result" not in answer
        assert "fail_reason" not in answer  # the platform documents no reason field
        assert "p_fail" in urllib.parse.unquote(poll(emu, task_id).headers["X-CogVideo-Emulator-Reason"])


def test_fail_marker() -> None:
    with running() as emu:
        task_id = submit(emu, prompt="a cat #fail").json()["id"]
        answer = wait_done(emu, task_id)
        assert set(answer) == {"id", "request_id", "model", "task_status", "created"}
        reason = poll(emu, task_id).headers["X-CogVideo-Emulator-Reason"]
        assert urllib.parse.unquote(reason) == "emulated failure requested by #fail"
        assert emu.stats()["tasks"][0]["status"] == "FAIL"


def test_seconds_marker_sets_exact_processing_time() -> None:
    with running(FAST.replace(seconds=0.05, time_scale=10.0)) as emu:
        # 2 s, not the config's 0.5: long enough that the poll at 0.3 s still lands before it on
        # a busy machine (xdist workers, other jobs).
        task_id = submit(emu, prompt="slow one #seconds=2").json()["id"]
        (task,) = emu.stats()["tasks"]
        assert task["due_at"] - task["created_at"] == pytest.approx(2)
        time.sleep(0.3)
        assert poll(emu, task_id).json()["task_status"] == "PROCESSING"
        assert wait_done(emu, task_id)["task_status"] == "SUCCESS"
        assert time.time() >= task["due_at"]


def test_success_is_never_reported_before_the_files_exist() -> None:
    with running(FAST.replace(seconds=0.0)) as emu:
        task_id = submit(emu, prompt="instant").json()["id"]
        answer = wait_done(emu, task_id)
        assert emu.state_dir is not None
        files = {p.name for p in (emu.state_dir / "files").iterdir()}
        assert {f"{task_id}.mp4", f"{task_id}_cover.png"} <= files
        assert httpx.get(answer["video_result"][0]["url"]).status_code == 200


def durations(config: EmulatorConfig, n: int = 6) -> list[float]:
    with running(config.replace(max_in_flight=n)) as emu:
        for i in range(n):
            submit(emu, prompt=f"t{i}")
        return [t["due_at"] - t["created_at"] for t in emu.stats()["tasks"]]


def test_timing_distributions_are_seeded_and_scaled() -> None:
    logn = EmulatorConfig(seed=42, time_scale=0.01, render_fps=8, duration_scale=0.2)
    first, again = durations(logn), durations(logn)
    assert first == pytest.approx(again)  # same seed, same times
    assert len(set(first)) > 1  # a distribution, not a constant
    assert 0.01 < sorted(first)[len(first) // 2] < 0.1  # median ~4 s x 0.01
    uni = durations(logn.replace(timing="uniform", min_seconds=2, max_seconds=3, seed=7))
    assert all(0.02 <= d <= 0.03 for d in uni)
    assert durations(logn.replace(seconds=5.0)) == pytest.approx([0.05] * 6)


def test_config_from_env_and_fault_strings() -> None:
    env = {
        "COGVIDEO_EMULATOR_SECONDS": "0.5",
        "COGVIDEO_EMULATOR_TIME_SCALE": "0.1",
        "COGVIDEO_EMULATOR_SEED": "3",
        "COGVIDEO_EMULATOR_FAULTS": "p_500=0.1, p_429=0.05,slow_seconds=2",
        "COGVIDEO_EMULATOR_KEYS": "a.b,c.d",
        "COGVIDEO_EMULATOR_MAX_IN_FLIGHT": "2",
        "COGVIDEO_EMULATOR_RENDER_FPS": "none",
    }
    cfg = EmulatorConfig.from_env(env)
    assert (cfg.seconds, cfg.time_scale, cfg.seed, cfg.max_in_flight) == (0.5, 0.1, 3, 2)
    assert (cfg.p_500, cfg.p_429, cfg.slow_seconds) == (0.1, 0.05, 2.0)
    assert cfg.accepted_keys == frozenset({"a.b", "c.d"}) and cfg.render_fps is None
    assert EmulatorConfig.from_env(cfg.to_env()) == cfg
    with pytest.raises(ValueError, match="bad fault"):
        parse_faults("p_boom=1")
    with pytest.raises(ValueError, match="probability"):
        EmulatorConfig(p_500=1.5)


def test_background_process_takes_env_config_and_stops(tmp_path: Path) -> None:
    bg = start_background(tmp_path, config=FAST.replace(p_500=1.0))
    try:
        assert bg.base_url.startswith("http://127.0.0.1:") and bg.base_url.endswith("/api/paas/v4")
        resp = httpx.post(bg.base_url + "/videos/generations", json={"model": "x"}, headers=AUTH)
        assert resp.status_code == 500 and resp.headers["X-CogVideo-Emulator"] == "1"
    finally:
        bg.stop()
    assert bg.proc.returncode is not None
    with pytest.raises(httpx.ConnectError):
        httpx.get(bg.base_url.replace("/api/paas/v4", "/_emulator/health"))


def test_ensure_background_shares_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGVIDEO_EMULATOR_STATE", str(tmp_path))
    monkeypatch.setenv("COGVIDEO_EMULATOR_SECONDS", "0.1")
    monkeypatch.setattr(_process, "_shared", None)
    url = _process.ensure_background()
    try:
        assert _process.ensure_background() == url
        sub = httpx.post(url + "/videos/generations", json={"model": "cogvideox-flash",
                         "prompt": "bg"}, headers=AUTH)  # fmt: skip
        assert sub.status_code == 200
        assert (tmp_path / "tasks" / f"{sub.json()['id']}.json").is_file()
    finally:
        assert _process._shared is not None
        _process._shared.stop()


def test_an_emulated_engine_spawns_the_emulator_when_it_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fork happens in the caller's thread at engine creation, never during the first job
    on the engine loop; the first request only connects to the child already started."""
    from cogvideo_nb import Engine, resolve_settings

    for name in ("ZHIPUAI_API_KEY", "ZAI_API_KEY", "ZHIPUAI_BASE_URL", "ZAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COGVIDEO_EMULATOR_STATE", str(tmp_path / "emu"))
    monkeypatch.setattr(_process, "_shared", None)
    monkeypatch.setattr(_process, "_pending", None)
    engine = Engine(resolve_settings(output_dir=tmp_path / "out"))
    try:
        assert _process._pending is not None, "no emulator was spawned with the engine"
        spawned = _process._pending[0]
        url = _process.ensure_background()
        assert _process._shared is not None and _process._shared.proc is spawned
        assert _process._pending is None
        assert httpx.get(url.replace("/api/paas/v4", "/_emulator/health")).json()["emulated"] is True
    finally:
        engine.close()
        if _process._shared is not None:
            _process._shared.stop()


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and /proc")
def test_child_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from cogvideo_nb.emulator import start_background\n"
        f"bg = start_background({str(tmp_path)!r})\n"
        "print(bg.pid, flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert _pid_alive(child_pid)
        parent.send_signal(signal.SIGKILL)  # no atexit: only the child's own watch can help
        parent.wait(5)
        deadline = time.monotonic() + 5
        while _pid_alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _pid_alive(child_pid)
    finally:
        parent.kill()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it has exited all the same
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return True


@pytest.mark.parametrize("bad", [["--faults", "p_boom=1"], ["--faults", "p_500=2"]])
def test_cli_rejects_bad_knobs(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from cogvideo_nb.emulator.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(bad)
    assert exc.value.code == 2
    assert "p_" in capsys.readouterr().err
