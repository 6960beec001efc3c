"""The key never shows: not in reprs, error text, logs, or tracebacks, on any error path."""

from __future__ import annotations

import logging
import pickle
import traceback

import httpx
import pytest

from cogvideo_nb import Client, CogVideoError, RetryPolicy, resolve_settings
from cogvideo_nb._config import Secret

from ._mock import BASE, Answer, Script, error

SENTINEL = "sk-SENTINEL-4f9a2b7c1d"


def echo_key(request: httpx.Request) -> httpx.Response:
    # A hostile or buggy server that echoes the Authorization header back in its error message.
    return error(401, "1002", f"bad token {request.headers['authorization']}")


PATHS = [
    [echo_key],
    [error(400, "1214", f"param {SENTINEL}")],
    [error(429, "1113")],
    [error(500, "500")] * 2,
    [httpx.ConnectError(f"cannot reach {SENTINEL}")] * 2,
    [httpx.Response(200, content=b"{not json")] * 2,
    [httpx.Response(200, json={"id": "t", "task_status": "WHAT"})],
]


@pytest.mark.parametrize("answers", PATHS)
def test_sentinel_key_never_in_error_text_or_traceback(
    answers: list[Answer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    c = Client(
        SENTINEL,
        BASE,
        transport=Script(list(answers)).sync(),
        sleep=lambda s: None,
        retry=RetryPolicy(max_attempts=2),
    )
    with pytest.raises(CogVideoError) as info:
        c.get("t")
    err = info.value
    shown = [str(err), repr(err), err.message, "".join(traceback.format_exception(err)), caplog.text, repr(c)]
    for text in shown:
        assert SENTINEL not in text
    # What %xmode Verbose or a locals-printing logger would show of the library's own frames
    # (the test's own locals hold the sentinel on purpose, so they are left out).
    tbe = traceback.TracebackException.from_exception(err, capture_locals=True)
    ours = [f for f in tbe.stack if "/cogvideo_nb/" in f.filename]
    assert ours, "the traceback should pass through the library"
    for frame in ours:
        assert SENTINEL not in repr(frame.locals)


def test_secret_hides_itself() -> None:
    s = Secret(SENTINEL)
    assert SENTINEL not in repr(s) + str(s) + f"{s}" + repr(resolve_settings(api_key=SENTINEL))
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_key_goes_only_to_the_api_host() -> None:
    script = Script([httpx.Response(200, content=b"x", headers={"content-type": "video/mp4"})])
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        Client(SENTINEL, BASE, transport=script.sync()).download("https://cdn.test/v.mp4", Path(d) / "v.mp4")
    assert all(SENTINEL not in v for v in script.seen[0].headers.values())


# -- a server that echoes the key in a form the raw bytes do not show ----------------------------
def _escaped(text: str) -> str:
    """``text`` as JSON \\u escapes: not one byte of it is the key's own bytes."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


def _fail_escaped(request: httpx.Request) -> httpx.Response:
    token = request.headers["authorization"]  # "Bearer <key>", as a careless server echoes it
    body = '{"id": "t", "task_status": "FAIL", "message": "bad key ' + _escaped(token) + '"}'
    return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})


def _fail_in_header(request: httpx.Request) -> httpx.Response:
    # Any server may claim to be the emulator and put its reason in the reason header.
    reason = "".join(f"%{b:02X}" for b in f"bad key {request.headers['authorization']}".encode())
    return httpx.Response(
        200,
        json={"id": "t", "task_status": "FAIL"},
        headers={"x-cogvideo-emulator": "1", "x-cogvideo-emulator-reason": reason},
    )


def _fail_raw(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, json={"id": "t", "task_status": "FAIL", "message": request.headers["authorization"]}
    )


def _assert_state_clean(state: object, key: str) -> None:
    assert state.status.value == "FAIL"  # type: ignore[attr-defined]
    assert "********" in (state.fail_reason or "")  # type: ignore[attr-defined]
    for text in (state.fail_reason, repr(state), str(state), str(state.raw)):  # type: ignore[attr-defined]
        assert key not in str(text)


@pytest.mark.parametrize("answer", [_fail_escaped, _fail_in_header])
def test_an_escaped_or_header_borne_key_never_reaches_the_state(answer: object) -> None:
    c = Client(SENTINEL, BASE, transport=Script([answer]).sync(), sleep=lambda s: None)  # type: ignore[list-item]
    _assert_state_clean(c.get("t"), SENTINEL)


@pytest.mark.parametrize("answer", [_fail_escaped, _fail_in_header])
async def test_an_escaped_or_header_borne_key_never_reaches_the_async_state(answer: object) -> None:
    from cogvideo_nb import AsyncClient

    async with AsyncClient(SENTINEL, BASE, transport=Script([answer]).async_()) as c:  # type: ignore[list-item]
        _assert_state_clean(await c.get("t"), SENTINEL)


def test_a_short_key_is_scrubbed_from_decoded_strings() -> None:
    """Under 8 characters the raw bytes are left (replacing them could break the JSON), but
    every decoded string is scrubbed, however the key was written."""
    short = "sk-a1b2"
    for answer in (_fail_raw, _fail_escaped, _fail_in_header):
        c = Client(short, BASE, transport=Script([answer]).sync(), sleep=lambda s: None)
        _assert_state_clean(c.get("t"), short)


@pytest.mark.parametrize("answer", [_fail_escaped, _fail_in_header])
def test_wait_task_failed_error_never_carries_the_key(answer: object) -> None:
    from cogvideo_nb import TaskFailedError

    c = Client(SENTINEL, BASE, transport=Script([answer]).sync(), sleep=lambda s: None)  # type: ignore[list-item]
    with pytest.raises(TaskFailedError) as info:
        c.wait("t")
    err = info.value
    for text in (str(err), repr(err), err.message, repr(err.args), str(err.detail)):
        assert SENTINEL not in text
    assert SENTINEL not in "".join(traceback.format_exception(err))


async def test_the_engine_keeps_an_escaped_key_out_of_the_ledger_and_journal(tmp_path: object) -> None:
    import asyncio
    from pathlib import Path

    from cogvideo_nb import AsyncClient, JobStatus, build_request
    from cogvideo_nb._scheduler import Scheduler

    from ._mock import ok_submit
    from .conftest import FAST_RETRY, fast_poll

    out = Path(str(tmp_path)) / "out"
    script = Script([ok_submit("t"), _fail_escaped])
    client = AsyncClient(SENTINEL, BASE, transport=script.async_(), retry=FAST_RETRY)
    policy = fast_poll()
    s = Scheduler(client, output_dir=out, policy=policy, submit_gap=0)
    job = s.add(build_request("a fox"))
    await asyncio.wait_for(s.wait([job]), 10)
    await s.aclose()
    assert job.status is JobStatus.FAILED and "********" in (job.error or "")
    assert SENTINEL not in (job.error or "") + repr(job) + str(job.to_dict())
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.parent.name == ".cogvideo-jobs" for p in files)
    for p in files:
        assert SENTINEL.encode() not in p.read_bytes(), p


@pytest.mark.parametrize("escaped", [False, True])
def test_an_enhance_answer_carrying_the_key_is_scrubbed(escaped: bool) -> None:
    from cogvideo_nb import enhance

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        text = _escaped(token) if escaped else token
        body = '{"choices": [{"message": {"role": "assistant", "content": "A fox, key ' + text + '."}}]}'
        return httpx.Response(200, content=body.encode())

    out = enhance("a fox", api_key=SENTINEL, base_url=BASE, transport=httpx.MockTransport(handler))
    assert out.startswith("A fox, key ") and SENTINEL not in out and "********" in out


def test_a_short_test_key_is_scrubbed_only_as_a_word_of_its_own() -> None:
    """``sk`` must not take the middle out of ``task_status`` or ``task-1``."""
    answers: list[Answer] = [
        httpx.Response(200, json={"id": "task-1", "task_status": "PROCESSING"}),
        _fail_raw,
    ]
    c = Client("sk", BASE, transport=Script(list(answers)).sync(), sleep=lambda s: None)
    state = c.get("task-1")
    assert state.id == "task-1" and state.status.value == "PROCESSING"
    assert c.get("task-1").fail_reason == "Bearer ********"
