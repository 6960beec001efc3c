"""Prompt enhancement: rewrite a short prompt into the long, detailed kind CogVideoX was trained on.

The model's authors recommend this step (an LLM expands the prompt before generation). It goes
through the platform's OpenAI-compatible ``POST /chat/completions`` with its free chat model
(``glm-4-flash``; on Z.ai ``glm-4.5-flash``) and our own system prompt. The sync and async paths
share every pure step (body, parsing, cleanup) and go through the same clients as video jobs,
their own ``_request`` included: one key handling, one size cap, one scrubbing of the answer,
one retry policy, the emulator when no key is set, an injectable httpx transport for tests.
``chat``/``achat`` are that one call; ``_translate`` asks the same free model for a translation
through them, with its own system prompt.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import httpx

from ._client import AsyncClient, Client
from ._config import Secret, hide_key
from ._errors import ProtocolError, ValidationError
from ._i18n import t
from ._wire import raise_for_error

__all__ = [
    "DEFAULT_CHAT_MODEL",
    "FREE_CHAT_MODELS",
    "MAX_PROMPT_CHARS",
    "SYSTEM_PROMPT",
    "achat",
    "aenhance",
    "chat",
    "chat_body",
    "clean_reply",
    "enhance",
    "parse_chat",
    "prompt_diff",
]

DEFAULT_CHAT_MODEL = "glm-4-flash"  # BigModel's free chat model
FREE_CHAT_MODELS = {"bigmodel": "glm-4-flash", "zai": "glm-4.5-flash"}  # per platform
_THINKS = re.compile(r"^glm-(4\.[5-9]|[5-9])")  # reasoning models: thinking off, a rewrite needs none
MAX_PROMPT_CHARS = 512  # CogVideoX's prompt limit: the rewrite is made for CogVideoX

SYSTEM_PROMPT = f"""\
You rewrite prompts for CogVideoX, a text-to-video model trained on long, detailed, \
literal descriptions of short video clips. Rewrite the user's prompt into one paragraph that \
describes, concretely and in this order:
1. Subject: who or what is shown, with visible details (appearance, colour, texture, clothing).
2. Motion: what moves and how, and how the camera moves (dolly, pan, tracking, static).
3. Scene: where it happens, foreground and background, time of day, weather.
4. Light and mood: light source, direction and quality, colours, atmosphere.
5. Style: photographic or artistic style, lens, film stock or medium.
Rules: keep every idea of the original and never contradict it; invent only what a camera \
would see; no sound, no dialogue, no cuts, no on-screen text unless the user asked; write in \
the same language as the user's prompt; answer with the rewritten prompt only (no title, no \
quotes, no explanation); at most {MAX_PROMPT_CHARS - 62} characters."""

_PREFIX = re.compile(
    r"^\s*(?:(?:enhanced|rewritten|improved|translated)?\s*prompt|translation|译文|翻译)\s*[:：]\s*",
    re.IGNORECASE,
)
_QUOTES = "\"'“”‘’「」『』"
_TOKEN = re.compile(
    r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\s\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+|\s+"
)


def _check(prompt: str) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValidationError(t("enhance needs a non-empty prompt"), field="prompt")
    return prompt.strip()


