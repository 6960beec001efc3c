"""``cogvideo lab``: the main job from an installed package, with no clone and no key.

The notebooks ship inside the package, in English (``notebooks/``) and Simplified Chinese
(``notebooks/zh/``, the same names); they are copied into a folder the user owns, because a
notebook opened from site-packages would be edited in place (or fail to save) and be lost on
the next upgrade. A file already there is never overwritten: it may hold the user's work.

Which set: ``--lang``, else the one language rule of the toolkit (``_i18n.language``:
``COGVIDEO_LANG``, else the locale). Chinese notebooks get a Chinese toolkit: JupyterLab starts
with ``COGVIDEO_LANG=zh``, which its kernels inherit; with the language pack installed its own
menus are Chinese too, for that run only (see ``chinese_ui_settings``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import urllib.parse
from collections.abc import Mapping, Sequence
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from ._errors import ConfigError
from ._i18n import N_, language, t
from ._i18n_argparse import Lazy, Parser

__all__ = [
    "NOTEBOOKS",
    "ZH_UI_PACK",
    "chinese_ui_settings",
    "copy_notebooks",
    "lab_command",
    "lab_main",
    "shipped_notebooks",
]

NOTEBOOKS = ("quickstart.ipynb", "prompt_design.ipynb", "comparison_grid.ipynb", "prompt_lab.ipynb")
DEFAULT_DIR = "cogvideo_notebooks"
# JupyterLab's Simplified Chinese language pack (a module; pip's name is ZH_UI_PIP).
ZH_UI_PACK = "jupyterlab_language_pack_zh_CN"
ZH_UI_PIP = "jupyterlab-language-pack-zh-CN"
# JupyterLab takes its UI language from this setting (Settings > Language writes it).
_TRANSLATION = "@jupyterlab/translation-extension:plugin"

_DESCRIPTION = N_(
    "Copy the tutorial notebooks into a folder you own and open JupyterLab on the quickstart. "
    "Arguments after the options go to `jupyter lab` (e.g. --no-browser --port 8899)."
)
_HELP_DIR = N_("where the notebooks go (default ./{folder})")
_HELP_OPEN = N_("notebook to open (default {name})")
_HELP_LANG = N_(
    "the notebooks' language, and the toolkit's in them: en or zh "
    "(default: COGVIDEO_LANG, else the locale; {language} here)"
)


def shipped_notebooks(lang: str) -> Traversable:
    """The folder of the shipped notebooks in ``lang`` (``en`` or ``zh``)."""
    shipped = resources.files("cogvideo_nb") / "notebooks"
    return shipped / "zh" if lang == "zh" else shipped


def copy_notebooks(folder: Path, lang: str = "en") -> tuple[list[Path], list[Path]]:
    """Copy the shipped notebooks in ``lang`` into ``folder`` (same names, at its top level);
    returns (copied, kept as the user left them)."""
    folder.mkdir(parents=True, exist_ok=True)
    shipped = shipped_notebooks(lang)
    copied: list[Path] = []
    kept: list[Path] = []
    for name in NOTEBOOKS:
        target = folder / name
        try:
            # "x": create only if absent, so a user's edited copy is never replaced, even in a race.
            with target.open("xb") as f:
                f.write((shipped / name).read_bytes())
            copied.append(target)
        except FileExistsError:
            kept.append(target)
    return copied, kept


def chinese_ui_settings(into: Path, app_settings: Path) -> Path:
    """JupyterLab's app settings folder ``app_settings``, copied into ``into``, with one default
    more: the UI language zh_CN. Given to one run as ``--LabApp.app_settings_dir``.

    A default, not a choice: the user's own Settings > Language (their user settings) and the
    deployment's ``overrides.json`` still win, and nothing outside ``into`` is written, so the
    next plain ``jupyter lab`` is as it was. The copy keeps the deployment's page config and
    overrides; the built app's ``static/package.json`` beside it is copied too, because
    JupyterLab reads its extension metadata from next to the settings folder.
    """
    if into.exists():
        shutil.rmtree(into)  # made anew each run: the deployment's settings may have changed
    settings = into / "settings"
    if app_settings.is_dir():
        shutil.copytree(app_settings, settings)
    (settings / "overrides.d").mkdir(parents=True, exist_ok=True)
    # overrides.d ranks below overrides.json: a deployment's own language default is kept.
    ours = {_TRANSLATION: {"locale": "zh_CN"}}
    (settings / "overrides.d" / "cogvideo_nb-zh_CN.json").write_text(json.dumps(ours), "utf-8")
    package = app_settings.parent / "static" / "package.json"
    if package.is_file():
        (into / "static").mkdir()
        shutil.copy(package, into / "static" / "package.json")
    return settings


def lab_command(
    folder: Path,
    notebook: str,
    jupyter_args: Sequence[str],
    *,
    kernel_language: str | None,
    app_settings_dir: Path | None,
    environ: Mapping[str, str],
) -> tuple[list[str], dict[str, str]]:
    """The JupyterLab command line and its environment (what its kernels inherit)."""
    # default_url, not a positional file: it also makes the printed URL (--no-browser, remote
    # machines) open the quickstart, and `python -m jupyterlab FILE` ignores the file.
    page = "/lab/tree/" + urllib.parse.quote(notebook)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={folder}",
        f"--LabApp.default_url={page}",
    ]
    if app_settings_dir is not None:
        cmd.append(f"--LabApp.app_settings_dir={app_settings_dir}")
    # JupyterLab refuses to start as root without this; containers and cloud VMs run as root.
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in jupyter_args:
        cmd.append("--allow-root")
    cmd += jupyter_args
    env = dict(environ)
    if kernel_language is not None:
        env["COGVIDEO_LANG"] = kernel_language
    return cmd, env


def _parser(lang: str) -> Parser:
    """The options, said in ``lang``: the one --lang chose, which may not be the one in force."""
    p = Parser(prog="cogvideo lab", description=_DESCRIPTION, lang=lang)
    p.add_argument("--dir", default=DEFAULT_DIR, help=Lazy(_HELP_DIR, folder=DEFAULT_DIR))
    p.add_argument("--open", default=NOTEBOOKS[0], help=Lazy(_HELP_OPEN, name=NOTEBOOKS[0]))
    p.add_argument("--lang", metavar="{en,zh}", help=Lazy(_HELP_LANG, language=lang))
    return p


def _choose_language(argv: Sequence[str]) -> tuple[str, bool] | str:
    """(the language, whether --lang chose it), or the error to print (in the best language we have)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--lang", nargs="?")  # a missing value is the full parser's error to say
    given = pre.parse_known_args(argv)[0].lang
    bad_env: ConfigError | None = None
    try:
        fallback = language()[0]
    except ConfigError as exc:  # a bad COGVIDEO_LANG: said below, unless --lang decides anyway
        fallback, bad_env = "en", exc
    if given is not None:
        try:
            return language(given)[0], True
        except ConfigError:
            error = t("--lang takes en or zh, not '{value}'", fallback, value=given)
            return t("error: {error}", fallback, error=error)
    if bad_env is not None:
        return t("error: {error}", "en", error=bad_env)
    return fallback, False


