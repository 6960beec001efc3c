"""Every word the toolkit says, in English or Simplified Chinese, from one gettext catalogue.

Messages are English text with ``{name}`` placeholders; ``locale/zh/LC_MESSAGES/cogvideo_nb.po``
holds their Chinese, and the ``.mo`` beside it is what runs (made from the ``.po`` by Babel:
``scripts/i18n.sh``; a test fails when the two differ). Which language: an explicit choice
(``language=``, ``%config CogVideoMagics.language``, ``COGVIDEO_LANG``) > the language the page
is set to (JupyterLab / Notebook 7, told by the page) > the kernel's locale (``LANG``) > English.
"""

from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path
from typing import Any

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "REASONS",
    "language",
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
    "the kernel's locale (LANG)",
    "the default",
)
_page: dict[str, str] = {}  # the page's language, as the UI layer last heard it


def set_page_language(tag: str | None) -> None:
    """What the page says its language is (``zh-CN``, ``en``); the UI layer calls this."""
    code = (tag or "").lower().replace("-", "_").split("_")[0]
    if code in LANGUAGES:
        _page["language"] = code
    else:
        _page.pop("language", None)


def language(explicit: str | None = None) -> tuple[str, str]:
    """``(code, why)``: the language in force and what chose it (``%cogvideo config`` says)."""
    from ._config import resolve  # checked like every setting: a bad value is a ConfigError

    chosen = resolve("language", explicit)
    if chosen is not None:
        return str(chosen), REASONS[0]
    if "language" in _page:
        return _page["language"], REASONS[1]
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return ("zh" if value.lower().startswith("zh") else "en"), REASONS[2]
    return "en", REASONS[3]


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
