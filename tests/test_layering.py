"""The layering rules, each named and checked on the source: an AST walk over ``cogvideo_nb/``.

Every ``import`` statement counts, wherever it stands: at the top, inside a function (a lazy
import is still a dependency) and under ``if TYPE_CHECKING:`` (a type-only import still ties two
modules together; with ``from __future__ import annotations`` it merely costs nothing at run
time). Importing ``a.b`` also runs ``a/__init__``; that is Python's doing, not an edge here.

Module names are relative to the package: ``_client``, ``emulator._process``, ``widgets._card``;
a package stands for its ``__init__`` (``emulator``, ``widgets``, and ``__init__`` for the root).

The rules:

1. **core-has-no-ui**: the core (every ``_*.py`` at the package top) imports neither a notebook
   library (IPython, ipywidgets, anywidget, traitlets, ipykernel) nor the UI modules (``magic``,
   ``magic_commands``, ``widgets``). Scripts, the CLI and other front ends use the core without
   a kernel.
2. **imports-point-down**: every module belongs to exactly one layer of :data:`LAYERS` and imports
   only modules of its own layer or a lower one.
3. **client-never-imports-emulator** and **emulator-stands-alone**: the client layer does not
   import the emulator (the package wires the emulator in as the keyless default, see
   ``_local``); the emulator imports only its own modules and the foundation, so it speaks the
   wire format and nothing of the client's; and **the-emulator-has-one-door**: outside the
   emulator, only ``_local`` imports it.
4. **no-cycles**: no two modules import each other, directly or around a loop (the strongly
   connected components of the import graph are single modules), but for :data:`ALLOWED_CYCLES`.
5. **no-private-names-across-modules**: ``from .m import _x`` only when ``_x`` is itself a module;
   a helper another module needs gets a public name in a module both can import.

Where ``_diff`` sits: it is pure text work with no imports of ours ("what differs between these
prompts"), used by display code at two levels: the video tools' contact sheet (engine) and the
HTML views. It is foundation, so ``_html -> _diff`` and ``_media -> _diff`` both point down; it is
no leak of one display helper into another.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cogvideo_nb

PKG = Path(cogvideo_nb.__file__).parent
ROOT = "__init__"  # the package's own __init__

# Running jobs: the job handle, its ledger, polling and pacing, saving results, the engine, the
# cost check, the video tools over finished jobs, and the wiring of the emulator as the keyless
# default (it needs both the client and the emulator).
ENGINE = frozenset({
    "_jobs", "_owners", "_ledger_rows", "_ledger", "_io_thread", "_polling", "_pacing", "_downloads",
    "_scheduler", "_engine", "_pipeline", "_cost", "_media", "_local", "_estimate", "_ratings",
})  # fmt: skip

# Bottom first. A subpackage is named once and holds all its modules.
LAYERS: list[tuple[str, frozenset[str]]] = [
    # Pure definitions every layer shares: errors, settings, the model catalogue, a request and
    # its validation, the wire format, the retry policy, the prompt diff, and the message catalogue
    # every layer speaks through (with argparse's help and errors said through it).
    (
        "foundation",
        frozenset(
            {
                "_errors",
                "_config",
                "_models",
                "_request",
                "_wire",
                "_retry",
                "_diff",
                "_i18n",
                "_i18n_argparse",
            }
        ),
    ),
    # A stand-in for the service: built on the foundation's model catalogue, beside the client.
    ("emulator", frozenset({"emulator"})),
    # Talking to the API: the two clients and what they share, the key's safety, one result file
    # streamed to disk, and the chat calls that rewrite and translate a prompt.
    ("client", frozenset({"_client", "_client_base", "_redact", "_files", "_enhance", "_translate"})),
    ("engine", ENGINE),
    # What a person reads, as plain text/HTML without a kernel: job cards, the study report, the
    # study plans behind the magic's commands, blind comparison, the folder as a gallery.
    ("views", frozenset({"_html", "_report", "_study", "_dryrun", "_blind", "_gallery"})),
    # Where a person drives it: the magic, the widgets, the command line, Python's functions
    # (``_api``) and the package's face.
    (
        "front ends",
        frozenset({"magic", "magic_commands", "widgets", "__main__", "_cli_batch", "_cli_lab", "_api", ROOT}),
    ),
]
# Cycles known and on their way out. Each entry is the set of modules of one cycle.
ALLOWED_CYCLES: set[frozenset[str]] = set()  # none: magic<->magic_commands went with the pipeline change

UI_LIBRARIES = {"IPython", "ipywidgets", "anywidget", "traitlets", "ipykernel"}
UI_MODULES = {"magic", "magic_commands", "widgets"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    line: int
    target: str | None  # a module of ours, or None for a third-party or stdlib one
    external: str  # the top-level name of a module not ours ("" for ours)
    names: tuple[str, ...]  # what ``from target import ...`` takes


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or ROOT


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _ours(dotted: str) -> str:
    """``dotted`` (relative to the package, possibly naming a function or class in a module) as
    the module it runs."""
    known = modules()
    while dotted and dotted not in known:
        dotted = dotted.rpartition(".")[0]
    return dotted or ROOT


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for name, path in modules().items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        package = "" if package == ROOT else package
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "cogvideo_nb":
                        found.append(Import(name, node.lineno, _ours(alias.name.partition(".")[2]), "", ()))
                    else:
                        found.append(Import(name, node.lineno, None, alias.name.split(".")[0], ()))
            elif isinstance(node, ast.ImportFrom):
                taken = tuple(a.name for a in node.names)
                if node.level == 0 and (node.module or "").split(".")[0] != "cogvideo_nb":
                    found.append(Import(name, node.lineno, None, (node.module or "").split(".")[0], taken))
                    continue
                if node.level == 0:
                    base = (node.module or "").partition(".")[2]
                else:
                    up = package.split(".") if package else []
                    up = up[: len(up) - (node.level - 1)]
                    base = ".".join([*up, *([node.module] if node.module else [])])
                # ``from . import x``: x may be a module of its own
                for taken_name in taken:
                    sub = f"{base}.{taken_name}" if base else taken_name
                    target = sub if sub in modules() else _ours(base)
                    found.append(Import(name, node.lineno, target, "", (taken_name,)))
    return tuple(found)


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in modules()}
    for imp in imports():
        if imp.target is not None and imp.target != imp.source:
            edges[imp.source].add(imp.target)
    return edges


def layer_of(module: str) -> int | None:
    head = module.split(".")[0] if module != ROOT else ROOT
    for rank, (_, members) in enumerate(LAYERS):
        if head in members:
            return rank
    return None


def where(imp: Import) -> str:
    return f"{modules()[imp.source].relative_to(PKG.parent)}:{imp.line}"


# -- rule 1: core-has-no-ui ------------------------------------------------------------------------
def core_modules() -> list[str]:
    return [m for m in modules() if "." not in m and m.startswith("_") and not m.startswith("__")]


def test_rule_core_has_no_ui() -> None:
    broken = sorted(
        {
            f"{where(imp)} {imp.source} imports {imp.external or imp.target}"
            for imp in imports()
            if imp.source in core_modules()
            and (imp.external in UI_LIBRARIES or (imp.target or "").split(".")[0] in UI_MODULES)
        }
    )
    assert broken == [], "core-has-no-ui:\n" + "\n".join(broken)


def test_rule_core_has_no_ui_when_imported() -> None:
    """The same rule at run time: importing the whole core loads no notebook library."""
    core = ["cogvideo_nb", *(f"cogvideo_nb.{m}" for m in core_modules())]
    code = "".join(f"import {m}\n" for m in ["sys", *core])
    code += f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(UI_LIBRARIES)!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- rule 2: imports-point-down --------------------------------------------------------------------
def test_rule_every_module_has_a_layer() -> None:
    assert [m for m in modules() if layer_of(m) is None] == [], "imports-point-down: modules without a layer"
    listed = {m for _, members in LAYERS for m in members}
    heads = {m.split(".")[0] for m in modules()}
    assert listed - heads == set(), "imports-point-down: LAYERS names modules that are gone"


def test_rule_imports_point_down() -> None:
    upward = set()
    for imp in imports():
        if imp.target is None:
            continue
        src, dst = layer_of(imp.source), layer_of(imp.target)
        if src is not None and dst is not None and dst > src:  # no layer: the test above says so
            upward.add(
                f"{where(imp)} {imp.source} ({LAYERS[src][0]}) imports {imp.target} ({LAYERS[dst][0]})"
            )
    broken = sorted(upward)
    assert broken == [], "imports-point-down:\n" + "\n".join(broken)


# -- rule 3: client-never-imports-emulator, emulator-stands-alone ----------------------------------
def test_rule_client_never_imports_emulator() -> None:
    client = dict(LAYERS)["client"]
    broken = sorted(
        {
            f"{where(imp)} {imp.source} imports {imp.target}"
            for imp in imports()
            if imp.source in client and (imp.target or "").split(".")[0] == "emulator"
        }
    )
    assert broken == [], "client-never-imports-emulator:\n" + "\n".join(broken)


def test_rule_the_emulator_has_one_door() -> None:
    """Only ``_local`` (the keyless default) imports the emulator: the engine and the front
    ends reach it through that one module, so swapping or removing it touches one file."""
    broken = sorted(
        {
            f"{where(imp)} {imp.source} imports {imp.target}"
            for imp in imports()
            if (imp.target or "").split(".")[0] == "emulator"
            and imp.source.split(".")[0] not in {"emulator", "_local"}
        }
    )
    assert broken == [], "the-emulator-has-one-door:\n" + "\n".join(broken)


def test_rule_emulator_stands_alone() -> None:
    allowed = dict(LAYERS)["foundation"] | {"emulator"}
    broken = sorted(
        {
            f"{where(imp)} {imp.source} imports {imp.target}"
            for imp in imports()
            if imp.source.split(".")[0] == "emulator"
            and imp.target is not None
            and imp.target.split(".")[0] not in allowed
        }
    )
    assert broken == [], "emulator-stands-alone:\n" + "\n".join(broken)


# -- rule 4: no-cycles -----------------------------------------------------------------------------
def strongly_connected(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Tarjan's algorithm, iterative: every component of more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                out.append(frozenset(component))
    return out


def test_strongly_connected_finds_loops() -> None:
    found = strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()})
    assert sorted(map(sorted, found)) == [["a", "b", "c"], ["d"], ["e"]]


def test_rule_no_cycles() -> None:
    cycles = {c for c in strongly_connected(graph()) if len(c) > 1}
    unexpected = sorted(sorted(c) for c in cycles - ALLOWED_CYCLES)
    assert unexpected == [], f"no-cycles: modules that import each other: {unexpected}"


# -- rule 5: no-private-names-across-modules -------------------------------------------------------
def test_rule_no_private_names_across_modules() -> None:
    broken = [
        f"{where(imp)} {imp.source} imports {imp.target}.{name}"
        for imp in imports()
        if imp.target is not None
        for name in imp.names
        if name.startswith("_") and not name.startswith("__") and imp.target.rpartition(".")[2] != name
    ]
    assert broken == [], "no-private-names-across-modules:\n" + "\n".join(broken)


# -- the public face -------------------------------------------------------------------------------
def test_public_names_are_pinned() -> None:
    assert sorted(cogvideo_nb.__all__) == sorted(
        [
            "MODELS", "APIError", "AsyncClient", "AuthenticationError", "BadRequestError", "Client",
            "CogVideoError", "ConfigError", "ContentFilterError", "Download", "DownloadError",
            "NetworkError", "NotFoundError", "PermissionDeniedError", "ProtocolError", "QuotaError",
            "RateLimitError",
            "RetryPolicy", "ServerError", "Settings", "TaskFailedError", "TaskState", "TaskStatus",
            "ValidationError", "VideoRequest", "WaitTimeoutError", "__version__", "build_request",
            "load_ipython_extension", "resolve_settings", "Engine", "Job", "JobStatus", "generate",
            "generate_many", "get_engine", "resume", "submit", "DuplicateRequestError",
            # issue 15: prompt craft and video tools
            "PaidJobsError", "enhance", "aenhance", "last_frame", "stitch", "tile", "rate", "report",
            # issue 22: bilingual prompt comparison
            "translate", "atranslate",
            # issue 23: the folder as a gallery
            "gallery",
        ]
    )  # fmt: skip
    for name in cogvideo_nb.__all__:
        assert hasattr(cogvideo_nb, name), name


def test_every_error_descends_from_the_root() -> None:
    errors = [getattr(cogvideo_nb, n) for n in cogvideo_nb.__all__ if n.endswith("Error")]
    assert len(errors) == 19  # the root and its eighteen descendants
    assert all(issubclass(e, cogvideo_nb.CogVideoError) for e in errors)