# Options that give JupyterLab an app or settings folder of the user's own: then it is left alone.
_OWN_APP = {"app_dir", "LabApp.app_dir", "LabApp.app_settings_dir", "LabServerApp.app_settings_dir",
            "core_mode", "dev_mode"}  # fmt: skip


def _ui_settings(lang: str, jupyter_args: Sequence[str]) -> tuple[Path | None, str]:
    """The app settings folder that makes JupyterLab's own UI Chinese, if it can; and what to say."""
    if lang != "zh":
        return None, ""
    if importlib.util.find_spec(ZH_UI_PACK) is None:
        return None, t(
            "JupyterLab's own menus stay in English; for Chinese ones: pip install {package}",
            lang,
            package=ZH_UI_PIP,
        )
    if any(arg.lstrip("-").replace("-", "_").split("=")[0] in _OWN_APP for arg in jupyter_args):
        return None, ""  # the user points JupyterLab at its own app or settings folder: theirs
    from jupyter_core.paths import jupyter_runtime_dir
    from jupyterlab.commands import get_app_dir  # JupyterLab's own answer (venv, --user, /usr/local)

    into = Path(jupyter_runtime_dir()) / "cogvideo_nb-lab-zh_CN"
    try:
        settings = chinese_ui_settings(into, Path(get_app_dir()) / "settings")
    except OSError:
        return None, ""  # the notebooks and the toolkit are Chinese all the same
    return settings, t("JupyterLab's own menus in Chinese too ({package})", lang, package=ZH_UI_PIP)


def lab_main(argv: Sequence[str]) -> int:
    chosen = _choose_language(argv)
    if isinstance(chosen, str):
        print(chosen, file=sys.stderr)
        return 2
    lang, explicit = chosen
    args, jupyter_args = _parser(lang).parse_known_args(argv)
    folder = Path(args.dir).expanduser().resolve()
    try:
        copied, kept = copy_notebooks(folder, lang)
    except OSError as exc:
        said = t(
            "error: cannot write the notebooks to {folder}: {reason}",
            lang,
            folder=folder,
            reason=exc.strerror or exc,
        )
        print(said, file=sys.stderr)
        return 1
    for path in copied:
        print(t("copied  {path}", lang, path=path), file=sys.stderr)
    for path in kept:
        said = t("kept    {path} (already there: your copy is left as it is)", lang, path=path)
        print(said, file=sys.stderr)
    if importlib.util.find_spec("jupyterlab") is None:
        print(
            t(
                "error: JupyterLab is not installed here; install it with: {command}",
                lang,
                command="pip install 'cogvideo_nb[lab]'",
            ),
            file=sys.stderr,
        )
        return 1
    settings, ui_note = _ui_settings(lang, jupyter_args)
    cmd, env = lab_command(
        folder,
        args.open,
        jupyter_args,
        # The toolkit in these notebooks speaks their language; English by default stays
        # undecided, so the page's language can still choose.
        kernel_language=lang if explicit or lang != "en" else None,
        app_settings_dir=settings,
        environ=os.environ,
    )
    if ui_note:
        print(ui_note, file=sys.stderr)
    print(t("starting JupyterLab on {path}", lang, path=folder / args.open), file=sys.stderr)
    sys.stderr.flush()
    os.chdir(folder)
    if os.name == "posix":  # become the server, so Ctrl+C and signals reach it directly
        os.execve(sys.executable, cmd, env)  # noqa: S606 (argv list, no shell)
    import subprocess

    return subprocess.call(cmd, env=env)
