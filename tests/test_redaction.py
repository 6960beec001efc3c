"""The key never shows: not in reprs, error text, logs, or tracebacks, on any error path."""

from __future__ import annotations

import logging
import pickle
import traceback

import httpx
import pytest

from cogvideo_nb import Client, CogVideoError, RetryPolicy
from cogvideo_nb._config import Secret, resolve_settings

from ._mock import BASE, Script, error

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
    answers: list[object], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    c = Client(
        SENTINEL,
        BASE,
        transport=Script(list(answers)).sync(),
        sleep=lambda s: None,
        retry=RetryPolicy(max_attempts=2),
    )  # type: ignore[arg-type]
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
