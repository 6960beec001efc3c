"""Planning a study without a notebook: repeats, one rewrite per distinct prompt."""

from __future__ import annotations

import pytest

from cogvideo_nb import ValidationError, build_request
from cogvideo_nb._pipeline import Plan, apply_rewrites, repeat, rewrites


def test_repeat_makes_distinct_tasks_of_one_request() -> None:
    plans = repeat([Plan(build_request("a fox", fps=60), "fps=60")], 2)
    assert [p.label for p in plans] == ["fps=60, run 1/2", "fps=60, run 2/2"]
    assert plans[0].request.request_id != plans[1].request.request_id
    assert plans[0].request.to_body().keys() == plans[1].request.to_body().keys()
    assert {p.request.fps for p in plans} == {60}
    with pytest.raises(ValidationError):
        repeat(plans, True)


def test_each_distinct_prompt_is_rewritten_once() -> None:
    calls: list[str] = []

    def rewrite(text: str) -> str:
        calls.append(text)
        return text.upper() + " IN DETAIL."

    plans = repeat([Plan(build_request("a fox"), enhance=True), Plan(build_request("a cat"))], 3)
    out = apply_rewrites(plans, rewrite, lambda text, target: f"[{target}] {text}")
    assert calls == ["a fox"]
    assert [p.request.prompt for p in out] == ["A FOX IN DETAIL."] * 3 + ["a cat"] * 3
    assert [p.original_prompt for p in out] == ["a fox"] * 3 + [None] * 3
    assert rewrites(out) == [("a fox", "A FOX IN DETAIL.", "enhance")]
