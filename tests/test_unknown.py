"""Unknown submit outcomes are a state: a lost answer, a non-JSON 200 or a 1231 duplicate keeps
the job with its request_id, never resubmits it on its own, and Retry warns."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cogvideo_nb import (
    AsyncClient,
    DuplicateRequestError,
    Engine,
    JobStatus,
    NetworkError,
    RetryPolicy,
    build_request,
    resolve_settings,
)
from cogvideo_nb._errors import error_from_response
from cogvideo_nb._jobs import move
from cogvideo_nb._ledger import Ledger
from cogvideo_nb._scheduler import Scheduler
from cogvideo_nb.emulator import Emulator

from .conftest import FAST_RETRY, fast_poll


class LoseFirstSubmitAnswer(httpx.AsyncBaseTransport):
    """Forwards to the emulator; the first submit reaches it (the task is made) but its answer
    is lost: the connection drops, or a 200 arrives that is not JSON."""

    def __init__(self, how: str) -> None:
        self._real = httpx.AsyncHTTPTransport()
        self._how = how
        self.posts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._real.handle_async_request(request)
        if request.method != "POST":
            return response
        self.posts += 1
        if self.posts > 1:
            return response
        await response.aread()
        if self._how == "drop":
            raise httpx.ReadError("connection reset after the request was sent")
        return httpx.Response(200, content=b"<html>gateway</html>", headers={"content-type": "text/html"})

    async def aclose(self) -> None:
        await self._real.aclose()


def make(emu: Emulator, out: Path, transport: httpx.AsyncBaseTransport) -> Scheduler:
    client = AsyncClient("sk-unknown", emu.base_url, transport=transport, retry=FAST_RETRY, timeout=5)
    return Scheduler(client, output_dir=out, policy=fast_poll(), submit_gap=0.0, seed=1)


def test_1231_maps_to_its_own_error() -> None:
    body = b'{"error": {"code": "1231", "message": "you already have a request: r-1"}}'
    err = error_from_response(400, body)
    assert isinstance(err, DuplicateRequestError) and not err.retryable and err.outcome_unknown


@pytest.mark.parametrize("how", ["drop", "html"])
async def test_lost_answer_then_1231_is_unknown_never_failed_never_resubmitted(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, how: str
) -> None:
    emu = emulator_factory(seconds=0.3, duplicates="error")
    transport = LoseFirstSubmitAnswer(how)
    s = make(emu, tmp_path, transport)
    job = s.add(build_request("a lantern on a lake"))
    await asyncio.wait_for(s.wait([job]), 10)
    tasks = emu.stats()["tasks"]
    assert [t["request_id"] for t in tasks] == [job.id]  # the server has it, once
    assert job.status is JobStatus.UNKNOWN and job.task_id is None
    assert "may already have this task" in (job.note or "") and job.error_type == "DuplicateRequestError"
    assert transport.posts == 2  # the lost one and the one answered 1231: no third
    row = Ledger(tmp_path / "ledger.sqlite").load(job.id)
    assert row is not None and row.status is JobStatus.UNKNOWN
    assert await s.resume() == []  # never resubmitted on its own
    # Asked explicitly, it asks again with the same request_id: still one task, still unknown.
    await s.resume_job(job)
    await asyncio.wait_for(s.wait([job]), 10)
    assert job.status is JobStatus.UNKNOWN and transport.posts == 3
    assert Counter(t["request_id"] for t in emu.stats()["tasks"]) == {job.id: 1}
    await s.aclose()


async def test_lost_answer_with_an_echoing_server_finds_its_task(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(seconds=0.3)  # duplicates="echo": the original task comes back
    transport = LoseFirstSubmitAnswer("drop")
    s = make(emu, tmp_path, transport)
    job = s.add(build_request("a lantern on a lake"))
    await asyncio.wait_for(s.wait([job]), 10)
    assert job.status is JobStatus.SUCCEEDED and len(emu.stats()["tasks"]) == 1
    await s.aclose()


async def test_exhausted_retries_after_a_lost_answer_are_unknown(tmp_path: Path) -> None:
    posts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        posts += 1
        raise httpx.ReadTimeout("the answer never came")

    client = AsyncClient(
        "sk", "https://api.test/v4", transport=httpx.MockTransport(handler), retry=FAST_RETRY
    )
    s = Scheduler(client, output_dir=tmp_path, policy=fast_poll(), submit_gap=0.0)
    job = s.add(build_request("a comet"))
    await asyncio.wait_for(s.wait([job]), 20)
    assert job.status is JobStatus.UNKNOWN and job.error_type == "NetworkError"
    assert posts == FAST_RETRY.max_attempts
    await s.aclose()


async def test_a_refused_connect_is_not_unknown(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    client = AsyncClient(
        "sk", "https://api.test/v4", transport=httpx.MockTransport(handler), retry=FAST_RETRY
    )
    s = Scheduler(client, output_dir=tmp_path, policy=fast_poll(), submit_gap=0.0)
    job = s.add(build_request("a comet"))
    await asyncio.wait_for(s.wait([job]), 20)
    assert job.status is JobStatus.FAILED and job.error_type == "NetworkError"  # nothing reached it
    await s.aclose()


def test_engine_retry_of_an_unknown_job_warns(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(seconds=0.3, duplicates="error")
    settings = resolve_settings(api_key="sk-unknown", base_url=emu.base_url, output_dir=tmp_path)
    client = AsyncClient(
        "sk-unknown", emu.base_url, transport=LoseFirstSubmitAnswer("drop"), retry=FAST_RETRY
    )
    engine = Engine(settings, client=client, policy=fast_poll(), submit_gap=0)
    job = engine.submit("a fox")
    deadline = time.monotonic() + 10
    while not job.done and time.monotonic() < deadline:
        job.wait_done(0.05)
    assert job.status is JobStatus.UNKNOWN
    with pytest.warns(UserWarning, match="may create a second"):
        again = job.retry()
    assert again.wait(10) is again and again.id != job.id
    assert len(emu.stats()["tasks"]) == 2  # the user asked for the second one, knowingly
    engine.close()


def test_an_unknown_job_renders_with_its_note() -> None:
    from cogvideo_nb import Job
    from cogvideo_nb._html import job_html

    job = Job(request=build_request("a fox"))
    move(job, JobStatus.SUBMITTING)
    move(job, JobStatus.UNKNOWN, note="the server may already have this task")
    html = job_html(job)
    assert "unknown" in html and "may already have this task" in html


def test_the_duplicates_knob_reaches_a_background_emulator() -> None:
    from cogvideo_nb.emulator import EmulatorConfig

    config = EmulatorConfig.from_env({"COGVIDEO_EMULATOR_DUPLICATES": "error"})
    assert config.duplicates == "error" and EmulatorConfig.from_env(config.to_env()) == config
    assert EmulatorConfig().duplicates == "echo"
    with pytest.raises(ValueError, match="duplicates must be echo or error"):
        EmulatorConfig.from_env({"COGVIDEO_EMULATOR_DUPLICATES": "maybe"})


# -- "reached" is a fact: a request whose headers never left cannot have made a task -------------
class SilentTLSServer:
    """Accepts TCP connections and reads the TLS ClientHello, then never says a word."""

    def __init__(self) -> None:
        self.held: list[asyncio.StreamWriter] = []
        self.accepted = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.held.append(writer)
        await reader.read(65536)

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"https://127.0.0.1:{port}/v4"

    async def __aexit__(self, *exc: object) -> None:
        for writer in self.held:
            writer.close()
        self._server.close()
        await self._server.wait_closed()


SHORT_RETRY = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, max_elapsed=5)


async def test_a_tls_handshake_that_never_completes_is_not_an_unknown_outcome() -> None:
    async with SilentTLSServer() as base:
        client = AsyncClient("sk-tls-test", base, timeout=0.5, retry=SHORT_RETRY)
        with pytest.raises(NetworkError) as info:
            await client.submit("a comet")
        await client.aclose()
    err = info.value
    assert not err.outcome_unknown  # nothing was sent: no task can exist
    assert err.message.strip() and not err.message.rstrip().endswith(":")


async def test_the_engine_fails_a_job_whose_tls_handshake_never_completes(tmp_path: Path) -> None:
    async with SilentTLSServer() as base:
        client = AsyncClient("sk-tls-test", base, timeout=0.5, retry=SHORT_RETRY)
        s = Scheduler(client, output_dir=tmp_path, policy=fast_poll(), submit_gap=0.0)
        job = s.add(build_request("a comet"))
        await asyncio.wait_for(s.wait([job]), 20)
        await s.aclose()
    assert job.status is JobStatus.FAILED, (job.status, job.note)
    assert job.error_type == "NetworkError" and job.error and not job.error.rstrip().endswith(":")


@pytest.mark.parametrize("exc", [httpx.ConnectError(""), httpx.ReadError("  "), httpx.ConnectTimeout("")])
def test_a_network_error_without_words_still_says_something(exc: Exception) -> None:
    from cogvideo_nb import Client

    client = Client("sk-test", "https://api.test/v4", transport=httpx.MockTransport(lambda r: _raise(exc)),
                    retry=RetryPolicy(max_attempts=1), sleep=lambda s: None)  # fmt: skip
    with pytest.raises(NetworkError) as info:
        client.get("t-1")
    message = info.value.message
    assert type(exc).__name__ in message and not message.rstrip().endswith(":")


def _raise(exc: Exception) -> httpx.Response:
    raise exc
