"""``%%cogvideo`` and ``%cogvideo``: the notebook's front door. Thin: parse, build, display.

The cell body is the prompt; a line ``---`` separates prompts of a comparison grid;
``--vary key=a,b`` expands a grid over a parameter (or a ``{key}`` placeholder in the prompt);
``{name}`` is filled from the user namespace. Jobs run on the engine's thread, so the magic
returns at once and cards update live; ``--wait`` blocks until every job has ended.
"""

from __future__ import annotations

import html
import itertools
import re
import shlex
from typing import Any

from IPython.core.display import HTML
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class, no_var_expand
from IPython.core.magic import line_magic as _line_magic
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display
from traitlets import Float, Int, Unicode, observe

from ._config import resolve_settings, set_overrides
from ._engine import Engine, get_engine
from ._errors import CogVideoError
from ._html import job_html
from ._jobs import Job
from ._models import MODELS
from ._request import VideoRequest, build_request
from .widgets import CompareGrid, JobCard

__all__ = ["CogVideoMagics", "load_ipython_extension", "unload_ipython_extension"]

_PARAMS = ("model", "size", "fps", "duration", "quality", "audio")
_NAME = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


# IPython's stubs type `line_magic("name")` differently from release to release; Any keeps the
# name argument (the line and cell magic share the name `cogvideo`) without a version-bound ignore.
line_magic: Any = _line_magic


