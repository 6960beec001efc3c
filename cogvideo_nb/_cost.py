"""The cost guard: a cell, a batch or a CLI run that would start paid jobs says so and waits for a yes.

Repeats (``--n 4``) and grids multiply jobs quickly; on a paid model each one costs money, and
the API has no cancel. So anything that starts several jobs counts the paid ones first and
refuses, sending nothing, until the caller confirms (``--yes`` / ``yes=True``). The free model
never asks. The emulator asks too, on purpose: it behaves as the service will.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ._errors import ValidationError
from ._i18n import N_, t, tn
from ._models import MODELS
from ._request import VideoRequest

__all__ = ["PRICE_HINT", "PaidJobsError", "check_cost", "is_paid", "paid_summary"]

PRICE_HINT = "about 1 yuan or $0.2 a video"


class PaidJobsError(ValidationError):
    """Paid jobs were about to start without a confirmation; nothing was sent."""

    def __init__(self, message: str, *, count: int) -> None:
        super().__init__(message, field="yes")
        self.count = count


def is_paid(model: str) -> bool:
    """True for models the catalogue does not mark free (unknown models count as paid)."""
    spec = MODELS.get(model)
    return spec is None or not spec.free


def paid_summary(requests: Iterable[VideoRequest]) -> tuple[int, str]:
    """How many paid jobs, and which models (``2 x cogvideox-3, 1 x viduq1-text``)."""
    counts = Counter(r.model for r in requests if is_paid(r.model))
    text = ", ".join(f"{n} x {model}" for model, n in sorted(counts.items()))
    return sum(counts.values()), text


def check_cost(
    requests: Iterable[VideoRequest], *, yes: bool, how: str = N_("pass yes=True"), plan: str | None = None
) -> int:
    """Raise :class:`PaidJobsError` when paid jobs would start unconfirmed; returns their number.
    ``how`` says how to confirm, ``plan`` how to see the plan first (``--dry-run``), where the
    caller has one: catalogue messages (``N_``), said in the language in force."""
    count, text = paid_summary(requests)
    if count and not yes:
        said = tn(
            "this would start {n} paid job ({models}; {price}); {how} to go ahead",
            "this would start {n} paid jobs ({models}; {price}); {how} to go ahead",
            count, models=text, price=t(PRICE_HINT), how=t(how),
        )  # fmt: skip
        if plan:
            said = t("{question}, or {plan} to see the plan and its time first", question=said, plan=t(plan))
        raise PaidJobsError(said, count=count)
    return count
