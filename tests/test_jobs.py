"""The job state machine: closed states, explicit moves, observers, persistence first."""

from __future__ import annotations

import threading

import pytest

from cogvideo_nb import (
    CogVideoError,
    Job,
    JobStatus,
    TaskFailedError,
    WaitTimeoutError,
    build_request,
)
from cogvideo_nb._jobs import TERMINAL, TRANSITIONS, IllegalTransition, move

S = JobStatus


def job() -> Job:
    return Job(request=build_request("a lighthouse in a storm"))


def test_terminal_set_and_every_state_has_a_rule() -> None:
    assert {s for s in S if s.terminal} == {S.SUCCEEDED, S.FAILED, S.DETACHED, S.UNKNOWN} == TERMINAL
    assert set(TRANSITIONS) == set(S)
    assert TRANSITIONS[S.SUCCEEDED] == frozenset()
    # a failed job only goes back to polling its existing task (resume), never to a new submit
    assert TRANSITIONS[S.FAILED] == frozenset({S.RUNNING})
    # an unknown outcome is never resubmitted except through an explicit resume (same request_id)
    assert S.UNKNOWN in TRANSITIONS[S.SUBMITTING] and S.DETACHED not in TRANSITIONS[S.UNKNOWN]


def test_happy_path_moves() -> None:
    j = job()
    for s in (S.SUBMITTING, S.RUNNING, S.DOWNLOADING, S.SUCCEEDED):
        move(j, s)
    assert j.done and j.wait_done(0) and j.finished_at is not None


@pytest.mark.parametrize(
    ("start", "bad"),
    [
        (S.QUEUED, S.SUCCEEDED),
        (S.QUEUED, S.DOWNLOADING),
        (S.RUNNING, S.QUEUED),
        (S.SUCCEEDED, S.RUNNING),
        (S.FAILED, S.QUEUED),
        (S.FAILED, S.SUBMITTING),
        (S.UNKNOWN, S.RUNNING),
    ],
)
def test_illegal_moves_raise(start: JobStatus, bad: JobStatus) -> None:
    j = job()
    j.status = start
    with pytest.raises(IllegalTransition, match=f"{start.value} -> {bad.value}"):
        move(j, bad)


def test_detached_can_be_picked_up_again() -> None:
    j = job()
    move(j, S.SUBMITTING)
    move(j, S.RUNNING, task_id="t1")
    move(j, S.DETACHED, note="stopped waiting")
    assert j.done and j.task_id == "t1"
    move(j, S.RUNNING)
    assert not j.done and not j.wait_done(0) and j.finished_at is None


def test_observers_see_each_move_and_can_unsubscribe() -> None:
    j, seen = job(), []
    off = j.subscribe(lambda x: seen.append(x.status))
    move(j, S.SUBMITTING)
    off()
    move(j, S.RUNNING)
    assert seen == [S.SUBMITTING]


def test_persist_writes_the_new_state_before_memory_or_observers_change() -> None:
    j, order = job(), []
    j.subscribe(lambda x: order.append(("observer", x.status, j.status)))
    move(j, S.SUBMITTING, write=lambda x: order.append(("persist", x.status, j.status)))
    # the ledger sees the would-be state while memory still holds the old one
    assert order == [("persist", S.SUBMITTING, S.QUEUED), ("observer", S.SUBMITTING, S.SUBMITTING)]


def test_a_failed_write_ends_the_job_visibly_and_wakes_every_waiter() -> None:
    j, seen = job(), []
    move(j, S.SUBMITTING)
    move(j, S.RUNNING, task_id="t-1")

    def broken(x: Job) -> None:
        raise OSError("disk full")

    j.subscribe(lambda x: seen.append(x.status))
    woke = threading.Event()

    def wait_then_wake() -> None:
        if j.wait_done(5):
            woke.set()

    waiters = [threading.Thread(target=wait_then_wake) for _ in range(3)]
    for t in waiters:
        t.start()
    with pytest.raises(OSError, match="disk full"):
        move(j, S.DOWNLOADING, write=broken, video_url="https://cdn.test/v.mp4")
    for t in waiters:
        t.join(5)
    assert woke.is_set() and not any(t.is_alive() for t in waiters)
    assert j.status is S.FAILED and "disk full" in (j.error or "") and seen == [S.FAILED]
    assert j.video_url is None and j.task_id == "t-1"  # memory never got ahead of the ledger
    with pytest.raises(TaskFailedError, match="could not record"):
        j.wait(0)


def test_wait_on_the_handle_raises_by_outcome() -> None:
    j = job()
    with pytest.raises(WaitTimeoutError, match="still queued"):
        j.wait(0.01)
    move(j, S.SUBMITTING)
    move(j, S.UNKNOWN, note="the server may already have this task")
    with pytest.raises(WaitTimeoutError, match="may already have"):
        j.wait(0)
    with pytest.raises(CogVideoError, match="not attached to an engine"):
        j.retry()


def test_a_broken_observer_does_not_break_the_job(caplog: pytest.LogCaptureFixture) -> None:
    j = job()
    j.subscribe(lambda x: 1 / 0)  # type: ignore[arg-type]  # an observer that raises
    move(j, S.SUBMITTING)
    assert j.status is S.SUBMITTING and "observer failed" in caplog.text


def test_unknown_field_is_refused() -> None:
    with pytest.raises(AttributeError):
        move(job(), S.SUBMITTING, colour="red")


def test_to_dict_summary() -> None:
    j = Job(request=build_request("a fox", fps=60))
    d = j.to_dict()
    assert d["status"] == "queued" and d["fps"] == 60 and d["prompt"] == "a fox" and d["id"] == j.id