@magics_class
class CogVideoMagics(Magics):
    """Settings here are ``%config`` traitlets, e.g. ``%config CogVideoMagics.concurrency = 5``.

    The API key is deliberately not one: ``%config`` prints values back. Set ZHIPUAI_API_KEY.
    """

    base_url = Unicode(None, allow_none=True, help="API base URL (default: the real service)").tag(
        config=True
    )
    output_dir = Unicode(None, allow_none=True, help="where videos are saved").tag(config=True)
    concurrency = Int(None, allow_none=True, help="tasks in flight at once").tag(config=True)
    timeout = Float(None, allow_none=True, help="seconds to wait for one task").tag(config=True)
    model = Unicode(None, allow_none=True, help="default model").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self.cards: dict[str, JobCard] = {}
        self._push()

    @observe("base_url", "output_dir", "concurrency", "timeout", "model")
    def _changed(self, change: Any) -> None:
        self._push()

    def _push(self) -> None:
        set_overrides(
            **{n: getattr(self, n) for n in ("base_url", "output_dir", "concurrency", "timeout", "model")}
        )

    # -- %%cogvideo --------------------------------------------------------------------------------
    @no_var_expand
    @magic_arguments()
    @argument("--model", help=f"one of: {', '.join(MODELS)}")
    @argument("--size", help="WIDTHxHEIGHT, e.g. 1920x1080")
    @argument("--fps", help="30 or 60")
    @argument("--duration", help="5 or 10 seconds")
    @argument("--quality", help="speed or quality")
    @argument("--audio", action="store_true", default=None, help="AI sound effects")
    @argument("--image", help="first frame: PATH, http(s) URL, or {var} holding a path, bytes or PIL image")
    @argument("--vary", action="append", default=[], help="key=v1,v2: one cell per value (repeatable)")
    @argument("--concurrency", type=int, help="tasks in flight at once")
    @argument("--out", help="output folder (default ./cogvideo_outputs)")
    @argument("--wait", action="store_true", help="block until every job ends (scripts, headless runs)")
    @argument("--title", help="a title for the grid")
    @cell_magic
    def cogvideo(self, line: str, cell: str) -> None:
        """Generate a video from the cell's prompt; several prompts (split by ---) make a grid."""
        args = self._parse(line)
        prompts = [p.strip() for p in re.split(r"^\s*---+\s*$", cell, flags=re.M) if p.strip()]
        if not prompts:
            raise UsageError("the cell is empty: write a prompt below %%cogvideo")
        requests, labels = self._expand(args, prompts)
        engine = self._engine(args)
        jobs = [engine.submit(r, label=label) for r, label in zip(requests, labels, strict=True)]
        self._show(jobs, engine, title=args.title)
        if args.wait:
            self._wait(engine, jobs)

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
            return str(ns[name])

        return _NAME.sub(sub, text).replace("{{", "{").replace("}}", "}")

    def _image(self, spec: str | None) -> Any:
        if not spec:
            return None
        m = re.fullmatch(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", spec.strip())
        if m:
            ns = self.shell.user_ns if self.shell is not None else {}
            if m.group(1) not in ns:
                raise UsageError(f"--image {spec}: {m.group(1)} is not defined in the notebook")
            return ns[m.group(1)]
        return self._fill(spec, {})

    def _expand(self, args: Any, prompts: list[str]) -> tuple[list[VideoRequest], list[str | None]]:
        axes: list[tuple[str, list[str]]] = []
        for spec in args.vary:
            key, sep, values = spec.partition("=")
            key = key.strip()
            options = [v.strip() for v in values.split(",") if v.strip()]
            if not sep or not key or len(options) < 2:
                raise UsageError(f"--vary needs key=value1,value2 (at least two values), got {spec!r}")
            axes.append((key, options))
        combos = list(itertools.product(*[[(k, v) for v in vs] for k, vs in axes])) or [()]
        base = {p: getattr(args, p) for p in _PARAMS}
        image = self._image(args.image)
        requests, labels = [], []
        for i, prompt in enumerate(prompts):
            for combo in combos:
                params, extra = dict(base), {}
                for key, value in combo:
                    if key in _PARAMS:
                        params[key] = value
                    elif "{" + key + "}" in prompt:
                        extra[key] = value
                    else:
                        raise UsageError(
                            f"--vary {key}: not a parameter ({', '.join(_PARAMS)}) "
                            f"and the prompt has no {{{key}}} placeholder"
                        )
                text = self._fill(prompt, extra)
                try:
                    requests.append(
                        build_request(
                            text,
                            model=params["model"],
                            size=params["size"],
                            fps=params["fps"],
                            duration=params["duration"],
                            quality=params["quality"],
                            with_audio=True
                            if params["audio"] in (True, "true", "True", "1", "yes")
                            else None,
                            image=image,
                        )
                    )
                except CogVideoError as exc:
                    where = f"prompt {i + 1}: " if len(prompts) > 1 else ""
                    raise UsageError(f"{where}{exc}") from None
                tag = ", ".join(f"{k}={v}" for k, v in combo)
                labels.append(tag or (f"#{i + 1}" if len(prompts) > 1 else None))
        return requests, labels

    def _engine(self, args: Any) -> Engine:
        try:
            return get_engine(output_dir=args.out, concurrency=args.concurrency)
        except CogVideoError as exc:
            raise UsageError(str(exc)) from None

    def _show(self, jobs: list[Job], engine: Engine, *, title: str | None = None) -> None:
        if len(jobs) == 1:
            card = JobCard(jobs[0], engine)
            self.cards[jobs[0].id] = card
            card.show()
            return
        grid = CompareGrid(jobs, engine, title=title or "")
        for card in grid.cards:
            self.cards[card.job.id] = card
        grid.show()

    def _wait(self, engine: Engine, jobs: list[Job]) -> None:
        try:
            engine.wait(jobs)
        except KeyboardInterrupt:
            print("stopped waiting here; the jobs go on in the background (%cogvideo status)")
            return
        # Sent from this cell, so headless runners (nbclient) record the final state too.
        for job in jobs:
            card = self.cards.get(job.id)
            if card is not None:
                card.send_state()
            display(HTML(job_html(job)))

    # -- %cogvideo ---------------------------------------------------------------------------------
    @line_magic("cogvideo")
    def cogvideo_line(self, line: str) -> Any:
        """%cogvideo status | history [N] | resume [--all] | wait | config | show ID"""
        words = shlex.split(line)
        if not words:
            raise UsageError(
                "usage: %cogvideo status | history [N] | resume [--all] | wait | config | show ID"
            )
        command, rest = words[0], words[1:]
        if command in ("status", "history"):
            limit = int(rest[0]) if rest and rest[0].isdigit() else 20
            return HTML(_table(get_engine().history(limit)))
        if command == "resume":
            engine = get_engine()
            jobs = engine.resume(include_detached="--all" in rest)
            if not jobs:
                print("nothing to resume: every job in the ledger has ended")
                return None
            # The engine hands back the live Job a card may still be bound to: show that card
            # again rather than a second one for the same job.
            bound = [j for j in jobs if (c := self.cards.get(j.id)) is not None and c.job is j]
            for live in bound:
                self.cards[live.id].show()
            fresh = [j for j in jobs if j not in bound]
            if fresh:
                self._show(fresh, engine, title="resumed")
            if "--wait" in rest:
                self._wait(engine, jobs)
            return None
        if command == "wait":
            engine = get_engine()
            self._wait(engine, [j for j in engine.scheduler.jobs.values() if not j.done])
            return None
        if command == "config":
            return _config_text()
        if command == "show" and rest:
            job = get_engine().find(rest[0])
            if job is None:
                raise UsageError(f"no job matches {rest[0]!r} (try %cogvideo history)")
            card = self.cards.get(job.id)
            return card if card is not None and not job.done else HTML(job_html(job))
        raise UsageError(f"unknown %cogvideo command {command!r}")


def _table(jobs: list[Job]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td><code>{e(j.id[-8:])}</code></td><td>{e(j.status.value)}</td>"
        f"<td>{e(j.prompt[:80])}</td><td>{e(j.task_id or '')}</td><td>{j.elapsed:.0f} s</td>"
        f"<td>{e(str(j.video_path or j.error or j.note or ''))}</td></tr>"
        for j in jobs
    )
    head = "<tr><th>id</th><th>status</th><th>prompt</th><th>task</th><th>elapsed</th><th>result</th></tr>"
    return f"<table>{head}{rows}</table>" if jobs else "<i>no jobs yet</i>"


def _config_text() -> str:
    s = resolve_settings()
    where = "the bundled emulator (results are labelled EMULATED)" if s.uses_emulator else s.base_url
    key = "set" if s.api_key is not None else "not set (ZHIPUAI_API_KEY)"
    return (
        f"API key: {key}\nservice: {where}\noutput folder: {s.output_dir}\n"
        f"concurrency: {s.concurrency}\ntimeout: {s.timeout:g} s\ndefault model: {s.model}"
    )


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(CogVideoMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to undo: jobs keep running on the engine thread until the kernel exits."""
