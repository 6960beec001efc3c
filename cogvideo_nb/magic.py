"""``%%cogvideo`` and ``%cogvideo``: the notebook's front door. Thin: parse, build, display.

The cell body is the prompt; a line ``---`` separates prompts of a comparison grid;
``--vary key=a,b`` expands a grid over a parameter (or a ``{key}`` placeholder in the prompt);
``{name}`` is filled from the user namespace. Jobs run on the engine's thread, so the magic
returns at once and cards update live; ``--wait`` blocks until every job has ended.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from IPython.core.display import HTML
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class, no_var_expand
from IPython.core.magic import line_magic as _line_magic
from IPython.core.magic_arguments import MagicHelpFormatter, argument, kwds, magic_arguments
from IPython.display import display
from traitlets import Float, Int, Unicode, observe

from . import _pipeline, magic_commands
from ._config import resolve_settings, set_overrides
from ._dryrun import planned
from ._engine import Engine, get_engine
from ._errors import CogVideoError
from ._i18n import N_, t
from ._i18n_argparse import Formatter, Lazy, argparse_message
from ._jobs import Job
from ._ledger import Ledger
from ._models import MODELS, OPTIONS, option_values
from ._report import rewrite_html
from ._study import chain_source
from .widgets import CompareGrid, JobCard
from .widgets._outputs import Outputs

__all__ = ["CogVideoMagics", "load_ipython_extension", "unload_ipython_extension"]


def _catalogue_options(func: Any) -> Any:
    """The %%cogvideo flags for every catalogue option, so nothing here re-lists parameters."""
    for name, opt in reversed(OPTIONS.items()):
        if opt.kind is bool:
            func = argument(f"--{opt.flag}", dest=name, action=argparse.BooleanOptionalAction,
                            default=None, help=Lazy(opt.help))(func)  # fmt: skip
        else:
            values = ", ".join(map(str, option_values(name)))
            said = Lazy(N_("{help}; one of: {values} (per model)"), help=Lazy(opt.help), values=values)
            func = argument(f"--{opt.flag}", dest=name, help=said)(func)
    return func


class _MagicFormatter(MagicHelpFormatter, Formatter):
    """IPython's help layout for a magic, its words in the language in force."""


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


# %%cogvideo's help: IPython shows it as the magic's description (the options follow).
_CELL_HELP = N_("Generate a video from the cell's prompt; several prompts (split by ---) make a grid.")

_PUSHED = ("provider", "base_url", "output_dir", "concurrency", "timeout", "model", "language")


