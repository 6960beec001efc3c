"""Prompt enhancement: the request we send, the answer we read, and the emulator's offline rewrite."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from cogvideo_nb import (
    AsyncClient,
    AuthenticationError,
    Client,
    NetworkError,
    ProtocolError,
    RetryPolicy,
    ValidationError,
    aenhance,
    enhance,
)
from cogvideo_nb._enhance import SYSTEM_PROMPT, clean_reply, prompt_diff
from cogvideo_nb._wire import MAX_ANSWER_BYTES
from cogvideo_nb.emulator import Emulator
from cogvideo_nb.emulator._chat import detect_language, expand_prompt

KEY = "sentinel-id.sentinel-secret-4242"
FAST = RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=0.0, max_elapsed=5)


def answer(content: str, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, json={"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
    )


def test_the_request_carries_our_system_prompt_model_and_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer('Prompt: "A red fox trots through deep snow, slow dolly-in."')

    out = enhance(
        "a fox in snow",
        api_key=KEY,
        base_url="https://api.example/v4",
        transport=httpx.MockTransport(handler),
    )
    assert out == "A red fox trots through deep snow, slow dolly-in."
    [req] = seen
    assert str(req.url) == "https://api.example/v4/chat/completions"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    body = json.loads(req.content)
    assert body["model"] == "glm-4-flash" and body["stream"] is False
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "a fox in snow"},
    ]
    for part in ("Subject", "Motion", "Scene", "Light and mood", "Style", "same language"):
        assert part in SYSTEM_PROMPT


def test_rate_limits_are_retried_and_errors_hide_the_key() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, json={"error": {"code": "1302", "message": "slow down"}})
        return answer("A heron lifts off a still pond at dawn.")

    client = Client(
        KEY,
        "https://api.example/v4",
        transport=httpx.MockTransport(handler),
        retry=FAST,
        sleep=lambda s: None,
    )
    assert enhance("heron", client=client) == "A heron lifts off a still pond at dawn."
    assert calls["n"] == 2

    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"code": "1002", "message": f"bad key {KEY}"}})

    bad = Client(
        KEY, "https://api.example/v4", transport=httpx.MockTransport(echo), retry=FAST, sleep=lambda s: None
    )
    with pytest.raises(AuthenticationError) as info:
        enhance("heron", client=bad)
    assert KEY not in str(info.value) and KEY not in repr(info.value.args)


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"choices": []}', b'{"choices": [{"message": {"content": "  "}}]}'],
)
def test_unreadable_answers_are_protocol_errors(body: bytes) -> None:
    client = Client(
        KEY, "https://api.example/v4", retry=RetryPolicy(max_attempts=1), sleep=lambda s: None,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)),
    )  # fmt: skip
    with pytest.raises(ProtocolError):
        enhance("a fox", client=client)


def test_empty_prompt_sends_nothing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("sent")

    with pytest.raises(ValidationError):
        enhance("   ", api_key=KEY, base_url="https://x/v4", transport=httpx.MockTransport(handler))


async def test_async_shares_the_logic() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["model"] == "glm-4-plus"
        return answer("「一只红狐狸在雪中小跑。」")

    client = AsyncClient(KEY, "https://api.example/v4", transport=httpx.MockTransport(handler))
    assert await aenhance("狐狸", model="glm-4-plus", client=client) == "一只红狐狸在雪中小跑。"
    await client.aclose()


def test_clean_reply_fits_the_prompt_limit_at_a_sentence_end() -> None:
    long = "A fox runs. " * 60
    out = clean_reply(long)
    assert len(out) <= 512 and out.endswith("runs.")
    assert clean_reply("Enhanced prompt: 'a b c'") == "a b c"
    assert (
        clean_reply("Here is the rewritten prompt:\n\nA fox runs.\n\nIt is dawn.")
        == "A fox runs. It is dawn."
    )
    assert len(clean_reply("x" * 900)) == 512


def test_emulator_enhance_is_offline_deterministic_and_keeps_english(emulator: Emulator) -> None:
    prompt = "a red fox in the snow"
    one = enhance(prompt, api_key="abc.def", base_url=emulator.base_url)
    two = enhance(prompt, api_key="abc.def", base_url=emulator.base_url)
    assert one == two
    assert one.startswith("a red fox in the snow.")
    assert len(one) > 2 * len(prompt) and len(one) <= 512
    assert detect_language(one) == "en"
    assert "camera" in one.lower() or "tracking" in one.lower()  # motion was missing: added
    assert emulator.stats()["requests"]["chat"] == 2


def test_emulator_keeps_chinese_and_only_adds_missing_parts() -> None:
    out = expand_prompt("一只红狐狸在雪中奔跑，电影风格")
    assert out.startswith("一只红狐狸在雪中奔跑，电影风格。")
    assert detect_language(out) == "zh"
    assert not any(c.isascii() and c.isalpha() for c in out)  # no English crept in
    assert "电影感" not in out  # the user gave a style: none added
    assert "镜头" not in out  # motion (奔跑) was given too
    assert expand_prompt("un zorro rojo corre por el bosque con la luz del sol").count("cámara") == 0
    assert "caméra" in expand_prompt("un renard dans la neige avec le vent")


async def test_emulator_async_and_the_openai_client_agree(emulator: Emulator) -> None:
    """The route speaks the OpenAI format: the official openai client reads it unchanged."""
    import openai  # here, not at collection (most of a second to import)

    got = await aenhance("a paper boat on a river", api_key="abc.def", base_url=emulator.base_url)
    oa = openai.OpenAI(api_key="abc.def", base_url=emulator.base_url, max_retries=0)
    reply: Any = oa.chat.completions.create(
        model="glm-4-flash", messages=[{"role": "user", "content": "a paper boat on a river"}]
    )
    assert reply.choices[0].message.content == got
    assert reply.usage.total_tokens > 0
    with pytest.raises(openai.BadRequestError):
        oa.chat.completions.create(model="cogvideox-flash", messages=[{"role": "user", "content": "x"}])
    unauthenticated = httpx.post(
        emulator.base_url + "/chat/completions",
        json={"model": "glm-4-flash", "messages": [{"role": "user", "content": "x"}]},
    )
    assert unauthenticated.status_code == 401


def test_prompt_diff_marks_what_the_rewrite_added() -> None:
    left, right = prompt_diff("a fox in snow", "A red fox runs in deep snow.")
    assert [t for t, changed in right if changed] == ["red", "runs", "deep"]
    assert not any(changed for _, changed in left)
    assert "".join(t for t, _ in right) == "A red fox runs in deep snow."
    _, zh = prompt_diff("狐狸", "一只狐狸")
    assert zh == [("一只", True), ("狐狸", False)]


def test_each_platform_gets_its_free_chat_model() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answer("A fox.")

    mock = httpx.MockTransport(handler)
    enhance("a fox", api_key=KEY, provider="zai", transport=mock)
    enhance("a fox", api_key=KEY, provider="bigmodel", transport=mock)
    zai, bigmodel = bodies
    assert zai["model"] == "glm-4.5-flash" and zai["thinking"] == {"type": "disabled"}
    assert bigmodel["model"] == "glm-4-flash" and "thinking" not in bigmodel


# -- a whole-call deadline and a size cap --------------------------------------------------------
SLOW = json.dumps({"choices": [{"message": {"content": "A fox trots. " * 12}}]}).encode()


def _trickle_sync(body: bytes, gap: float) -> Iterator[bytes]:
    for i in range(len(body)):
        time.sleep(gap)
        yield body[i : i + 1]


async def _trickle(body: bytes, gap: float) -> AsyncIterator[bytes]:
    for i in range(len(body)):
        await asyncio.sleep(gap)
        yield body[i : i + 1]


def test_a_trickled_answer_cannot_stretch_enhance_past_its_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_trickle_sync(SLOW, 0.05))  # ~10 s for the whole body

    started = time.monotonic()
    with pytest.raises(NetworkError):
        enhance("a fox", api_key=KEY, base_url="https://api.example/v4", timeout=1,
                transport=httpx.MockTransport(handler))  # fmt: skip
    assert time.monotonic() - started < 4  # retries included: the timeout bounds the whole call


async def test_a_trickled_answer_cannot_stretch_aenhance_past_its_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_trickle(SLOW, 0.05))

    started = time.monotonic()
    with pytest.raises(NetworkError):
        await aenhance("a fox", api_key=KEY, base_url="https://api.example/v4", timeout=1,
                       transport=httpx.MockTransport(handler))  # fmt: skip
    assert time.monotonic() - started < 4


HUGE = 40 << 20
CHUNK = 64 << 10


class Pulled:
    """A 40 MB chat answer served in 64 KiB chunks, counting what the client read."""

    def __init__(self) -> None:
        self.bytes = 0

    def chunks(self) -> Iterator[bytes]:
        yield b'{"choices": [{"message": {"content": "'
        while self.bytes < HUGE:
            self.bytes += CHUNK
            yield b"x" * CHUNK

    async def achunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks():
            yield chunk


def test_a_huge_chat_answer_is_cut_at_the_cap() -> None:
    pulled = Pulled()
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=pulled.chunks()))
    with pytest.raises(ProtocolError, match="over 1048576 bytes"):
        enhance("a fox", api_key=KEY, base_url="https://api.example/v4", transport=transport)
    assert pulled.bytes <= MAX_ANSWER_BYTES + CHUNK


async def test_a_huge_chat_answer_is_cut_at_the_cap_async() -> None:
    pulled = Pulled()
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=pulled.achunks()))
    with pytest.raises(ProtocolError, match="over 1048576 bytes"):
        await aenhance("a fox", api_key=KEY, base_url="https://api.example/v4", transport=transport)
    assert pulled.bytes <= MAX_ANSWER_BYTES + CHUNK
