"""What differs between the prompts of a grid, for teaching: pure string work, tested directly.

Each cell is compared with the previous one (the first with the second), so a grid that adds one
part at a time highlights exactly what each step added. When the neighbour is unrelated (most of
the text differs), the cell is compared with every other cell instead, and only what none of them
shares is highlighted. Text is split into words, except CJK, which is compared character by
character (it has no spaces between words); punctuation and spaces are never a difference.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence

__all__ = ["diff_parts", "tokens"]

# One CJK character (Han, kana, hangul, fullwidth forms) is one token; other words run to a space
# or punctuation; spaces and punctuation are their own tokens.
_CJK = r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"
_TOKEN = re.compile(rf"\s+|{_CJK}|[^\s\W]+|.", re.UNICODE)
# Below this similarity the previous cell is not a "step" of this one: compare with all others.
RELATED = 0.5


def tokens(text: str) -> list[str]:
    """Words, single CJK characters, runs of space and single punctuation marks, in order."""
    return _TOKEN.findall(text)


def _is_word(token: str) -> bool:
    return not token.isspace() and any(unicodedata.category(c)[0] in "LN" for c in token)


def _keys(toks: list[str]) -> list[str]:
    """What is compared: words, lower-cased; spaces and punctuation drop out."""
    return [t.lower() for t in toks if _is_word(t)]


def _changed(mine: list[str], other: list[str]) -> set[int]:
    """Indexes (into the word list ``mine``) of words not matched in ``other``."""
    matcher = difflib.SequenceMatcher(None, mine, other, autojunk=False)
    same: set[int] = set()
    for block in matcher.get_matching_blocks():
        same.update(range(block.a, block.a + block.size))
    return set(range(len(mine))) - same


def _similarity(a: list[str], b: list[str]) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() if a or b else 1.0


def _neighbour(keys: list[list[str]], i: int) -> int:
    """The nearest earlier cell with a different prompt, else the nearest later one (a --vary
    grid repeats each prompt: the copies are compared with the next prompt, not each other)."""
    order: list[int] = [*range(i - 1, -1, -1), *range(i + 1, len(keys))]
    for j in order:
        if keys[j] != keys[i]:
            return j
    return i - 1 if i > 0 else 1


def diff_parts(prompts: Sequence[str]) -> list[list[tuple[str, bool]]]:
    """Each prompt as (text, differs) runs, highlighting what differs from its neighbour."""
    toks = [tokens(p) for p in prompts]
    keys = [_keys(t) for t in toks]
    out: list[list[tuple[str, bool]]] = []
    for i, ts in enumerate(toks):
        if len(prompts) < 2:
            changed: set[int] = set()
        else:
            j = _neighbour(keys, i)
            if _similarity(keys[i], keys[j]) >= RELATED:
                changed = _changed(keys[i], keys[j])
            else:  # unrelated neighbour: highlight only what no other cell shares
                changed = set.intersection(
                    *(_changed(keys[i], keys[k]) for k in range(len(prompts)) if k != i)
                )
        parts: list[tuple[str, bool]] = []
        w = 0
        for t in ts:
            differs = False
            if _is_word(t):
                differs = w in changed
                w += 1
            if parts and parts[-1][1] == differs:
                parts[-1] = (parts[-1][0] + t, differs)
            else:
                parts.append((t, differs))
        out.append(_tidy(parts))
    return out


def _tidy(parts: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Join highlighted runs separated only by spaces or punctuation ("golden hour, calm")."""
    merged: list[tuple[str, bool]] = []
    for text, differs in parts:
        between = merged[-1][0] if merged and not merged[-1][1] else "x"
        if differs and len(merged) >= 2 and not any(_is_word(t) for t in tokens(between)):
            space = merged.pop()[0]
            prev = merged.pop()[0]
            merged.append((prev + space + text, True))
        elif merged and merged[-1][1] == differs:
            merged[-1] = (merged[-1][0] + text, differs)
        else:
            merged.append((text, differs))
    return merged