@magics_class
class CogVideoMagics(Magics):
    """Settings here are ``%config`` traitlets, e.g. ``%config CogVideoMagics.concurrency = 5``.

    The API key is deliberately not one: ``%config`` prints values back. Set ZHIPUAI_API_KEY.
    """

    base_url = Unicode(None, allow_none=True, help=N_("API base URL (default: the provider's)")).tag(
        config=True
    )
    provider = Unicode(None, allow_none=True, help=N_("platform: bigmodel or zai")).tag(config=True)
    output_dir = Unicode(None, allow_none=True, help=N_("where videos are saved")).tag(config=True)
    concurrency = Int(None, allow_none=True, help=N_("tasks in flight at once")).tag(config=True)
    timeout = Float(None, allow_none=True, help=N_("seconds to wait for one task")).tag(config=True)
    model = Unicode(None, allow_none=True, help=N_("default model")).tag(config=True)
    language = Unicode(
        None,
        allow_none=True,
        help=N_("the toolkit's words: en or zh (default: the page's, else the kernel's locale)"),
    ).tag(config=True)

    @classmethod
    def class_get_trait_help(cls, trait: Any, inst: Any = None, helptext: str | None = None) -> str:
        """``%config CogVideoMagics`` says each setting's help in the language in force."""
        if helptext is None and trait.help:
            helptext = t(trait.help)
        return str(super().class_get_trait_help(trait, inst, helptext))

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self.outputs = Outputs()
        self._push()

    @property
    def cards(self) -> dict[str, JobCard]:
        return self.outputs.cards

    @property
    def shown(self) -> list[JobCard | CompareGrid]:
        return self.outputs.shown

    @observe(*_PUSHED)
    def _changed(self, change: Any) -> None:
        try:
            self._push()
        except CogVideoError as exc:  # refused where it was typed: the last good value stays
            with self.hold_trait_notifications():
                setattr(self, change["name"], change["old"])
            raise UsageError(str(exc)) from None

    def _push(self) -> None:
        set_overrides(**{n: getattr(self, n) for n in _PUSHED})

    # -- %%cogvideo --------------------------------------------------------------------------------
    @no_var_expand
    @magic_arguments()
    @kwds(description=_CELL_HELP)
    @argument("--model", help=Lazy(N_("one of: {models}"), models=", ".join(MODELS)))
    @_catalogue_options
    @argument(
        "--image", help=N_("first frame: PATH, http(s) URL, or {var} holding a path, bytes or PIL image")
    )
    @argument("--last-frame", help=N_("last frame (first + last frame models): PATH, URL or {var}"))
    @argument(
        "--reference", action="append", default=[], help=N_("reference image (repeatable): PATH|URL|{var}")
    )
    @argument("--vary", action="append", default=[], help=N_("key=v1,v2: one cell per value (repeatable)"))
    @argument("--concurrency", type=int, help=N_("tasks in flight at once"))
    @argument("--out", help=N_("output folder (default ./cogvideo_outputs)"))
    @argument("--wait", action="store_true", help=N_("block until every job ends (headless runs always do)"))
    @argument("--title", help=N_("a title for the grid"))
    @argument("--enhance", action="store_true", help=N_("rewrite the prompt with the free chat model first"))
    @argument(
        "--translate", metavar="en|zh",
        help=N_("translate the prompt into en or zh with the free chat model first (after --enhance)"),
    )  # fmt: skip
    @argument(
        "--n", type=int, default=1, help=N_("run the same request N times (1-4): the spread of results")
    )
    @argument(
        "--continue", dest="continue_", metavar="ID", help=N_("start from the last frame of job ID or {job}")
    )
    @argument("--yes", action="store_true", help=N_("go ahead with paid models (asked otherwise)"))
    @argument(
        "--blind", action="store_true",
        help=N_("a blind comparison: the cells shuffled and lettered A, B, C..., prompts, parameters and "
                "file names hidden until Reveal; rate each clip, then Reveal records the ratings as blind"),
    )  # fmt: skip
    @argument(
        "--dry-run", action="store_true",
        help=N_("list the jobs as they would be sent, their cost and expected time; send nothing"),
    )  # fmt: skip
    @cell_magic
    def cogvideo(self, line: str, cell: str) -> None:
        # Its help (`%%cogvideo?`): _CELL_HELP and the options, in the language in force (getdoc).
        args = self._parse(line)
        prompts = [p.strip() for p in re.split(r"^\s*---+\s*$", cell, flags=re.M) if p.strip()]
        if not prompts:
            raise UsageError(t("the cell is empty: write a prompt below %%cogvideo"))
        if args.dry_run:  # no engine (but the one --continue reads the source job from): nothing is sent
            source = self._continue(self._engine(args), args) if args.continue_ else None
            try:
                plans = self._plan(args, prompts, source)
                display(planned(plans, output_dir=args.out, concurrency=args.concurrency))
            except CogVideoError as exc:
                raise UsageError(str(exc)) from None
            return
        engine = self._engine(args)
        try:
            plans = self._plan(args, prompts, self._continue(engine, args))
            if args.blind and len(plans) < 2:
                raise UsageError(t("--blind compares two or more clips: add prompts (---), --vary or --n"))
            jobs = _pipeline.start(engine, plans, yes=args.yes, how=N_("add --yes"), plan=N_("add --dry-run"))
        except CogVideoError as exc:
            raise UsageError(str(exc)) from None
        if not args.blind:  # blind: the rewrites would tell the prompts (Reveal shows them)
            for original, sent, rewrite in _pipeline.rewrites(jobs):
                display(HTML(rewrite_html(original, sent, rewrite)))
        self.outputs.show(jobs, engine, title=args.title, blind=args.blind)
        if args.wait or self._headless():
            self.outputs.wait_for(engine, jobs)

    def _headless(self) -> bool:
        """Run by nbconvert or papermill (their requests allow no stdin): no page will update the
        output later and the kernel stops at the last cell, so the cell waits, and the notebook
        they save holds every result with no job left unsent. Voila asks the same way but keeps
        its kernel and page alive: there the cards stay live."""
        kernel = getattr(self.shell, "kernel", None)
        if kernel is None or getattr(kernel, "_allow_stdin", True):
            return False
        if os.environ.get("SERVER_SOFTWARE", "").startswith("voila/"):
            return False  # Voila keeps the kernel and the page: the cards stay live there
        print(t("a headless run (no page to update this output later): waiting here for the results"))
        return True

    def _parse(self, line: str) -> Any:
        """POSIX quoting (IPython's own split keeps the quotes); bad options raise UsageError."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(
                t("could not read options {line}: {error}", line=repr(line), error=exc)
            ) from None
        try:
            return self.cogvideo.parser.parse_args(words)
        except UsageError as exc:  # IPython's parser raises argparse's own message: said ours
            raise UsageError(argparse_message(str(exc))) from None

    def _fill(self, text: str, extra: Mapping[str, str]) -> str:
        ns = self.shell.user_ns if self.shell is not None else {}

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in extra:
                return extra[name]
            if name not in ns:
                raise UsageError(
                    t(
                        "{variable} is not defined in the notebook (use {escape} for a literal brace)",
                        variable=f"{{{name}}}",
                        escape="{{ }}",
                    )
                )
            try:
                return str(ns[name])
            except Exception as exc:  # the user's object: its __str__ may raise anything
                said = t(
                    "{variable} could not be turned into text: {error}",
                    variable=f"{{{name}}}",
                    error=_describe(exc),
                )
                raise UsageError(said) from None

        return _NAME.sub(sub, text).replace("{{", "{").replace("}}", "}")

    def _image(self, spec: str | None) -> Any:
        if not spec:
            return None
        m = re.fullmatch(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", spec.strip())
        if m:
            ns = self.shell.user_ns if self.shell is not None else {}
            if m.group(1) not in ns:
                raise UsageError(
                    t("{spec}: {name} is not defined in the notebook", spec=spec, name=m.group(1))
                )
            return ns[m.group(1)]
        return self._fill(spec, {})

    def _continue(self, engine: Engine, args: Any) -> Job | None:
        """The finished job ``--continue ID`` (or ``{var}`` holding a Job) starts from."""
        if not args.continue_:
            return None
        if args.image:
            raise UsageError(t("--continue starts from a job's last frame: leave out --image"))
        ident = args.continue_.strip()
        if re.fullmatch(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", ident):
            value = self._image(ident)
            ident = value.id if isinstance(value, Job) else str(value)
        try:
            return chain_source(engine, ident)
        except CogVideoError as exc:
            raise UsageError(str(exc)) from None

    def _plan(self, args: Any, prompts: list[str], source: Job | None) -> list[_pipeline.Plan]:
        axes: list[tuple[str, list[str]]] = []
        for spec in args.vary:
            key, sep, values = spec.partition("=")
            key = key.strip()
            options = [v.strip() for v in values.split(",") if v.strip()]
            if not sep or not key or len(options) < 2:
                said = t("--vary needs key=value1,value2 (at least two values), got {spec}", spec=repr(spec))
                raise UsageError(said)
            axes.append((key, options))
        image = self._image(args.image)
        if source is not None:
            from ._media import last_frame as final_frame  # PyAV loads when a chain needs it

            image = final_frame(source)
        params = {p: getattr(args, p) for p in ("model", *OPTIONS)}
        params.update(
            image=image,
            last_frame=self._image(args.last_frame),
            references=[self._image(r) for r in args.reference] or None,
        )
        return _pipeline.plan(
            prompts, params, vary=axes, n=args.n, enhance=bool(args.enhance), translate=args.translate,
            continues=source.id if source is not None else None, fill=self._fill,
        )  # fmt: skip

    def _engine(self, args: Any) -> Engine:
        try:
            return get_engine(output_dir=args.out, concurrency=args.concurrency)
        except CogVideoError as exc:
            raise UsageError(str(exc)) from None

    # -- %cogvideo ---------------------------------------------------------------------------------
    @line_magic("cogvideo")
    def cogvideo_line(self, line: str) -> Any:
        """%cogvideo status | history [N] | show ID | resume [ID...] [--all] | stop ID | wait | config
        | stitch ID ID... [--out F] | report [ID...] [--out F] [--embed] | rate ID 1-5 [NOTE...]

        ``%cogvideo COMMAND -h`` explains one command. IDs are those history shows (or any
        unique start or end of a job id or task id).
        """
        return magic_commands.run(self.outputs, line)


# `%%cogvideo?` and `%cogvideo?` in the language in force: IPython asks a magic's getdoc() before
# its docstring (which IPython makes from the parser at import, in English, for help() and IDEs).
CogVideoMagics.cogvideo.parser.formatter_class = _MagicFormatter
CogVideoMagics.cogvideo.getdoc = CogVideoMagics.cogvideo.parser.format_help
CogVideoMagics.cogvideo_line.getdoc = magic_commands.PARSER.format_help


def _offer_resume(ipython: Any) -> Any:
    """After a restart: say how many jobs the ledger holds unfinished, and offer Resume (the offer
    is returned, or None when there is nothing to offer)."""
    try:
        settings = resolve_settings()
        path = Path(settings.output_dir).expanduser() / "ledger.sqlite"
        if not path.is_file():
            return None
        ledger = Ledger(path)
        try:
            unfinished = ledger.resumable()
        finally:
            ledger.close()
    except Exception:  # an offer, never an error at load time
        return None
    if not unfinished:
        return None
    import ipywidgets as w

    from .widgets._ending import mark
    from .widgets._slot import Slot

    n = len(unfinished)
    said = t("{n} job(s) were still in flight when the last kernel stopped (their tasks are kept).", n=n)
    text = w.HTML(f"{html.escape(said)} " + t("{command} or:", command="<code>%cogvideo resume</code>"))
    button = w.Button(description=t("Resume {n}", n=n), button_style="primary", icon="play")
    message = w.HTML()
    slot = Slot()  # the resumed jobs' cards: a click has no cell to display them in

    def click(_: Any) -> None:
        button.disabled = True
        outputs = ipython.magics_manager.registry["CogVideoMagics"].outputs
        try:
            engine = get_engine()
            jobs = engine.resume()
        except CogVideoError as exc:
            message.value = f'<span style="color:#cf222e">{html.escape(str(exc))}</span>'
            button.disabled = False
            return
        elsewhere = outputs.add_to(slot, jobs, engine)
        message.value = html.escape(
            t("resumed {n} job(s)", n=len(jobs))
            + (t("; {n} in their cards above", n=elsewhere) if elsewhere else "")
        )

    button.on_click(click)
    # What is saved of the notice is its text: a reopened notebook has no kernel to click with;
    # the resumed results are saved in the output below it and in their own cells.
    saved = {"text/html": f"<div>{html.escape(said)}</div>", "text/plain": said}
    offer = w.HBox([text, button, message])
    display(offer, metadata=mark("resume-offer", saved=saved))
    slot.display()
    return offer


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(CogVideoMagics)
    _offer_resume(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to undo: jobs keep running on the engine thread until the kernel exits."""
