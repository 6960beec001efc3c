"""Keys are stripped and checked, and scrubbed from everything a server sends back."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import cogvideo_nb
from cogvideo_nb import AsyncClient, ConfigError, JobStatus, TaskFailedError, build_request, resolve_settings
from cogvideo_nb._config import set_overrides
from cogvideo_nb._scheduler import Scheduler

from ._mock import BASE, ok_submit
from .conftest import FAST_RETRY, fast_poll

SENTINEL = "sk-NEWLINE-SENTINEL-5d1e9a"


def test_a_key_read_from_a_file_is_stripped() -> None:
    settings = resolve_settings(api_key=SENTINEL + "\n")
    assert settings.api_key is not None and settings.api_key.reveal() == SENTINEL


@pytest.mark.parametrize("bad", ["sk-two words", "sk-tab\there", "sk-nul\x00x", "sk-line\nbreak", "   "])
def test_a_key_with_whitespace_or_control_characters_inside_is_refused_unshown(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_settings(api_key=bad)
    assert bad.strip() not in str(info.value) or not bad.strip()
    if "\x00" in bad or not bad.strip():
        return  # the environment cannot hold a NUL; a blank variable means "no key"
    monkeypatch.setenv("ZHIPUAI_API_KEY", bad)
    with pytest.raises(ConfigError, match=r"\$ZHIPUAI_API_KEY"):
        resolve_settings()


async def test_a_trailing_newline_key_and_an_echoing_server_leave_no_trace(tmp_path: Path) -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        sent.append(token)
        if request.method == "POST":
            return ok_submit("t-1")
        # A careless server echoes the key it was given in the FAIL reason.
        return httpx.Response(
            200, json={"id": "t-1", "task_status": "FAIL", "fail_reason": f"quota for key {token} exhausted"}
        )

    key = Path(tmp_path / "key.txt")
    key.write_text(SENTINEL + "\n")
    client = AsyncClient(key.read_text(), BASE, transport=httpx.MockTransport(handler), retry=FAST_RETRY)
    policy = fast_poll()
    out = tmp_path / "out"
    s = Scheduler(client, output_dir=out, policy=policy, submit_gap=0)
    job = s.add(build_request("a fox"))
    await asyncio.wait_for(s.wait([job]), 10)
    await s.aclose()
    assert sent and set(sent) == {SENTINEL}  # sent without the newline
    assert job.status is JobStatus.FAILED and "********" in (job.error or "")
    with pytest.raises(TaskFailedError) as info:
        job.wait(0)
    outputs = [job.error or "", repr(job), str(job.to_dict()), str(info.value), repr(info.value)]
    for text in outputs:
        assert SENTINEL not in text
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.parent.name == ".cogvideo-jobs" for p in files)  # the journal was written too
    for p in files:
        assert SENTINEL.encode() not in p.read_bytes(), p


# -- a refused key never shows in a verbose traceback (%xmode Verbose) ----------------------------
REFUSED = "sk bad key-123456"


def _verbose(call: Callable[[], object]) -> str:
    """What ``%xmode Verbose`` prints of the library's own frames for the error ``call`` raises
    (the test's frames hold the key on purpose, so they are left out)."""
    from IPython.core.ultratb import VerboseTB

    try:
        call()
    except ConfigError:
        etype, value, tb = sys.exc_info()
        assert etype is not None
        while tb is not None and "/cogvideo_nb/" not in tb.tb_frame.f_code.co_filename:
            tb = tb.tb_next
        assert tb is not None, "the traceback should pass through the library"
        return VerboseTB(theme_name="nocolor").text(etype, value, tb)
    raise AssertionError("the key was not refused")


def _run(coro: Any) -> object:
    return asyncio.run(coro)


ENTRY_POINTS: dict[str, Callable[[Path], object]] = {
    "Client": lambda d: cogvideo_nb.Client(api_key=REFUSED),
    "Client positional": lambda d: cogvideo_nb.Client(REFUSED, "https://api.test/v4"),
    "AsyncClient": lambda d: cogvideo_nb.AsyncClient(api_key=REFUSED),
    "enhance": lambda d: cogvideo_nb.enhance("x", api_key=REFUSED),
    "aenhance": lambda d: _run(cogvideo_nb.aenhance("x", api_key=REFUSED)),
    "translate": lambda d: cogvideo_nb.translate("x", "zh", api_key=REFUSED),
    "atranslate": lambda d: _run(cogvideo_nb.atranslate("x", "zh", api_key=REFUSED)),
    "generate": lambda d: cogvideo_nb.generate("x", api_key=REFUSED, output_dir=d),
    "submit": lambda d: cogvideo_nb.submit("x", api_key=REFUSED, output_dir=d),
    "generate_many": lambda d: cogvideo_nb.generate_many(["x"], api_key=REFUSED, output_dir=d),
    "get_engine": lambda d: cogvideo_nb.get_engine(api_key=REFUSED, output_dir=d),
    "resume": lambda d: cogvideo_nb.resume(api_key=REFUSED, output_dir=d),
    "rate": lambda d: cogvideo_nb.rate("job", 5, api_key=REFUSED, output_dir=d),
    "resolve_settings": lambda d: resolve_settings(api_key=REFUSED),
    "set_overrides": lambda d: set_overrides(api_key=REFUSED),
}


def test_a_refused_key_from_the_environment_never_shows_in_a_verbose_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZHIPUAI_API_KEY", REFUSED)
    text = _verbose(lambda: cogvideo_nb.generate("x", output_dir=tmp_path))
    assert "ZHIPUAI_API_KEY contains whitespace" in text
    for part in (REFUSED, "bad key-123456"):
        assert part not in text


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_refused_key_never_shows_in_a_verbose_traceback(entry: str, tmp_path: Path) -> None:
    text = _verbose(lambda: ENTRY_POINTS[entry](tmp_path))
    assert "whitespace or control characters" in text
    assert "cogvideo_nb" in text and "_clean_key" in text  # the library's frames were formatted
    for part in (REFUSED, "bad key-123456"):
        assert part not in text
