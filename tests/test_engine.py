"""The engine thread and the blocking conveniences scripts use."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from cogvideo_nb import (
    ConfigError,
    JobStatus,
    TaskFailedError,
    ValidationError,
    generate,
    generate_many,
    get_engine,
    submit,
)
from cogvideo_nb.emulator import Emulator

from ._wait import wait_for_status
from .conftest import EmulatorFactory, EngineFactory

# generate() and friends make their engines with get_engine(): those poll fast too.
pytestmark = pytest.mark.usefixtures("fast_default_polls")


def test_generate_blocks_until_files_are_on_disk(engine_opts: dict[str, Any], tmp_path: Path) -> None:
    job = generate("a lantern festival over a river", timeout=30, **engine_opts)
    assert job.status is JobStatus.SUCCEEDED and job.emulated
    assert job.video_path is not None and job.video_path.stat().st_size > 1000
    assert job.video_path.parent == tmp_path / "out"


def test_generate_raises_on_failure(engine_opts: dict[str, Any]) -> None:
    with pytest.raises(TaskFailedError, match="emulated failure requested by #fail"):
        generate("a storm #fail", timeout=30, **engine_opts)


def test_generate_many_checks_every_prompt_before_sending_any(
    emulator: Emulator, engine_opts: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError, match="513 characters"):
        generate_many(["fine", "x" * 513], **engine_opts)
    assert emulator.stats()["tasks"] == []
    jobs = generate_many(["one", "two #fail", "three"], timeout=30, **engine_opts)
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.SUCCEEDED]


def test_get_engine_is_shared_per_settings(engine_opts: dict[str, Any], tmp_path: Path) -> None:
    a = get_engine(**engine_opts)
    assert get_engine(**engine_opts) is a
    assert get_engine(**{**engine_opts, "output_dir": tmp_path / "other"}) is not a


def test_submit_from_many_threads_and_observe_from_the_engine_thread(
    engine_factory: EngineFactory,
) -> None:
    engine = engine_factory()
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


def test_stop_and_retry_through_the_engine(
    emulator_factory: EmulatorFactory, engine_factory: EngineFactory
) -> None:
    emu = emulator_factory(seconds=3)
    engine = engine_factory(emu)
    job = engine.submit("a slow sunrise")
    wait_for_status(job, JobStatus.RUNNING)
    engine.stop(job)
    assert job.wait_done(5) and job.status is JobStatus.DETACHED
    again = engine.retry(job)
    assert again.id != job.id and again.prompt == job.prompt
    engine.close()


def test_generate_and_generate_many_share_one_deadline_and_raise_alike(
    engine_opts: dict[str, Any],
) -> None:
    import time

    from cogvideo_nb import WaitTimeoutError

    # The folder's engine first, so the clock below times the waiting, not an engine starting
    # (which on a busy machine took most of the margin); generate_many() reuses it.
    get_engine(**engine_opts)
    started = time.monotonic()
    with pytest.raises(WaitTimeoutError, match="3 of 3 job"):
        generate_many([f"slow {i} #seconds=3" for i in range(3)], timeout=0.5, **engine_opts)
    assert time.monotonic() - started < 1.5  # one deadline for the batch, not 0.5 s per job
    with pytest.raises(WaitTimeoutError, match="still"):
        generate("slow one #seconds=3", timeout=0.3, **engine_opts)


def test_generate_many_refuses_a_paid_batch_without_yes(
    emulator: Emulator, engine_opts: dict[str, Any]
) -> None:
    from cogvideo_nb import PaidJobsError

    with pytest.raises(PaidJobsError, match="this would start 2 paid jobs"):
        generate_many(["a", "b"], model="cogvideox-3", **engine_opts)
    assert emulator.stats()["tasks"] == [] and emulator.stats()["requests"]["submit"] == 0
    jobs = generate_many(["a", "b"], model="cogvideox-3", yes=True, timeout=30, **engine_opts)
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED] * 2
    assert len(emulator.stats()["tasks"]) == 2


@pytest.mark.parametrize("bad", [{"concurrency": 0}, {"concurrency": -2}, {"timeout": 0}, {"timeout": -5}])
def test_python_refuses_settings_that_could_never_run_or_end(
    emulator: Emulator, engine_opts: dict[str, Any], bad: dict[str, float]
) -> None:
    with pytest.raises(ConfigError, match=next(iter(bad))):
        submit("a fox", **engine_opts, **bad)
    with pytest.raises(ConfigError, match=next(iter(bad))):
        get_engine(**engine_opts, **bad)
    assert emulator.stats()["tasks"] == []
