"""Bad input fails locally with a message naming the problem, and nothing leaves the machine.

Each row goes through the public entry points (``Client.submit`` over a transport that records
every request, ``build_request``, ``generate_many`` against a live emulator) so the test sees
what a user sees. The few rows that must reach a server (wrong key, no network) check that
they are sent exactly as often as they should be, and say so.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cogvideo_nb import (
    AuthenticationError,
    Client,
    CogVideoError,
    ConfigError,
    NetworkError,
    RetryPolicy,
    ValidationError,
    build_request,
    generate_many,
)
from cogvideo_nb.emulator import Emulator

from ._mock import BASE, error

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class Recorder:
    """A transport that records every request; answers 500 so a stray send cannot pass."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.seen: list[httpx.Request] = []
        self._answer = answer or (lambda r: error(500, "500", "this request should not have been sent"))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.seen.append(request)
        return self._answer(request)


def submit(rec: Recorder, prompt: Any, **options: Any) -> None:
    client = Client("sk-test", BASE, transport=httpx.MockTransport(rec), retry=RetryPolicy(max_attempts=1))
    client.submit(prompt, **options)


def text_as_png(tmp: Path) -> str:
    path = tmp / "photo.png"
    path.write_text("not an image, just text with a .png name")
    return str(path)


def six_mb_png(tmp: Path) -> str:
    path = tmp / "huge.png"
    path.write_bytes(PNG + b"\0" * (6 * 1024 * 1024))
    return str(path)


def real_png(tmp: Path) -> str:
    path = tmp / "frame.png"
    path.write_bytes(PNG)
    return str(path)


def bad(name: str, field: str, message: str, prompt: Any = "a cat", **options: Any) -> Any:
    """One row: the call's prompt and options, the field blamed, and a regex of the message."""
    return pytest.param(prompt, options, field, message, id=name)


ROWS = [
    bad("empty prompt", "prompt", r"give a prompt or a first-frame image \(both are empty\)", prompt=""),
    bad("blank prompt", "prompt", r"both are empty", prompt="   \n "),
    bad(
        "513 chars",
        "prompt",
        r"prompt is 513 characters; cogvideox-flash takes at most 512",
        prompt="x" * 513,
    ),
    bad("prompt not text", "prompt", r"prompt must be text, not int", prompt=42),
    bad(
        "size not offered by the model",
        "size",
        r"size '720x480' is not allowed for cogvideox-3; choose one of: 1280x720",
        model="cogvideox-3",
        size="720x480",
    ),
    bad(
        "size not on the Vidu model's list",
        "size",
        r"size 'big' is not allowed for viduq1-text; choose one of: 1920x1080",
        model="viduq1-text",
        size="big",
    ),
    bad("fps 24", "fps", r"fps 24 is not allowed for cogvideox-flash; choose one of: 30, 60", fps=24),
    bad("fps True", "fps", r"fps True is not allowed", fps=True),
    bad(
        "duration 7",
        "duration",
        r"duration 7 is not allowed for cogvideox-flash; choose one of: 5, 10",
        duration=7,
    ),
    bad("duration 5.5", "duration", r"duration must be a whole number, not 5\.5", duration=5.5),
    bad(
        "quality best",
        "quality",
        r"quality 'best' is not allowed for cogvideox-flash; choose one of: speed, quality",
        quality="best",
    ),
    bad("with_audio 'yes'", "with_audio", r"with_audio must be True or False, not 'yes'", with_audio="yes"),
    bad("user_id too short", "user_id", r"user_id must be 6 to 128 characters", user_id="abc"),
    bad(
        "unknown model",
        "model",
        r"unknown model 'cogvideox-9'; known models: cogvideox-flash",
        model="cogvideox-9",
    ),
    bad(
        "text file named .png",
        "image",
        r"image file .*photo\.png is not a PNG or JPEG image \(checked its content, not its name\)",
        image=text_as_png,
    ),
    bad("6 MB image", "image", r"huge\.png is 6\.3 MB; the API takes at most 5 MB", image=six_mb_png),
    bad(
        "missing file",
        "image",
        r"image file not found: /nonexistent/frame\.png",
        image="/nonexistent/frame.png",
    ),
    bad(
        "ftp URL",
        "image",
        r"image URL scheme 'ftp' is not supported; use http\(s\), a data: URL or a local path",
        image="ftp://files.example.com/frame.png",
    ),
    bad("data URL not base64", "image", r"not valid base64", image="data:image/png;base64,@@@"),
    bad(
        "two images, one-image model",
        "image",
        r"cogvideox-flash takes at most 1 image\(s\) \(first\), got 2",
        image=lambda tmp: [real_png(tmp), real_png(tmp)],
    ),
    bad(
        "viduq1-image without image", "image", r"viduq1-image needs a first-frame image", model="viduq1-image"
    ),
    # "bad --vary spec for the magic": left for the magic's owner to add.
    # Wrong types are refused by name, never silently replaced or iterated.
    bad("model a number", "model", r"model must be a model name \(text\), not int", model=0),
    bad("model False", "model", r"model must be a model name \(text\), not bool", model=False),
    bad("model blank", "model", r"model is empty; known models: cogvideox-flash", model="  "),
    bad(
        "references a string",
        "references",
        r"references must be a list of images, not str",
        model="vidu2-reference",
        references="abc",
    ),
    bad(
        "references a number",
        "references",
        r"references must be a list of images, not int",
        model="vidu2-reference",
        references=5,
    ),
    bad("size a number", "size", r"size must be text, not int", size=1280),
    bad("user_id a number", "user_id", r"user_id must be text, not int", user_id=12345678),
    bad("request_id a number", "request_id", r"request_id must be text, not int", request_id=5),
    bad("fps of 5000 digits", "fps", r"fps '9+… is not a number any model takes", fps="9" * 5000),
    bad("fps 10**5000", "fps", r"fps .* is not allowed for cogvideox-flash", fps=10**5000),
    # A lone surrogate (an undecodable byte read with surrogateescape) cannot be sent as UTF-8.
    bad(
        "prompt with a lone surrogate",
        "prompt",
        r"prompt holds U\+DCFF at character 3, which is not valid Unicode",
        prompt="a \udcff fox",
    ),
    bad("size with a lone surrogate", "size", r"size holds U\+DCFF", size="720x480\udcff"),
    bad("user_id with a lone surrogate", "user_id", r"user_id holds U\+D800", user_id="student-\ud800"),
    bad(
        "image URL with a lone surrogate",
        "image",
        r"image holds U\+DCFF",
        image="https://example.com/\udcff.png",
    ),
]


