"""The words a widget's page code shows, from the one catalogue (``_i18n``), sent by the kernel.

A page module says each word as ``T("English message")``; the kernel finds those messages in the
module's own source and sends their translations as the widget's ``text`` trait, so there is no
second list of words in JavaScript to drift from the catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .._i18n import set_page_language, t

__all__ = ["STATUS_WORDS", "heard_page", "messages_in", "page_text"]

# What a person reads for each job status (the badge); "detached" is the code's word.
STATUS_WORDS = (
    "queued", "submitting", "running", "downloading", "succeeded", "failed", "stopped waiting", "unknown",
)  # fmt: skip
_CALL = re.compile(r'\bT\("((?:[^"\\]|\\.)*)"')


def messages_in(source: str) -> list[str]:
    """Every ``T("...")`` message of a page module, in order, once each."""
    return list(dict.fromkeys(m.encode().decode("unicode_escape") for m in _CALL.findall(source)))


def page_text(source: str, lang: str, extra: Iterable[str] = ()) -> dict[str, str]:
    """English message -> its translation, for every word the page module shows."""
    return {m: t(m, lang) for m in [*messages_in(source), *extra]}


def heard_page(content: dict[str, Any]) -> bool:
    """A view's report of the language its page is shown in (``cvnbTellLanguage``): from now on
    the page's language counts (``_i18n.language``). True if the message was that report."""
    tag = content.get("page_language")
    if not isinstance(tag, str):
        return False
    set_page_language(tag)
    return True
