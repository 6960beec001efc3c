"""``%%cogvideo`` and ``%cogvideo``: the notebook's front door. Thin: parse, build, display.

The cell body is the prompt; a line ``---`` separates prompts of a comparison grid;
``--vary key=a,b`` expands a grid over a parameter (or a ``{key}`` placeholder in the prompt);
``{name}`` is filled from the user namespace. Jobs run on the engine's thread, so the magic
returns at once and cards update live; ``--wait`` blocks until every job has ended.
"""

from __future__ import annotations

import argparse
import itertools
import re
import shlex
from pathlib import Path
from typing import Any

from IPython.core.display import HTML
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class, no_var_expand
from IPython.core.magic import line_magic as _line_magic
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display
from traitlets import Float, Int, Unicode, observe

from . import magic_commands
from ._config import resolve_settings, set_overrides
from ._engine import Engine, get_engine
from ._enhance import enhance
from ._errors import CogVideoError
from ._html import job_html
from ._jobs import Job
from ._ledger import Ledger
from ._models import MODELS, OPTIONS, option_values
from ._report import enhance_html
from ._request import build_request
from ._study import Plan, apply_enhance, chain_source, check_plans, enhanced_pairs, repeat, submit_plans
from .widgets import CompareGrid, JobCard
from .widgets._bridge import BRIDGE

__all__ = ["CogVideoMagics", "load_ipython_extension", "unload_ipython_extension"]

# --vary keys: the wire name or the flag of each catalogue option, and the model.
_PARAMS = {"model": "model", **{o.flag: n for n, o in OPTIONS.items()}, **{n: n for n in OPTIONS}}
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _catalogue_options(func: Any) -> Any:
    """The %%cogvideo flags for every catalogue option, so nothing here re-lists parameters."""
    for name, opt in reversed(OPTIONS.items()):
        if opt.kind is bool:
            func = argument(f"--{opt.flag}", dest=name, action=argparse.BooleanOptionalAction,
                            default=None, help=opt.help)(func)  # fmt: skip
        else:
            values = ", ".join(map(str, option_values(name)))
            func = argument(f"--{opt.flag}", dest=name, help=f"{opt.help}; per model, of: {values}")(func)
    return func


def _flag_value(name: str, value: Any) -> Any:
    """A --vary value (text) as the option's type where that is unambiguous."""
    if name in OPTIONS and OPTIONS[name].kind is bool and isinstance(value, str):
        low = value.strip().lower()
        return True if low in _TRUE else False if low in _FALSE else value
    return value


def _describe(exc: BaseException) -> str:
    """``Type: message`` on one line, for an exception raised by the user's own code."""
    try:
        message = str(exc)
    except Exception:  # its message is the user's code too
        message = ""
    first = message.strip().splitlines()[0] if message.strip() else ""
    first = first if len(first) <= 200 else first[:199] + "…"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


_NAME = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


# IPython's stubs type `line_magic("name")` differently from release to release; Any keeps the
# name argument (the line and cell magic share the name `cogvideo`) without a version-bound ignore.
line_magic: Any = _line_magic