@pytest.mark.parametrize(("prompt", "options", "field", "message"), ROWS)
def test_bad_input_is_refused_before_sending(
    tmp_path: Path, prompt: Any, options: dict[str, Any], field: str, message: str
) -> None:
    rec = Recorder()
    with pytest.raises(ValidationError) as info:
        # Image makers get a temp dir; everything else is passed as written in the row.
        submit(rec, prompt, **{k: v(tmp_path) if callable(v) else v for k, v in options.items()})
    assert re.search(message, str(info.value)), str(info.value)
    assert info.value.field == field
    assert rec.seen == [], "nothing may be sent for bad input"


def test_build_request_refuses_the_same_input_without_a_client() -> None:
    with pytest.raises(ValidationError, match=r"fps 24 is not allowed"):
        build_request("a cat", fps=24)


def test_one_bad_prompt_in_a_batch_sends_none_of_them(emulator: Emulator, tmp_path: Path) -> None:
    prompts = ["a red fox", "a heron at dawn", "x" * 600]
    with pytest.raises(ValidationError, match=r"prompt is 600 characters"):
        generate_many(prompts, api_key="sk-test", base_url=emulator.base_url, output_dir=tmp_path)
    assert emulator.stats()["requests"] == {"submit": 0, "poll": 0, "file": 0}


def test_custom_base_url_without_a_key_is_a_config_error_and_sends_nothing() -> None:
    rec = Recorder()
    client = Client(None, BASE, transport=httpx.MockTransport(rec))
    with pytest.raises(ConfigError, match=r"no API key for https://api\.test/v4: set ZHIPUAI_API_KEY"):
        client.submit("a cat")
    assert rec.seen == []


def test_wrong_key_fails_at_once_without_retry_and_without_the_key() -> None:
    sentinel = "sk-WRONG-KEY-5d1e7a"
    # A server that echoes the bearer token back: the message must still not carry it.
    rec = Recorder(lambda r: error(401, "1002", f"invalid api key {r.headers['authorization']}"))
    client = Client(sentinel, BASE, transport=httpx.MockTransport(rec), sleep=lambda s: None)
    with pytest.raises(AuthenticationError) as info:
        client.submit("a cat")
    assert len(rec.seen) == 1, "a wrong key is not retried"
    err = info.value
    assert err.status_code == 401 and err.code == "1002" and "invalid api key" in err.message
    for text in (str(err), repr(err), err.message, *map(str, err.args)):
        assert sentinel not in text


class Counting(httpx.BaseTransport):
    """Counts connection attempts, then lets the real transport try (and fail) to connect."""

    def __init__(self) -> None:
        self.attempts = 0
        self._real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        return self._real.handle_request(request)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_network_is_a_network_error_after_bounded_retries() -> None:
    transport = Counting()
    retry = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_elapsed=5)
    client = Client(
        "sk-test", f"http://127.0.0.1:{closed_port()}/v4", transport=transport, retry=retry, timeout=2
    )
    start = time.monotonic()
    with pytest.raises(NetworkError) as info:
        client.submit("a cat")
    assert transport.attempts == 4, "retried exactly up to max_attempts"
    assert time.monotonic() - start < 3
    assert re.match(r"network problem talking to the API \(ConnectError\)", info.value.message), (
        info.value.message
    )
    assert info.value.retryable and isinstance(info.value, CogVideoError)
