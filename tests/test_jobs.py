"""The job state machine: closed states, explicit moves, observers, persistence first."""

from __future__ import annotations

import pytest

from cogvideo_nb import NetworkError, build_request
from cogvideo_nb._jobs import TERMINAL, TRANSITIONS, IllegalTransition, Job, JobStatus

S = JobStatus


def job() -> Job:
    return Job(request=build_request("a lighthouse in a storm"))


def test_terminal_set_and_every_state_has_a_rule() -> None:
    assert {s for s in S if s.terminal} == {S.SUCCEEDED, S.FAILED, S.DETACHED} == TERMINAL
    assert set(TRANSITIONS) == set(S)
    assert TRANSITIONS[S.SUCCEEDED] == TRANSITIONS[S.FAILED] == frozenset()


def test_happy_path_moves() -> None:
    j = job()
    for s in (S.SUBMITTING, S.RUNNING, S.DOWNLOADING, S.SUCCEEDED):
        j.move(s)
    assert j.done and j.wait_done(0) and j.finished_at is not None


@pytest.mark.parametrize(
    ("start", "bad"),
    [
        (S.QUEUED, S.SUCCEEDED),
        (S.QUEUED, S.DOWNLOADING),
        (S.RUNNING, S.QUEUED),
        (S.SUCCEEDED, S.RUNNING),
        (S.FAILED, S.QUEUED),
    ],
)
def test_illegal_moves_raise(start: JobStatus, bad: JobStatus) -> None:
    j = job()
    j.status = start
    with pytest.raises(IllegalTransition, match=f"{start.value} -> {bad.value}"):
        j.move(bad)


def test_detached_can_be_picked_up_again() -> None:
    j = job()
    j.move(S.SUBMITTING)
    j.move(S.RUNNING, task_id="t1")
    j.move(S.DETACHED, note="stopped waiting")
    assert j.done and j.task_id == "t1"
    j.move(S.RUNNING)
    assert not j.done and not j.wait_done(0) and j.finished_at is None


def test_observers_see_each_move_and_can_unsubscribe() -> None:
    j, seen = job(), []
    off = j.subscribe(lambda x: seen.append(x.status))
    j.move(S.SUBMITTING)
    off()
    j.move(S.RUNNING)
    assert seen == [S.SUBMITTING]


def test_persist_runs_before_observers_and_its_failure_stops_the_move_notice() -> None:
    j, order = job(), []
    j.persist = lambda x: order.append(("persist", x.status))
    j.subscribe(lambda x: order.append(("observer", x.status)))
    j.move(S.SUBMITTING)
    assert order == [("persist", S.SUBMITTING), ("observer", S.SUBMITTING)]

    def broken(x: Job) -> None:
        raise OSError("disk full")

    j.persist = broken
    with pytest.raises(OSError, match="disk full"):
        j.move(S.RUNNING)


def test_a_broken_observer_does_not_break_the_job(caplog: pytest.LogCaptureFixture) -> None:
    j = job()
    j.subscribe(lambda x: 1 / 0)  # type: ignore[arg-type,func-returns-value]
    j.move(S.SUBMITTING)
    assert j.status is S.SUBMITTING and "observer failed" in caplog.text


def test_fail_keeps_message_and_type() -> None:
    j = job()
    j.fail(NetworkError("no route"))
    assert (j.status, j.error, j.error_type) == (S.FAILED, "no route", "NetworkError")


def test_unknown_field_is_refused() -> None:
    with pytest.raises(AttributeError):
        job().move(S.SUBMITTING, colour="red")


def test_to_dict_summary() -> None:
    j = Job(request=build_request("a fox", fps=60))
    d = j.to_dict()
    assert d["status"] == "queued" and d["fps"] == 60 and d["prompt"] == "a fox" and d["id"] == j.id
