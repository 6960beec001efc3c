"""Every word the toolkit says, in English or Simplified Chinese, from one gettext catalogue.

Messages are English text with ``{name}`` placeholders; ``locale/zh/LC_MESSAGES/cogvideo_nb.po``
holds their Chinese, and the ``.mo`` beside it is what runs (made from the ``.po`` by Babel:
``scripts/i18n.sh``; a test fails when the two differ). Which language: an explicit choice
(``language=``, ``%config CogVideoMagics.language``, ``COGVIDEO_LANG``) > the language the page
is shown in (JupyterLab / Notebook 7: a widget view tells the kernel) > the language JupyterLab is
set to (its settings file, read by a kernel before any view has spoken: the form and the first
cell's words come first) > the kernel's locale (``LANG``) > English.
"""

from __future__ import annotations

import functools
import gettext
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "REASONS",
    "fallback_language",
    "language",
    "read_choice_with",
    "set_page_language",
    "t",
    "tn",
]

DOMAIN = "cogvideo_nb"
LANGUAGES = ("en", "zh")
LOCALE_DIR = Path(__file__).parent / "locale"
# Why a language is in force, in precedence order (messages: %cogvideo config says which).
REASONS = (
    "chosen: language=, %config CogVideoMagics.language or COGVIDEO_LANG",
    "the page's language",
    "JupyterLab's language setting",
    "the kernel's locale (LANG)",
    "the default",
)
_page: dict[str, str] = {}  # the page's language, as the UI layer last heard it
_PLUGIN = "@jupyterlab/translation-extension:plugin"
_LOCALE = re.compile(r'"locale"\s*:\s*"([^"]*)"')  # the settings file is JSON5: comments allowed


def _code(tag: str | None) -> str | None:
    code = (tag or "").lower().replace("-", "_").split("_")[0]
    return code if code in LANGUAGES else None


# How the chosen language is read (argument > %config > COGVIDEO_LANG, checked like every
# setting): the settings module says so when it loads. It speaks through this module, so this
# one cannot import it (the layering allows no cycle).
_choice: list[Callable[[Any], Any]] = []


def read_choice_with(read: Callable[[Any], Any]) -> None:
    """``read(explicit)``: the chosen language or None, a bad value a ConfigError (``_config``)."""
    _choice[:] = [read]


def set_page_language(tag: str | None) -> None:
    """What the page says its language is (``zh-CN``, ``en``); the UI layer calls this."""
    code = _code(tag)
    if code:
        _page["language"] = code
    else:
        _page.pop("language", None)


@functools.cache
def _setting_in(path: Path, mtime: float) -> str | None:
    """The locale a Lab settings file chooses ("" where it leaves the default), None if none."""
    try:
        text = path.read_text("utf-8")
        if path.suffix == ".json":  # overrides.json: the admin's defaults, plain JSON
            return str(json.loads(text).get(_PLUGIN, {}).get("locale", "")) or None
        found = _LOCALE.search(text)
    except (OSError, ValueError, AttributeError):
        return None
    return found.group(1) if found else None


def _lab_setting() -> str | None:
    """The language JupyterLab and Notebook 7 are set to (Settings > Language), as their server
    stores it: the user's choice, else the admin's ``overrides.json``. Only in a kernel: a
    terminal has no page, so the CLI never follows it."""
    if "ipykernel" not in sys.modules:
        return None
    config = Path(os.environ.get("JUPYTER_CONFIG_DIR") or Path.home() / ".jupyter")
    user = Path(os.environ.get("JUPYTERLAB_SETTINGS_DIR") or config / "lab" / "user-settings")
    for path in (
        user / "@jupyterlab" / "translation-extension" / "plugin.jupyterlab-settings",
        Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json",
    ):
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        locale = _setting_in(path, mtime)
        if locale is not None:  # "default" is a choice too: the server's language, not ours
            return _code(locale)
    return None


def language(explicit: str | None = None) -> tuple[str, str]:
    """``(code, why)``: the language in force and what chose it (``%cogvideo config`` says)."""
    chosen = _choice[0](explicit) if _choice else None
    if chosen is not None:
        return str(chosen), REASONS[0]
    return fallback_language()


def fallback_language() -> tuple[str, str]:
    """The language when none is chosen: the page's, else Lab's setting, else the kernel's
    locale, else English (a bad chosen language is refused in this one: it cannot be said in the
    language it fails to name)."""
    if "language" in _page:
        return _page["language"], REASONS[1]
    lab = _lab_setting()
    if lab is not None:
        return lab, REASONS[2]
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return ("zh" if value.lower().startswith("zh") else "en"), REASONS[3]
    return "en", REASONS[4]


@functools.cache
def _catalogue(code: str) -> gettext.NullTranslations:
    if code == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[code])


def N_(message: str) -> str:
    """Mark a message said later (an option's help, a constant): gettext's convention, so the
    catalogue test finds it; ``t(...)`` translates it where it is shown."""
    return message


def t(message: str, lang: str | None = None, /, **values: Any) -> str:
    """``message`` in the language in force (or ``lang``), its placeholders filled."""
    text = _catalogue(lang or language()[0]).gettext(message)
    return text.format(**values) if values else text


def tn(singular: str, plural: str, n: int, lang: str | None = None, /, **values: Any) -> str:
    """A message that depends on a count (``{n}`` is filled with it): Chinese has one form."""
    text = _catalogue(lang or language()[0]).ngettext(singular, plural, n)
    return text.format(n=n, **values)
