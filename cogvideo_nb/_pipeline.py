"""The one way a job starts: plan -> validate -> cost -> rewrite (enhance, translate) -> submit.

Every front end (the cell, the form, the CLI, a batch file, ``generate_many``, a card's Retry)
hands its input to :func:`plan` and the plans to :func:`start`; display stays with the front
end, which gets the jobs back. So the same input makes the same requests everywhere, a paid
job is confirmed everywhere, and bad input is refused before anything is sent everywhere.

With both ``enhance`` and ``translate``, the prompt is enhanced first and the rewrite is then
translated: the cells of ``--vary translate=off,en --enhance`` describe the very same scene, in
two languages, so the class compares languages and not two different rewrites.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ._cost import check_cost
from ._engine import Engine
from ._errors import CogVideoError, ValidationError
from ._i18n import N_, t
from ._models import OPTIONS, get_model
from ._request import VideoRequest, build_request, new_request_id
from ._translate import LANGUAGE_NAMES, check_target, prompt_language

if TYPE_CHECKING:
    from ._jobs import Job

__all__ = [
    "MAX_REPEATS",
    "Plan",
    "apply_rewrites",
    "check",
    "plan",
    "repeat",
    "retry_plan",
    "rewrite_steps",
    "rewrites",
    "start",
]

MAX_REPEATS = 4
# --vary keys: the wire name or the flag of each catalogue option, and the model.
VARY_KEYS = {"model": "model", **{o.flag: n for n, o in OPTIONS.items()}, **{n: n for n in OPTIONS}}
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
Fill = Callable[[str, Mapping[str, str]], str]


@dataclass(frozen=True)
class Plan:
    """One job to start: its request, its label in a grid, and where its prompt and frame came from."""

    request: VideoRequest
    label: str | None = None
    original_prompt: str | None = None  # set when the request's prompt is a rewrite of it
    continues: str | None = None  # the job whose last frame is this one's first
    enhance: bool = False  # to be rewritten by the chat model before it is sent
    translate: str | None = None  # "en"/"zh": to be translated by the chat model (after enhance)
    rewrite: str | None = None  # what was done: "enhance", "translate:en", "enhance+translate:en"


def _placeholders(text: str, extra: Mapping[str, str]) -> str:
    """Without a notebook namespace, only ``--vary`` placeholders are filled."""
    for key, value in extra.items():
        text = text.replace("{" + key + "}", value)
    return text


def _flag_value(name: str, value: Any) -> Any:
    """A --vary value (text) as the option's type where that is unambiguous."""
    if name in OPTIONS and OPTIONS[name].kind is bool and isinstance(value, str):
        low = value.strip().lower()
        return True if low in _TRUE else False if low in _FALSE else value
    return value


def plan(
    prompts: Sequence[str | None],
    options: Mapping[str, Any] | None = None,
    *,
    vary: Sequence[tuple[str, Sequence[str]]] = (),
    n: int = 1,
    enhance: bool = False,
    translate: str | None = None,
    continues: str | None = None,
    fill: Fill = _placeholders,
    labels: Sequence[str | None] | None = None,
) -> list[Plan]:
    """Every job the input asks for, each request validated against the catalogue.

    ``vary``: axes of (key, values), one job per combination: a parameter, a ``{key}``
    placeholder in the prompt, ``enhance`` (off/on) or ``translate`` (off/en/zh).
    ``translate``: ``en`` or ``zh`` (None or ``off``: as written). ``fill(text, extra)`` fills
    placeholders (the notebook's variables in a cell). A bad prompt or option raises
    ValidationError naming which one; nothing is sent.
    """
    target = check_target(translate)
    options = dict(options or {})
    combos = list(itertools.product(*[[(k, v) for v in vs] for k, vs in vary])) or [()]
    plans = []
    for i, prompt in enumerate(prompts):
        for combo in combos:
            params, extra, enhanced, into = dict(options), {}, enhance, target
            for key, value in combo:
                if key == "enhance":  # --vary enhance=off,on: the prompt as written and rewritten
                    if value.lower() not in _TRUE + _FALSE:
                        raise ValidationError(
                            t("--vary enhance takes off,on (not {value})", value=repr(value)), field="vary"
                        )
                    enhanced = value.lower() in _TRUE
                elif key == "translate":  # --vary translate=off,en: as written and translated
                    into = check_target(value)
                elif prompt and "{" + key + "}" in prompt:  # a placeholder wins over an option
                    extra[key] = value
                elif key in VARY_KEYS:
                    params[VARY_KEYS[key]] = _flag_value(VARY_KEYS[key], value)
                else:
                    raise ValidationError(
                        t(
                            "--vary {key}: not a parameter ({names}) and the prompt has no "
                            "{{{key}}} placeholder",
                            key=key,
                            names=", ".join(["model", *OPTIONS]),
                        ),
                        field="vary",
                    )
            try:
                request = build_request(fill(prompt, extra) if prompt else prompt, **params)
            except CogVideoError as exc:
                said = (
                    t("prompt {i}: {error}", i=i + 1, error=exc.message) if len(prompts) > 1 else exc.message
                )
                raise ValidationError(said, field=getattr(exc, "field", None)) from None
            tag = ", ".join(_tag(k, v, request.prompt, into) for k, v in combo)
            name = labels[i] if labels is not None else f"#{i + 1}" if len(prompts) > 1 else None
            label = tag or name
            plans.append(Plan(request, label, continues=continues, enhance=enhanced, translate=into))
    return repeat(plans, n)