def chat_body(
    prompt: str, model: str = DEFAULT_CHAT_MODEL, *, system: str = SYSTEM_PROMPT, temperature: float = 0.3
) -> dict[str, Any]:
    """The ``/chat/completions`` JSON for one rewrite (low temperature: fewer surprises);
    ``system`` says which rewrite (this module's enhancement, or ``_translate``'s translation)."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": _check(prompt)},
        ],
        "temperature": temperature,
        "max_tokens": 512,
        "stream": False,
    }
    if _THINKS.match(model):
        body["thinking"] = {"type": "disabled"}
    return body


def clean_reply(text: str, limit: int = MAX_PROMPT_CHARS) -> str:
    """Strip the wrappers chat models add ("Prompt:", quotes, blank lines) and fit the API's
    512 characters, cutting at the last sentence (or word) end that fits."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    if len(paragraphs) > 1 and paragraphs[0].rstrip().endswith((":", "：")):
        paragraphs = paragraphs[1:]  # "Here is the rewritten prompt:" and the like
    text = " ".join(" ".join(paragraphs).split())
    text = _PREFIX.sub("", text).strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    ends = [cut.rfind(ch) for ch in ".!?。！？"]
    end = max(ends)
    if end >= limit // 2:
        return cut[: end + 1]
    space = cut.rfind(" ")
    return (cut[:space] if space >= limit // 2 else cut).rstrip(" ,;:，；")


def parse_chat(response: httpx.Response) -> str:
    """The rewritten prompt from an OpenAI-style answer; API errors map onto our error tree."""
    raise_for_error(response)
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(t("the chat answer is not valid JSON"), retryable=True) from None
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ProtocolError(t("the chat answer has no choices[0].message.content")) from None
    if not isinstance(content, str) or not clean_reply(content):
        raise ProtocolError(t("the chat model returned an empty prompt"))
    return clean_reply(content)


def _body(
    client: Client | AsyncClient, prompt: str, model: str | None, system: str, temp: float
) -> dict[str, Any]:
    chosen = model or FREE_CHAT_MODELS.get(client.provider, DEFAULT_CHAT_MODEL)
    return chat_body(prompt, chosen, system=system, temperature=temp)


def chat(
    prompt: str,
    system: str,
    *,
    model: str | None = None,
    client: Client | None = None,
    transport: httpx.BaseTransport | None = None,
    api_key: str | Secret | None = None,
    base_url: str | None = None,
    provider: str | None = None,
    timeout: float = 60.0,
    temperature: float = 0.3,
) -> str:
    """One rewrite of ``prompt`` by the chat model as ``system`` asks, cleaned; blocks. The one
    call behind :func:`enhance` and ``_translate.translate``: a given ``client`` is used (and
    left open), else one is made for the call, on the emulator when no key is set."""
    api_key = hide_key(api_key)  # first: a refused key must not show in this frame's locals
    own = client is None
    c = client or Client(api_key, base_url, transport=transport, timeout=timeout, provider=provider)
    try:
        return c.post("/chat/completions", _body(c, prompt, model, system, temperature), parse_chat)
    finally:
        if own:
            c.close()


async def achat(
    prompt: str,
    system: str,
    *,
    model: str | None = None,
    client: AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    api_key: str | Secret | None = None,
    base_url: str | None = None,
    provider: str | None = None,
    timeout: float = 60.0,
    temperature: float = 0.3,
) -> str:
    """:func:`chat` as a coroutine."""
    api_key = hide_key(api_key)  # first: a refused key must not show in this frame's locals
    own = client is None
    c = client or AsyncClient(api_key, base_url, transport=transport, timeout=timeout, provider=provider)
    try:
        return await c.post("/chat/completions", _body(c, prompt, model, system, temperature), parse_chat)
    finally:
        if own:
            await c.aclose()


def enhance(
    prompt: str,
    *,
    model: str | None = None,
    client: Client | None = None,
    transport: httpx.BaseTransport | None = None,
    api_key: str | Secret | None = None,
    base_url: str | None = None,
    provider: str | None = None,
    timeout: float = 60.0,
) -> str:
    """Rewrite ``prompt`` into a detailed CogVideoX prompt (in the same language); blocks.

    ``model``: the chat model; by default the platform's free one (``glm-4-flash`` on BigModel,
    ``glm-4.5-flash`` on Z.ai).
    ``timeout``: seconds for the whole call, retries included (a given ``client``'s own timeout
    is used instead). Works offline on the emulator, which answers with a deterministic
    rule-based expansion.
    """
    api_key = hide_key(api_key)  # first: a refused key must not show in this frame's locals
    _check(prompt)
    return chat(prompt, SYSTEM_PROMPT, model=model, client=client, transport=transport, api_key=api_key,
                base_url=base_url, provider=provider, timeout=timeout)  # fmt: skip


async def aenhance(
    prompt: str,
    *,
    model: str | None = None,
    client: AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    api_key: str | Secret | None = None,
    base_url: str | None = None,
    provider: str | None = None,
    timeout: float = 60.0,
) -> str:
    """:func:`enhance` as a coroutine, for the engine loop and async code."""
    api_key = hide_key(api_key)  # first: a refused key must not show in this frame's locals
    _check(prompt)
    return await achat(prompt, SYSTEM_PROMPT, model=model, client=client, transport=transport,
                       api_key=api_key, base_url=base_url, provider=provider, timeout=timeout)  # fmt: skip


def prompt_diff(original: str, enhanced: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """Both prompts as (text, changed) runs: words the rewrite removed, and words it added.

    Words are compared case-blind; CJK text is compared character by character.
    """
    a, b = _TOKEN.findall(original), _TOKEN.findall(enhanced)
    key_a = [t.lower().strip(",.;:!?，。；：！？") for t in a]
    key_b = [t.lower().strip(",.;:!?，。；：！？") for t in b]
    left: list[tuple[str, bool]] = []
    right: list[tuple[str, bool]] = []
    matcher = difflib.SequenceMatcher(None, key_a, key_b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        _runs(left, a[i1:i2], op != "equal")
        _runs(right, b[j1:j2], op != "equal")
    return left, right


def _runs(out: list[tuple[str, bool]], tokens: list[str], changed: bool) -> None:
    for token in tokens:  # not "t": that is the message catalogue's
        flag = changed and not token.isspace()
        if out and out[-1][1] == flag:
            out[-1] = (out[-1][0] + token, flag)
        else:
            out.append((token, flag))
