"""The cost guard's arithmetic: paid models counted from the catalogue, the free one never asks."""

from __future__ import annotations

import pytest

from cogvideo_nb import PaidJobsError, ValidationError, build_request
from cogvideo_nb._cost import check_cost, is_paid, paid_summary


def test_only_the_free_model_is_free() -> None:
    assert not is_paid("cogvideox-flash")
    assert is_paid("cogvideox-3") and is_paid("viduq1-text") and is_paid("some-new-model")


def test_paid_jobs_are_counted_and_refused_until_confirmed() -> None:
    reqs = [build_request("a", model="cogvideox-3"), build_request("b"),
            build_request("c", model="cogvideox-3"),
            build_request("d", model="cogvideox-2")]  # fmt: skip
    assert paid_summary(reqs) == (3, "1 x cogvideox-2, 2 x cogvideox-3")
    with pytest.raises(
        PaidJobsError, match=r"3 paid jobs \(1 x cogvideox-2, 2 x cogvideox-3; .*\); add --yes"
    ) as info:
        check_cost(reqs, yes=False, how="add --yes")
    assert info.value.count == 3 and isinstance(info.value, ValidationError)
    assert check_cost(reqs, yes=True) == 3


def test_the_free_model_never_asks() -> None:
    assert check_cost([build_request("x") for _ in range(4)], yes=False) == 0