def _tag(key: str, value: str, prompt: str | None, into: str | None) -> str:
    """A grid cell's ``key=value``; a translate cell also names the language its prompt is sent
    in (``translate=off (Chinese)``, ``translate=en (English)``), so a class sees which is which."""
    if key != "translate":
        return f"{key}={value}"
    language = into or prompt_language(prompt or "")
    return t("{tag} ({language})", tag=f"{key}={value}", language=t(LANGUAGE_NAMES[language]))


def repeat(plans: Sequence[Plan], n: int) -> list[Plan]:
    """Each plan ``n`` times (1-4), as separate tasks with their own request ids, labelled run i/n."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_REPEATS:
        raise ValidationError(t("--n must be 1 to {limit}, not {n}", limit=MAX_REPEATS, n=repr(n)), field="n")
    if n == 1:
        return list(plans)
    return [
        replace(
            p, request=replace(p.request, request_id=new_request_id()), label=_join(p.label, _run_tag(i, n))
        )
        for p in plans
        for i in range(1, n + 1)
    ]


def _join(*parts: str | None) -> str | None:
    return ", ".join(p for p in parts if p) or None


def _run_tag(i: int, n: int) -> str:
    return t("run {i}/{n}", i=i, n=n)  # a label, in the language in force when it is planned


def apply_rewrites(
    plans: Sequence[Plan],
    enhancer: Callable[[str], str],
    translator: Callable[[str, str], str],
) -> list[Plan]:
    """Plans marked ``enhance`` get the rewritten prompt, those marked ``translate`` its
    translation (after the rewrite, when both); each distinct text is sent once, and a prompt
    already in the target language is not sent at all. The user's words are kept as
    ``original_prompt`` and what was done as ``rewrite``."""
    enhanced: dict[str, str] = {}
    translated: dict[tuple[str, str], str] = {}
    out = []
    for p in plans:
        original = p.request.prompt
        if not (p.enhance or p.translate):
            out.append(p)
            continue
        if not original:  # an image alone: no words to rewrite
            out.append(replace(p, enhance=False, translate=None))
            continue
        text, steps = original, []
        if p.enhance:
            if text not in enhanced:
                enhanced[text] = enhancer(text)
            text = enhanced[text]
            steps.append("enhance")
        if p.translate and prompt_language(text) != p.translate:
            if (text, p.translate) not in translated:
                translated[text, p.translate] = translator(text, p.translate)
            text = translated[text, p.translate]
            steps.append(f"translate:{p.translate}")
        if not steps:  # already in the target language: sent as written
            out.append(replace(p, translate=None))
            continue
        spec = get_model(p.request.model)
        request = replace(p.request, prompt=text[: spec.max_prompt if spec else 512])
        out.append(
            replace(p, request=request, original_prompt=original, enhance=False, translate=None,
                    rewrite="+".join(steps))
        )  # fmt: skip
    return out


def rewrite_steps(rewrite: str | None) -> tuple[bool, str | None]:
    """(enhanced?, the language it was translated into or None) of a job with an
    ``original_prompt``; a job recorded before translation existed (no ``rewrite``) was enhanced."""
    steps = (rewrite or "enhance").split("+")
    into = next((s.partition(":")[2] for s in steps if s.startswith("translate:")), None)
    return "enhance" in steps, into


def rewrites(items: Sequence[Plan] | Sequence[Job]) -> list[tuple[str, str, str | None]]:
    """(original, sent, rewrite) once per distinct original and rewrite, in order: what a front
    end shows side by side (a grid over ``translate`` shows each language once)."""
    seen: dict[tuple[str, str | None], str] = {}
    for item in items:
        if item.original_prompt and (item.original_prompt, item.rewrite) not in seen:
            seen[item.original_prompt, item.rewrite] = item.request.prompt or ""
    return [(original, sent, rewrite) for (original, rewrite), sent in seen.items()]


def retry_plan(job: Job) -> Plan:
    """The same request as a new task (a new request id: generated, and paid, again)."""
    request = job.request.with_new_id()
    return Plan(
        request, job.label, original_prompt=job.original_prompt, continues=job.continues, rewrite=job.rewrite
    )


def check(
    plans: Sequence[Plan], *, yes: bool, how: str = N_("pass yes=True"), plan: str | None = None
) -> int:
    """The cost guard alone (``start`` runs it too): for a caller with work to do in between."""
    return check_cost([p.request for p in plans], yes=yes, how=how, plan=plan)


def start(
    engine: Engine | Callable[[], Engine],
    plans: Sequence[Plan],
    *,
    yes: bool,
    how: str = N_("pass yes=True"),
    plan: str | None = None,
    enhancer: Callable[[str], str] | None = None,
    translator: Callable[[str, str], str] | None = None,
) -> list[Job]:
    """Confirm the cost, rewrite (enhance, translate), submit: the jobs, queued and running.

    A paid job unconfirmed raises :class:`PaidJobsError` before anything is sent, the rewrite
    included, and before ``engine`` is made when it is a factory (an unconfirmed CLI run opens
    no ledger); ``how`` says how to confirm in the caller's words (``add --yes``, a button),
    ``plan`` how to see the plan first where the caller has a dry run (``--dry-run``).
    The rewrite goes where the engine's jobs go: the same key, platform, service or emulator.
    """
    check(plans, yes=yes, how=how, plan=plan)
    if not isinstance(engine, Engine):
        engine = engine()
    if any(p.enhance or p.translate for p in plans):
        plans = apply_rewrites(plans, enhancer or engine.enhance, translator or engine.translate)
    return [
        engine.submit(
            p.request,
            label=p.label,
            original_prompt=p.original_prompt,
            continues=p.continues,
            rewrite=p.rewrite,
        )
        for p in plans
    ]
