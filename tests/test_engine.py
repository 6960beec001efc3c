"""The engine thread and the blocking conveniences scripts use."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cogvideo_nb import (
    ConfigError,
    Engine,
    TaskFailedError,
    ValidationError,
    generate,
    generate_many,
    get_engine,
    submit,
)
from cogvideo_nb._jobs import JobStatus
from cogvideo_nb._polling import PollPolicy
from cogvideo_nb.emulator import Emulator

from ._wait import wait_for_status

FAST_POLL = PollPolicy(min_interval=0.05, first_poll=0.1, max_interval=0.5)


def opts(emu: Emulator, tmp_path: Path) -> dict[str, object]:
    return {"api_key": "sk-test", "base_url": emu.base_url, "output_dir": tmp_path / "out"}


def test_generate_blocks_until_files_are_on_disk(emulator: Emulator, tmp_path: Path) -> None:
    job = generate("a lantern festival over a river", timeout=30, **opts(emulator, tmp_path))  # type: ignore[arg-type]
    assert job.status is JobStatus.SUCCEEDED and job.emulated
    assert job.video_path is not None and job.video_path.stat().st_size > 1000
    assert job.video_path.parent == tmp_path / "out"


def test_generate_raises_on_failure(emulator: Emulator, tmp_path: Path) -> None:
    with pytest.raises(TaskFailedError, match="emulated failure requested by #fail"):
        generate("a storm #fail", timeout=30, **opts(emulator, tmp_path))  # type: ignore[arg-type]


def test_generate_many_checks_every_prompt_before_sending_any(emulator: Emulator, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="513 characters"):
        generate_many(["fine", "x" * 513], **opts(emulator, tmp_path))  # type: ignore[arg-type]
    assert emulator.stats()["tasks"] == []
    jobs = generate_many(["one", "two #fail", "three"], timeout=30, **opts(emulator, tmp_path))  # type: ignore[arg-type]
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.SUCCEEDED]


def test_get_engine_is_shared_per_settings(emulator: Emulator, tmp_path: Path) -> None:
    a = get_engine(**opts(emulator, tmp_path))  # type: ignore[arg-type]
    assert get_engine(**opts(emulator, tmp_path)) is a  # type: ignore[arg-type]
    assert get_engine(**{**opts(emulator, tmp_path), "output_dir": tmp_path / "other"}) is not a  # type: ignore[arg-type]


def test_submit_from_many_threads_and_observe_from_the_engine_thread(
    emulator: Emulator, tmp_path: Path
) -> None:
    from cogvideo_nb._config import resolve_settings

    engine = Engine(resolve_settings(**opts(emulator, tmp_path)), policy=FAST_POLL, submit_gap=0)  # type: ignore[arg-type]
    seen_threads: set[str] = set()
    jobs = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        job = engine.submit(f"kite {i}")
        job.subscribe(lambda j: seen_threads.add(threading.current_thread().name))
        with lock:
            jobs.append(job)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.wait(jobs, timeout=30)
    assert all(j.status is JobStatus.SUCCEEDED for j in jobs)
    assert seen_threads == {"cogvideo-engine"}
    assert len(engine.history()) == 4 and engine.find(jobs[0].id[:12]) is jobs[0]
    engine.close()


def test_stop_and_retry_through_the_engine(emulator_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cogvideo_nb._config import resolve_settings

    emu = emulator_factory(seconds=3)
    engine = Engine(resolve_settings(**opts(emu, tmp_path)), policy=FAST_POLL, submit_gap=0)  # type: ignore[arg-type]
    job = engine.submit("a slow sunrise")
    wait_for_status(job, JobStatus.RUNNING)
    engine.stop(job)
    assert job.wait_done(5) and job.status is JobStatus.DETACHED
    again = engine.retry(job)
    assert again.id != job.id and again.prompt == job.prompt
    engine.close()


def test_generate_and_generate_many_share_one_deadline_and_raise_alike(
    emulator: Emulator, tmp_path: Path
) -> None:
    import time

    from cogvideo_nb import WaitTimeoutError

    started = time.monotonic()
    with pytest.raises(WaitTimeoutError, match="3 of 3 job"):
        generate_many([f"slow {i} #seconds=3" for i in range(3)], timeout=0.5, **opts(emulator, tmp_path))  # type: ignore[arg-type]
    assert time.monotonic() - started < 1.5  # one deadline for the batch, not 0.5 s per job
    with pytest.raises(WaitTimeoutError, match="still"):
        generate("slow one #seconds=3", timeout=0.3, **opts(emulator, tmp_path))  # type: ignore[arg-type]


def test_generate_many_refuses_a_paid_batch_without_yes(emulator: Emulator, tmp_path: Path) -> None:
    from cogvideo_nb import PaidJobsError

    with pytest.raises(PaidJobsError, match="this would start 2 paid jobs"):
        generate_many(["a", "b"], model="cogvideox-3", **opts(emulator, tmp_path))  # type: ignore[arg-type]
    assert emulator.stats()["tasks"] == [] and emulator.stats()["requests"]["submit"] == 0
    jobs = generate_many(["a", "b"], model="cogvideox-3", yes=True, timeout=30, **opts(emulator, tmp_path))  # type: ignore[arg-type]
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED] * 2
    assert len(emulator.stats()["tasks"]) == 2


@pytest.mark.parametrize("bad", [{"concurrency": 0}, {"concurrency": -2}, {"timeout": 0}, {"timeout": -5}])
def test_python_refuses_settings_that_could_never_run_or_end(
    emulator: Emulator, tmp_path: Path, bad: dict[str, float]
) -> None:
    with pytest.raises(ConfigError, match=next(iter(bad))):
        submit("a fox", **opts(emulator, tmp_path), **bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=next(iter(bad))):
        get_engine(**opts(emulator, tmp_path), **bad)  # type: ignore[arg-type]
    assert emulator.stats()["tasks"] == []
