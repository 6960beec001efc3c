"""The poll policy on a fake clock: fewer requests and sooner detection than fixed 10 s polling."""

from __future__ import annotations

import itertools
import random
import statistics

import pytest

from cogvideo_nb._polling import DurationModel, PollPolicy, duration_key, simulate, simulate_fixed

KEY = duration_key(
    {"model": "cogvideox-flash", "size": "1920x1080", "fps": 30, "duration": 5, "quality": "speed"}
)


def durations(n: int, median: float, sigma: float, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [median * rng.lognormvariate(0, sigma) for _ in range(n)]


def run(policy: PollPolicy, ds: list[float], learn: bool = True) -> tuple[float, float]:
    rng = random.Random(3)
    polls, lags = [], []
    for d in ds:
        p, lag = simulate(policy, KEY, d, rng)
        polls.append(p)
        lags.append(lag)
        if learn:
            policy.model.add(KEY, d)
    return statistics.mean(polls), statistics.median(lags)


def baseline(ds: list[float]) -> tuple[float, float]:
    res = [simulate_fixed(10, d) for d in ds]
    return statistics.mean(p for p, _ in res), statistics.median(lag for _, lag in res)


def test_no_history_starts_fast_and_backs_off_to_the_cap() -> None:
    policy = PollPolicy(first_poll=2, max_interval=15, jitter=0)
    t, times = 0.0, []
    for _ in range(12):
        t += policy.next_delay(KEY, t)
        times.append(round(t, 2))
    assert times[:5] == [2, 4, 6, 9, 13.5]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) == pytest.approx(15) and gaps[-1] == pytest.approx(15)


@pytest.mark.parametrize(
    ("median", "polls_ratio", "lag_ratio"), [(60.0, 0.9, 0.3), (120.0, 0.6, 0.35), (240.0, 0.45, 0.5)]
)
def test_learned_policy_beats_fixed_polling(median: float, polls_ratio: float, lag_ratio: float) -> None:
    """Durations of one kind of job vary by ~5% (GPU time for fixed parameters is steady)."""
    ds = durations(60, median, 0.05)
    ours_polls, ours_lag = run(PollPolicy(), ds)
    base_polls, base_lag = baseline(ds)
    assert ours_polls < polls_ratio * base_polls, (ours_polls, base_polls)
    assert ours_lag < lag_ratio * base_lag, (ours_lag, base_lag)


@pytest.mark.parametrize("median", [120.0, 240.0])
def test_wide_spread_still_beats_fixed(median: float) -> None:
    ds = durations(60, median, 0.3)
    ours_polls, ours_lag = run(PollPolicy(), ds)
    base_polls, base_lag = baseline(ds)
    assert ours_polls < base_polls and ours_lag < 0.9 * base_lag, (ours_polls, base_polls, ours_lag, base_lag)


def test_first_poll_waits_for_the_earliest_likely_finish() -> None:
    policy = PollPolicy(jitter=0)
    for d in durations(20, 100, 0.05):
        policy.model.add(KEY, d)
    first = policy.next_delay(KEY, 0)
    assert 85 < first < 100


def test_overrun_backs_off_but_stays_capped() -> None:
    policy = PollPolicy(jitter=0, max_interval=15)
    for d in durations(20, 100, 0.05):
        policy.model.add(KEY, d)
    delays = [policy.next_delay(KEY, t) for t in (130, 160, 250, 1000)]
    assert delays == sorted(delays) and delays[-1] == 15 and delays[0] >= 1


def test_jitter_spreads_jobs_started_together() -> None:
    policy = PollPolicy()
    rng = random.Random(0)
    assert len({round(policy.next_delay(KEY, 0, rng), 6) for _ in range(10)}) == 10


def test_model_falls_back_to_same_model_then_anything() -> None:
    m = DurationModel()
    m.add(KEY, 50)
    other_size = KEY.replace("1920x1080", "720x480")
    other_model = KEY.replace("cogvideox-flash", "cogvideox-3")
    assert (
        m.estimate(KEY) is not None
        and m.estimate(other_size) is not None
        and m.estimate(other_model) is not None
    )
    assert m.estimate(other_size)[1] > m.estimate(KEY)[1]  # type: ignore[index]  # coarser key, wider spread
    assert DurationModel().estimate(KEY) is None


def test_model_ignores_nonsense_and_keeps_recent() -> None:
    m = DurationModel(keep=5)
    for s in (-1, 0, float("nan"), float("inf")):
        m.add(KEY, s)
    assert m.count(KEY) == 0
    for s in range(1, 20):
        m.add(KEY, float(s))
    assert m.count(KEY) == 5
