"""Prompt translation: the same prompt in English or Chinese, to see which the model follows better.

A class comparing a Chinese prompt with its English translation (``--vary translate=off,en``)
sees how much the prompt's language matters to the video. The translation is asked of the same
free chat model as ``--enhance``, through the same call (``_enhance.chat``: one client, one key
handling, one retry policy, the emulator when no key is set), with a system prompt of its own.

A prompt already in the target language is left as it is, with no request: the language is
told by its script (Chinese characters against Latin words), which is cheap and enough for the
two languages offered (a Spanish prompt counts as Latin script, so ``en`` leaves it alone).
"""

from __future__ import annotations

import re

import httpx

from ._client import AsyncClient, Client
from ._config import Secret, hide_key
from ._enhance import MAX_PROMPT_CHARS, achat, chat
from ._errors import ValidationError
from ._i18n import N_, t

__all__ = [
    "LANGUAGE_NAMES",
    "TARGETS",
    "atranslate",
    "check_target",
    "prompt_language",
    "system_prompt",
    "translate",
]

TARGETS = ("en", "zh")
LANGUAGE_NAMES = {"en": N_("English"), "zh": N_("Chinese")}  # shown through t()
# How the system prompt names each language: the emulator reads this phrase to answer offline.
_WIRE_NAMES = {"en": "English", "zh": "Simplified Chinese"}
_OFF = ("off", "no", "none", "false", "0", "")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")


def check_target(target: object) -> str | None:
    """``en`` or ``zh`` (any case); None for no translation (None, ``off``). Anything else is a
    ValidationError, raised where the option is read: before anything is sent."""
    if target is None:
        return None
    if isinstance(target, str):
        low = target.strip().lower()
        if low in TARGETS:
            return low
        if low in _OFF:
            return None
    raise ValidationError(
        t("translate takes en or zh (or off), not {value}", value=repr(target)), field="translate"
    )


def prompt_language(text: str) -> str:
    """``zh`` when Chinese characters are at least as many as Latin words (a character carries
    about a word), else ``en``: mixed prompts count as the language most of their words are in."""
    characters = len(_CJK.findall(text))
    return "zh" if characters and characters >= len(_LATIN_WORD.findall(text)) else "en"


def system_prompt(target: str) -> str:
    """What the chat model is told: translate faithfully, add nothing, fit CogVideoX's limit."""
    name = _WIRE_NAMES[target]
    return (
        f"You translate prompts for CogVideoX, a text-to-video model, into {name}. Translate the "
        f"user's prompt faithfully into natural {name}, the way a native speaker writes a video "
        "prompt: keep every subject, action, setting, light, colour, style and camera instruction, "
        "add nothing and leave nothing out; keep names and numbers. Answer with the translation "
        "only (no notes, no quotes, no original text), at most "
        f"{MAX_PROMPT_CHARS - 12} characters: if a faithful translation would be longer, say the "
        "same more briefly rather than drop an idea."
    )


def _check(prompt: object, target: object) -> tuple[str, str | None]:
    into = check_target(target)
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValidationError(t("translate needs a non-empty prompt"), field="prompt")
    return prompt.strip(), into


def translate(
    prompt: str,
    target: str,
    *,
    model: str | None = None,
    client: Client | None = None,
    transport: httpx.BaseTransport | None = None,
    api_key: str | Secret | None = None,
    base_url: str | None = None,
    provider: str | None = None,
    timeout: float = 60.0,
) -> str:
    """``prompt`` in ``target`` (``en`` or ``zh``), by the free chat model; blocks.

    A prompt already in ``target`` (or ``target`` ``off``) comes back as it is, with no request.
    The other arguments are :func:`enhance`'s. Works offline on the emulator, which answers from
    a small glossary of common prompt words.
    """
    api_key = hide_key(api_key)  # first: a refused key must not show in this frame's locals
    text, into = _check(prompt, target)
    if into is None or prompt_language(text) == into:
        return text
    return chat(text, system_prompt(into), model=model, client=client, transport=transport, api_key=api_key,
                base_url=base_url, provider=provider, timeout=timeout, temperature=0.1)  # fmt: skip


async def atranslate(
    prompt: str,
    target: str,
    *,
    model: str | None = None,
    client: AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    api_key: str | Secret | None = None,
    base_url: str | None = None,
    provider: str | None = None,
    timeout: float = 60.0,
) -> str:
    """:func:`translate` as a coroutine."""
    api_key = hide_key(api_key)  # first: a refused key must not show in this frame's locals
    text, into = _check(prompt, target)
    if into is None or prompt_language(text) == into:
        return text
    return await achat(text, system_prompt(into), model=model, client=client, transport=transport,
                       api_key=api_key, base_url=base_url, provider=provider, timeout=timeout,
                       temperature=0.1)  # fmt: skip
