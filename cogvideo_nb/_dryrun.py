"""A plan before paying: every job exactly as it would be sent, what it costs, how long it takes.

``--dry-run`` (the cell, ``cogvideo``, ``cogvideo batch``) and ``plan=True`` (Python) stop the
one pipeline after planning and checking: the same plans a real run would send (variables,
``---``, ``--vary``, ``--n`` applied), so what is shown is what would go, and nothing goes: no
engine, no emulator, no ledger row, no chat request (a prompt to be rewritten is marked). The
time comes from this folder's own history (``_estimate``), read without opening the ledger.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._config import resolve_settings
from ._cost import is_paid, paid_summary
from ._estimate import BEIJING, PlanTime, estimate
from ._i18n import N_, t, tn
from ._ledger import waits_in
from ._models import MODELS
from ._pipeline import Plan
from ._polling import duration_key

__all__ = ["DryRun", "dry_run", "dry_run_html", "dry_run_text", "planned"]

_IMAGE_SHOWN = 48  # characters of an image URL shown (a data: URL is megabytes)


@dataclass(frozen=True)
class DryRun:
    """What a run would do: the plans, their wire bodies, the paid count, the expected time."""

    plans: list[Plan]
    bodies: list[dict[str, Any]]
    paid: int
    paid_models: str
    time: PlanTime
    folder: Path

    def __str__(self) -> str:
        return dry_run_text(self)

    def _repr_html_(self) -> str:
        return dry_run_html(self)


def _shown_body(plan: Plan) -> dict[str, Any]:
    body = plan.request.to_body()
    del body["request_id"]  # new for each run: not what a person compares
    images = body.get("image_url")
    if images is not None:
        cut = [
            u if len(u) <= _IMAGE_SHOWN else u[:_IMAGE_SHOWN] + "…"
            for u in ([images] if isinstance(images, str) else images)
        ]
        body["image_url"] = cut[0] if isinstance(images, str) else cut
    return body


def dry_run(
    plans: Sequence[Plan], folder: str | Path, *, concurrency: int, start: dt.datetime | None = None
) -> DryRun:
    """The plan for ``plans`` run from ``folder`` (its ledger's history) at ``concurrency``."""
    folder = Path(folder)
    count, models = paid_summary([p.request for p in plans])
    time = estimate(
        [duration_key(p.request.params()) for p in plans],
        [p.request.model for p in plans],
        waits_in(folder / "ledger.sqlite"),
        concurrency=concurrency,
        start=start,
    )
    return DryRun(list(plans), [_shown_body(p) for p in plans], count, models, time, folder)


def planned(plans: Sequence[Plan], **settings: Any) -> DryRun:
    """The dry run of ``plans`` with the settings a real run would use (``output_dir``,
    ``concurrency``: argument > %config > environment > default), and no engine."""
    chosen = resolve_settings(**{k: v for k, v in settings.items() if v is not None})
    return dry_run(plans, chosen.output_dir, concurrency=chosen.concurrency)


def _seconds(value: float | None) -> str:
    if value is None:
        return t("unknown (no finished job here yet)")
    minutes, seconds = divmod(round(value), 60)
    return t("{m} min {s} s", m=minutes, s=seconds) if minutes else t("{s} s", s=seconds)


def _lines(run: DryRun) -> list[str]:
    """The summary lines both views share: jobs and cost, time, busy hours, nothing sent."""
    n = len(run.plans)
    said = [tn("{n} job would be sent", "{n} jobs would be sent", n)]
    if run.paid:
        said.append(tn("{n} paid ({models})", "{n} paid ({models})", run.paid, models=run.paid_models))
    else:
        said.append(t("all free"))
    time = run.time
    if time.median is not None:
        said.append(t("expected time to finish all: median {median}, 90th percentile {p90} (concurrency {c})",
                      median=_seconds(time.median), p90=_seconds(time.p90), c=time.concurrency))  # fmt: skip
    else:
        said.append(t("expected time: unknown, no finished job in {folder} yet", folder=run.folder))
    if time.busy is not None:
        at = time.busy.astimezone(BEIJING).strftime("%H:%M")
        said.append(t("it would run into the platform's busy hours (15:00-18:00 Beijing time) from {at}: "
                      "throttling tightens then", at=at))  # fmt: skip
    waits = [p for p in run.plans if MODELS[p.request.model].takes("off_peak") and not p.request.off_peak]
    if waits:  # the platform prices Vidu's off-peak runs lower: a plan that can wait is cheaper
        said.append(tn("{n} job could run off-peak, cheaper (--off-peak, Vidu models)",
                       "{n} jobs could run off-peak, cheaper (--off-peak, Vidu models)",
                       len(waits)))  # fmt: skip
    said.append(t("a dry run: nothing was sent"))
    return said


def _job_note(plan: Plan, body: dict[str, Any], index: int, run: DryRun) -> str:
    job = run.time.jobs[index]
    took = (
        t("~{median} (90%: {p90}; {basis}, {n} before)", median=_seconds(job.median),
          p90=_seconds(job.p90), basis=t(job.basis), n=job.samples)
        if job.median is not None else t("no history")
    )  # fmt: skip
    marks = [t("paid") if is_paid(plan.request.model) else t("free"), took]
    if plan.enhance:
        marks.append(t("the prompt is rewritten by the free chat model first (not in a dry run)"))
    if plan.translate:
        said = N_("the prompt is translated into {language} by the free chat model first (not in a dry run)")
        marks.append(t(said, language=plan.translate))
    return " · ".join(marks)


def dry_run_text(run: DryRun) -> str:
    """The plan as the command line prints it: one JSON body per job, then the summary."""
    out = []
    for i, (plan, body) in enumerate(zip(run.plans, run.bodies, strict=True), 1):
        label = f" [{plan.label}]" if plan.label else ""
        out.append(f"{i}.{label} {_job_note(plan, body, i - 1, run)}")
        out.append("   " + json.dumps(body, ensure_ascii=False))
    return "\n".join([*out, *_lines(run)])


def dry_run_html(run: DryRun) -> str:
    """The plan as a cell shows it; every prompt and value escaped."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{i}</td><td>{e(plan.label or '')}</td>"
        f"<td><code style='white-space:pre-wrap'>{e(json.dumps(body, ensure_ascii=False))}</code></td>"
        f"<td>{e(_job_note(plan, body, i - 1, run))}</td></tr>"
        for i, (plan, body) in enumerate(zip(run.plans, run.bodies, strict=True), 1)
    )
    head = "".join(
        f"<th style='text-align:left'>{e(h)}</th>" for h in ("#", t("label"), t("request"), t("notes"))
    )
    summary = "".join(f"<li>{e(line)}</li>" for line in _lines(run))
    return (
        f"<div class='cvnb-dry-run'><b>{e(t('Dry run: the plan'))}</b>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table><ul>{summary}</ul></div>"
    )
