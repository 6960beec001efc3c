"""Keys are stripped and checked, and scrubbed from everything a server sends back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from cogvideo_nb import AsyncClient, ConfigError, TaskFailedError, build_request, resolve_settings
from cogvideo_nb._jobs import JobStatus
from cogvideo_nb._polling import PollPolicy
from cogvideo_nb._scheduler import Scheduler

from ._mock import BASE, ok_submit
from .conftest import FAST_RETRY

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
    policy = PollPolicy(min_interval=0.05, first_poll=0.1, max_interval=0.5)
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