@magics_class
class CogVideoMagics(Magics):
    """Settings here are ``%config`` traitlets, e.g. ``%config CogVideoMagics.concurrency = 5``.

    The API key is deliberately not one: ``%config`` prints values back. Set ZHIPUAI_API_KEY.
    """

    base_url = Unicode(None, allow_none=True, help="API base URL (default: the provider's)").tag(config=True)
    provider = Unicode(None, allow_none=True, help="platform: bigmodel or zai").tag(config=True)
    output_dir = Unicode(None, allow_none=True, help="where videos are saved").tag(config=True)
    concurrency = Int(None, allow_none=True, help="tasks in flight at once").tag(config=True)
    timeout = Float(None, allow_none=True, help="seconds to wait for one task").tag(config=True)
    model = Unicode(None, allow_none=True, help="default model").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self.cards: dict[str, JobCard] = {}
        self.shown: list[JobCard | CompareGrid] = []  # outputs to turn static when their jobs end
        self._final: dict[int, tuple[tuple[str, Any], ...]] = {}  # made static from a cell, as of
        self._push()

    @observe("provider", "base_url", "output_dir", "concurrency", "timeout", "model")
    def _changed(self, change: Any) -> None:
        try:
            self._push()
        except CogVideoError as exc:  # refused where it was typed: the last good value stays
            with self.hold_trait_notifications():
                setattr(self, change["name"], change["old"])
            raise UsageError(str(exc)) from None

    def _push(self) -> None:
        set_overrides(
            **{
                n: getattr(self, n)
                for n in ("provider", "base_url", "output_dir", "concurrency", "timeout", "model")
            }
        )

    # -- %%cogvideo --------------------------------------------------------------------------------
    @no_var_expand
    @magic_arguments()
    @argument("--model", help=f"one of: {', '.join(MODELS)}")
    @_catalogue_options
    @argument("--image", help="first frame: PATH, http(s) URL, or {var} holding a path, bytes or PIL image")
    @argument("--last-frame", help="last frame (first + last frame models): PATH, URL or {var}")
    @argument("--reference", action="append", default=[], help="reference image (repeatable): PATH|URL|{var}")
    @argument("--vary", action="append", default=[], help="key=v1,v2: one cell per value (repeatable)")
    @argument("--concurrency", type=int, help="tasks in flight at once")
    @argument("--out", help="output folder (default ./cogvideo_outputs)")
    @argument("--wait", action="store_true", help="block until every job ends (scripts, headless runs)")
    @argument("--title", help="a title for the grid")
    @argument("--enhance", action="store_true", help="rewrite the prompt with the free chat model first")
    @argument("--n", type=int, default=1, help="run the same request N times (1-4): the spread of results")
    @argument(
        "--continue", dest="continue_", metavar="ID", help="start from the last frame of job ID or {job}"
    )
    @argument("--yes", action="store_true", help="go ahead with paid models (asked otherwise)")
    @cell_magic
    def cogvideo(self, line: str, cell: str) -> None:
        """Generate a video from the cell's prompt; several prompts (split by ---) make a grid."""
        args = self._parse(line)
        prompts = [p.strip() for p in re.split(r"^\s*---+\s*$", cell, flags=re.M) if p.strip()]
        if not prompts:
            raise UsageError("the cell is empty: write a prompt below %%cogvideo")
        engine = self._engine(args)
        plans = self._expand(args, prompts, self._continue(engine, args))
        try:
            plans = repeat(plans, args.n)
            check_plans(plans, yes=args.yes)  # before anything is sent, the rewrite included
            if any(p.enhance for p in plans):
                plans = apply_enhance(plans, lambda text: self._enhance(engine, text))
        except CogVideoError as exc:
            raise UsageError(str(exc)) from None
        for original, enhanced in enhanced_pairs(plans):
            display(HTML(enhance_html(original, enhanced)))
        jobs = submit_plans(engine.submit, plans)
        self.show_jobs(jobs, engine, title=args.title)
        if args.wait:
            self.wait_for(engine, jobs)

    def _parse(self, line: str) -> Any:
        """POSIX quoting (IPython's own split keeps the quotes); bad options raise UsageError."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"could not read options {line!r}: {exc}") from None
        return self.cogvideo.parser.parse_args(words)

    def _fill(self, text: str, extra: dict[str, str]) -> str:
        ns = self.shell.user_ns if self.shell is not None else {}

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in extra:
                return extra[name]
            if name not in ns:
                raise UsageError(
                    f"{{{name}}} is not defined in the notebook (use {{{{ }}}} for a literal brace)"
                )
            try:
                return str(ns[name])
            except Exception as exc:  # the user's object: its __str__ may raise anything
                raise UsageError(f"{{{name}}} could not be turned into text: {_describe(exc)}") from None

        return _NAME.sub(sub, text).replace("{{", "{").replace("}}", "}")

    def _image(self, spec: str | None) -> Any:
        if not spec:
            return None
        m = re.fullmatch(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", spec.strip())
        if m:
            ns = self.shell.user_ns if self.shell is not None else {}
            if m.group(1) not in ns:
                raise UsageError(f"{spec}: {m.group(1)} is not defined in the notebook")
            return ns[m.group(1)]
        return self._fill(spec, {})

    def _continue(self, engine: Engine, args: Any) -> Job | None:
        """The finished job ``--continue ID`` (or ``{var}`` holding a Job) starts from."""
        if not args.continue_:
            return None
        if args.image:
            raise UsageError("--continue starts from a job's last frame: leave out --image")
        ident = args.continue_.strip()
        if re.fullmatch(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", ident):
            value = self._image(ident)
            ident = value.id if isinstance(value, Job) else str(value)
        try:
            return chain_source(engine, ident)
        except CogVideoError as exc:
            raise UsageError(str(exc)) from None

    @staticmethod
    def _enhance(engine: Engine, text: str) -> str:
        """The rewrite goes where the engine's jobs go: the same key, platform, service or emulator."""
        s = engine.settings
        return enhance(text, api_key=s.api_key, base_url=s.base_url, provider=s.provider)

    def _expand(self, args: Any, prompts: list[str], source: Job | None = None) -> list[Plan]:
        axes: list[tuple[str, list[str]]] = []
        for spec in args.vary:
            key, sep, values = spec.partition("=")
            key = key.strip()
            options = [v.strip() for v in values.split(",") if v.strip()]
            if not sep or not key or len(options) < 2:
                raise UsageError(f"--vary needs key=value1,value2 (at least two values), got {spec!r}")
            axes.append((key, options))
        combos = list(itertools.product(*[[(k, v) for v in vs] for k, vs in axes])) or [()]
        base = {p: getattr(args, p) for p in ("model", *OPTIONS)}
        image = self._image(args.image)
        if source is not None:
            from ._media import last_frame as final_frame  # PyAV loads when a chain needs it

            image = final_frame(source)
        last_frame = self._image(args.last_frame)
        references = [self._image(r) for r in args.reference] or None
        plans = []
        for i, prompt in enumerate(prompts):
            for combo in combos:
                params, extra = dict(base), {}
                enhanced = bool(args.enhance)
                for key, value in combo:
                    if key == "enhance":  # --vary enhance=off,on: the prompt as written and rewritten
                        if value.lower() not in _TRUE + _FALSE:
                            raise UsageError(f"--vary enhance takes off,on (not {value!r})")
                        enhanced = value.lower() in _TRUE
                    elif "{" + key + "}" in prompt:  # a placeholder wins over a same-named option
                        extra[key] = value
                    elif key in _PARAMS:
                        params[_PARAMS[key]] = _flag_value(_PARAMS[key], value)
                    else:
                        raise UsageError(
                            f"--vary {key}: not a parameter ({', '.join(['model', *OPTIONS])}) "
                            f"and the prompt has no {{{key}}} placeholder"
                        )
                text = self._fill(prompt, extra)
                try:
                    request = build_request(
                        text, **params, image=image, last_frame=last_frame, references=references
                    )
                except CogVideoError as exc:
                    where = f"prompt {i + 1}: " if len(prompts) > 1 else ""
                    raise UsageError(f"{where}{exc}") from None
                tag = ", ".join(f"{k}={v}" for k, v in combo)
                label = tag or (f"#{i + 1}" if len(prompts) > 1 else None)
                chained = source.id if source is not None else None
                plans.append(Plan(request, label, continues=chained, enhance=enhanced))
        return plans

    def _engine(self, args: Any) -> Engine:
        try:
            return get_engine(output_dir=args.out, concurrency=args.concurrency)
        except CogVideoError as exc:
            raise UsageError(str(exc)) from None

    def show_jobs(self, jobs: list[Job], engine: Engine, *, title: str | None = None) -> None:
        if len(jobs) == 1:
            card = JobCard(jobs[0], engine)
            self.cards[jobs[0].id] = card
            self.shown.append(card)
            card.show()
            return
        grid = CompareGrid(jobs, engine, title=title or "")
        for card in grid.cards:
            self.cards[card.job.id] = card
        self.shown.append(grid)
        grid.show()

    def wait_for(self, engine: Engine, jobs: list[Job]) -> None:
        try:
            engine.wait(jobs)
        except KeyboardInterrupt:
            print("stopped waiting here; the jobs go on in the background (%cogvideo status)")
            return
        BRIDGE.flush()  # every card has drawn the end
        # From this cell, so headless runners (nbclient) record it too: each finished output
        # becomes static HTML, and the results are listed here as plain HTML as well.
        # Every ended output not yet made static from a cell: a job that ended before this wait
        # was made static from the UI thread only, which headless runners do not record.
        for shown in self.shown:
            members = [c.job for c in shown.cards] if isinstance(shown, CompareGrid) else [shown.job]
            key = tuple((j.id, j.status) for j in members)
            if all(j.done for j in members) and self._final.get(id(shown)) != key:
                shown.finalize()
                self._final[id(shown)] = key
        for job in jobs:
            display(HTML(job_html(job, copy=True)))

    # -- %cogvideo ---------------------------------------------------------------------------------
    @line_magic("cogvideo")
    def cogvideo_line(self, line: str) -> Any:
        """%cogvideo status | history [N] | show ID | resume [ID...] [--all] | stop ID | wait | config
        | stitch ID ID... [--out F] | report [ID...] [--out F] [--embed] | rate ID 1-5 [NOTE...]

        ``%cogvideo COMMAND -h`` explains one command. IDs are those history shows (or any
        unique start or end of a job id or task id).
        """
        return magic_commands.run(self, line)


def _offer_resume(ipython: Any) -> None:
    """After a restart: say how many jobs the ledger holds unfinished, and offer Resume."""
    try:
        settings = resolve_settings()
        path = Path(settings.output_dir).expanduser() / "ledger.sqlite"
        if not path.is_file():
            return
        ledger = Ledger(path)
        try:
            unfinished = ledger.unfinished()
        finally:
            ledger.close()
    except Exception:  # an offer, never an error at load time
        return
    if not unfinished:
        return
    import ipywidgets as w

    n = len(unfinished)
    text = w.HTML(
        f"<b>{n} job(s)</b> were still in flight when the last kernel stopped "
        f"(their tasks are kept). <code>%cogvideo resume</code> or:"
    )
    button = w.Button(description=f"Resume {n}", button_style="primary", icon="play")
    out = w.Output()

    def click(_: Any) -> None:
        button.disabled = True
        magics = ipython.magics_manager.registry["CogVideoMagics"]
        with out:
            magic_commands.run(magics, "resume")

    button.on_click(click)
    display(w.VBox([w.HBox([text, button]), out]))


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(CogVideoMagics)
    _offer_resume(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to undo: jobs keep running on the engine thread until the kernel exits."""
