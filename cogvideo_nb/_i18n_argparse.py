"""argparse in the language in force: help and errors said through the message catalogue.

Help texts are marked ``N_()`` where a parser is built (or :class:`Lazy`, for one with values
filled in), and :class:`Formatter` says each in the language in force when help is shown: a
parser built once at import (the magics' are) reads in the language of whoever asks, and building
a parser never needs the language. :func:`argparse_message` says argparse's own messages
("unrecognized arguments: ...", "invalid choice: ...") the same way; one it does not know stays as
argparse said it.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
import unicodedata
from collections.abc import Iterable
from typing import Any, NoReturn

from ._i18n import N_, t

__all__ = ["Formatter", "Lazy", "Parser", "argparse_message", "said"]


class Lazy(str):
    """A message with values, said later: the English now (what argparse and IPython's docstring
    hold), the language in force wherever :func:`said` reads it. A value that is a message is a
    ``Lazy`` too (``Lazy(opt.help)``); other values are shown as they are."""

    message: str
    values: dict[str, Any]

    def __new__(cls, message: str, /, **values: Any) -> Lazy:
        text = super().__new__(cls, message.format(**values) if values else message)
        text.message, text.values = message, values
        return text

    def now(self, lang: str | None = None) -> str:
        values = {k: v.now(lang) if isinstance(v, Lazy) else v for k, v in self.values.items()}
        return t(self.message, lang, **values)


def said(text: str, lang: str | None = None) -> str:
    """``text`` in the language in force (or ``lang``): a :class:`Lazy` with its values, or a
    message as is (text the catalogue does not hold, a program name or a path, stays as it is)."""
    return text.now(lang) if isinstance(text, Lazy) else t(text, lang)


# argparse's own words (it says them through gettext's default domain, which has no Chinese):
# the titles and the -h option's help its parsers hold, and the usage line's prefix.
_HEADINGS = (N_("positional arguments"), N_("options"), N_("show this help message and exit"))


class Formatter(argparse.HelpFormatter):
    """Help in the language in force (or ``lang``): each help text, description, epilog and
    heading looked up in the catalogue as it is formatted, Chinese wrapped by columns."""

    def __init__(self, prog: str, *args: Any, lang: str | None = None, **kwargs: Any) -> None:
        super().__init__(prog, *args, **kwargs)
        self.lang = lang

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, t("usage: ", self.lang) if prefix is None else prefix)

    def start_section(self, heading: str | None) -> None:
        super().start_section(said(heading, self.lang) if heading else heading)

    def add_text(self, text: str | None) -> None:
        super().add_text(said(text, self.lang) if text and text is not argparse.SUPPRESS else text)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        shown = action.help and action.help is not argparse.SUPPRESS
        return said(action.help, self.lang) if shown and action.help else action.help

    # argparse wraps by characters at spaces; Chinese has no spaces and each character is two
    # columns wide, so wide text is wrapped by columns, between characters (_wrap).
    def _split_lines(self, text: str, width: int) -> list[str]:
        return _wrap(text, width) if _wide(text) else super()._split_lines(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if not _wide(text):
            return super()._fill_text(text, width, indent)
        return "\n".join(indent + line for line in _wrap(text, width - len(indent)))


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _wide(text: str) -> bool:
    return _columns(text) > len(text)


_NO_BREAK_BEFORE = "，。、；：！？）」』”"
_NO_BREAK_AFTER = "（「『“"


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` columns, broken at a space or between two wide characters (not
    before closing punctuation, not after opening), never inside a word like --no-browser."""
    tokens: list[str] = []
    for word in text.split():
        if tokens:
            tokens.append(" ")
        for c in word:
            wide = _columns(c) == 2
            if tokens and (c in _NO_BREAK_BEFORE or tokens[-1][-1] in _NO_BREAK_AFTER):
                tokens[-1] += c
            elif wide or not tokens or tokens[-1] == " " or _columns(tokens[-1][-1]) == 2:
                tokens.append(c)
            else:
                tokens[-1] += c  # a narrow run stays one token
    lines = [""]
    for piece in tokens:
        if piece == " ":
            lines[-1] += " " if lines[-1] else ""
        elif lines[-1].strip() and _columns(lines[-1] + piece) > width:
            lines[-1] = lines[-1].rstrip()
            lines.append(piece)
        else:
            lines[-1] += piece
    return [line.rstrip() for line in lines]


# argparse's messages (Python 3.10 to 3.13), as it says them, and ours for each.
_ARGPARSE = tuple(
    (re.compile(pattern, re.S), message)
    for pattern, message in (
        (r"argument (?P<argument>.+?): (?P<problem>.+)", N_("argument {argument}: {problem}")),
        (r"unrecognized arguments: (?P<words>.*)", N_("unrecognized arguments: {words}")),
        (
            r"the following arguments are required: (?P<names>.*)",
            N_("the following arguments are required: {names}"),
        ),
        (r"expected one argument", N_("expected one argument")),
        (r"expected at most one argument", N_("expected at most one argument")),
        (r"expected at least one argument", N_("expected at least one argument")),
        (
            r"invalid choice: (?P<value>.+?) \(choose from (?P<choices>.*)\)",
            N_("invalid choice: {value} (choose from {choices})"),
        ),
        (r"invalid (?P<type>\S+) value: (?P<value>.*)", N_("invalid {type} value: {value}")),
        (
            r"ambiguous option: (?P<option>\S+) could match (?P<matches>.*)",
            N_("ambiguous option: {option} could match {matches}"),
        ),
        (r"ignored explicit argument (?P<value>.*)", N_("ignored explicit argument {value}")),
    )
)


def argparse_message(message: str, lang: str | None = None) -> str:
    """One of argparse's error messages in the language in force (``argument X: ...`` with its
    inner message too); a message it does not know, or one of ours, is returned as it is."""
    for pattern, ours in _ARGPARSE:
        m = pattern.fullmatch(message)
        if m:
            values = m.groupdict()
            if "problem" in values:
                values["problem"] = argparse_message(values["problem"], lang)
            return t(ours, lang, **values)
    return message


class Parser(argparse.ArgumentParser):
    """A command line's parser: help through :class:`Formatter`, and an error said in the
    language in force or ``lang`` (usage, then ``prog: error: message``; exit status 2, as
    argparse's)."""

    def __init__(self, *args: Any, lang: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", functools.partial(Formatter, lang=lang))
        super().__init__(*args, **kwargs)
        self.lang = lang

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        message = argparse_message(message, self.lang)
        self.exit(2, t("{prog}: error: {message}", self.lang, prog=self.prog, message=message) + "\n")
