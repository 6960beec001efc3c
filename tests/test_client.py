"""Client behaviour over httpx.MockTransport: parsing, retries, waits, downloads, sync and async alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from cogvideo_nb import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    CogVideoError,
    ConfigError,
    DownloadError,
    NetworkError,
    ProtocolError,
    QuotaError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TaskFailedError,
    TaskStatus,
    ValidationError,
    WaitTimeoutError,
)

from ._mock import BASE, Script, error, ok_submit, status
from .conftest import fast_poll


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(script: Script, sleeps: Sleeps | None = None, **kw: Any) -> Client:
    return Client(
        "sk-test",
        BASE,
        transport=script.sync(),
        sleep=sleeps if sleeps is not None else Sleeps(),
        seed=1,
        **kw,
    )


def test_submit_sends_validated_body_with_bearer_key() -> None:
    script = Script([ok_submit("t-9")])
    state = client(script).submit("a red fox", fps=60)
    assert state.id == "t-9" and state.status is TaskStatus.PROCESSING
    sent = script.seen[0]
    assert sent.url == f"{BASE}/videos/generations"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert script.bodies()[0]["fps"] == 60 and script.bodies()[0]["prompt"] == "a red fox"


def test_bad_input_sends_nothing() -> None:
    script = Script([])
    with pytest.raises(ValidationError):
        client(script).submit("x", fps=24)
    assert script.seen == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PROCESSING", "PROCESSING"),
        ("PENDING", "PROCESSING"),
        ("SUBMITTED", "PROCESSING"),
        ("SUCCESS", "SUCCESS"),
        ("FAIL", "FAIL"),
        ("FAILED", "FAIL"),
        ("success", "SUCCESS"),
    ],
)
def test_status_spellings(raw: str, expected: str) -> None:
    state = client(Script([status(raw)])).get("task-1")
    assert state.status.value == expected


def test_unknown_status_is_an_error_not_a_loop() -> None:
    script = Script([status("QUEUED_FOREVER")])
    with pytest.raises(ProtocolError, match="unknown task_status 'QUEUED_FOREVER'"):
        client(script).get("task-1")
    assert len(script.seen) == 1


def test_success_carries_urls_and_emulated_flag_comes_from_the_header_only() -> None:
    marked = status("SUCCESS")
    marked.headers["X-CogVideo-Emulator"] = "1"
    state = client(Script([marked])).get("task-1")
    assert state.video_url == "https://cdn.test/v.mp4" and state.cover_url == "https://cdn.test/c.png"
    assert state.emulated
    # a body field is no proof: the platform documents none, so it is not trusted
    assert not client(Script([status("SUCCESS", emulated=True)])).get("task-1").emulated


def test_documented_extra_keys_are_not_shown_as_a_fail_reason() -> None:
    answer = status("FAIL", created=1700000000, usage={"total_tokens": 0}, content_filter=[])
    assert client(Script([answer])).get("task-1").fail_reason == "the server gave no reason"


def test_fail_shows_whatever_the_body_carries() -> None:
    state = client(Script([status("FAIL", message="GPU fell over")])).get("task-1")
    assert state.status is TaskStatus.FAIL and state.fail_reason == "GPU fell over"
    state = client(Script([status("FAIL")])).get("task-1")
    assert state.fail_reason == "the server gave no reason"


def test_rate_limit_is_retried_honouring_retry_after_and_reusing_request_id() -> None:
    script = Script([error(429, "1302", headers={"Retry-After": "7"}), error(429, "1305"), ok_submit()])
    sleeps = Sleeps()
    client(script, sleeps).submit("a fox")
    assert sleeps[0] == 7.0
    assert 0 < sleeps[1] <= 1.0  # second attempt: backoff ceiling base*2 = 1.0
    ids = {b["request_id"] for b in script.bodies()}
    assert len(script.bodies()) == 3 and len(ids) == 1


@pytest.mark.parametrize(
    "answer",
    [
        error(500, "500"),
        error(503, "1234"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        httpx.Response(200, content=b'{"id": "t", "task_st'),
    ],
)
def test_passing_faults_are_retried(answer: object) -> None:
    script = Script([answer, status("PROCESSING")])  # type: ignore[list-item]
    assert client(script).get("task-1").status is TaskStatus.PROCESSING
    assert len(script.seen) == 2


@pytest.mark.parametrize(
    ("answer", "cls"),
    [
        (error(429, "1113"), QuotaError),
        (error(401, "1002"), AuthenticationError),
        (error(400, "1214"), BadRequestError),
        (error(429, "1304"), QuotaError),
    ],
)
def test_hopeless_errors_are_not_retried(answer: httpx.Response, cls: type[Exception]) -> None:
    script = Script([answer, ok_submit()])
    sleeps = Sleeps()
    with pytest.raises(cls):
        client(script, sleeps).submit("a fox")
    assert len(script.seen) == 1 and sleeps == []


def test_retries_are_capped_in_count() -> None:
    script = Script([error(500, "500")] * 3)
    with pytest.raises(ServerError):
        client(script, retry=RetryPolicy(max_attempts=3)).get("t")
    assert len(script.seen) == 3


def test_retries_are_capped_in_time() -> None:
    script = Script([error(429, "1302", headers={"Retry-After": "20"})] * 5)
    sleeps = Sleeps()
    with pytest.raises(RateLimitError):
        client(script, sleeps, retry=RetryPolicy(max_attempts=10, max_elapsed=45)).get("t")
    assert sleeps == [20.0, 20.0]


def test_network_error_is_wrapped() -> None:
    script = Script([httpx.ConnectError("refused")] * 2)
    with pytest.raises(NetworkError, match="ConnectError"):
        client(script, retry=RetryPolicy(max_attempts=2)).get("t")


def test_wait_polls_until_success() -> None:
    script = Script([status("PROCESSING"), status("PROCESSING"), status("SUCCESS")])
    sleeps = Sleeps()
    state = client(script, sleeps).wait("task-1", poll_interval=2)
    assert state.status is TaskStatus.SUCCESS and sleeps == [2, 2]


def test_wait_raises_on_fail() -> None:
    with pytest.raises(TaskFailedError, match="task task-1 failed: bad luck") as info:
        client(Script([status("FAIL", fail_reason="bad luck")])).wait("task-1")
    assert info.value.task_id == "task-1"


def test_wait_deadline() -> None:
    with pytest.raises(WaitTimeoutError, match="still PROCESSING"):
        client(Script([status("PROCESSING")])).wait("task-1", timeout=1, poll_interval=5)


def mp4(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, content=b"\0\0\0\x18ftypmp42" + b"x" * 5000, headers={"content-type": "video/mp4"}
    )


def test_download_is_atomic_hashed_and_keyless(tmp_path: Path) -> None:
    script = Script([mp4])
    got = client(script).download("https://cdn.test/v.mp4", tmp_path / "out" / "v.mp4")
    assert got.path.read_bytes().startswith(b"\0\0\0\x18ftyp") and got.size == 5012
    import hashlib

    assert got.sha256 == hashlib.sha256(got.path.read_bytes()).hexdigest()
    assert "authorization" not in script.seen[0].headers
    assert [p.name for p in got.path.parent.iterdir()] == ["v.mp4"]


def test_download_rejects_wrong_type_and_leaves_nothing(tmp_path: Path) -> None:
    page = httpx.Response(200, text="<html>login</html>", headers={"content-type": "text/html"})
    with pytest.raises(DownloadError, match="expected a video file but the server sent 'text/html'"):
        client(Script([page])).download("https://cdn.test/v.mp4", tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []


def test_download_size_cap(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="cap"):
        client(Script([mp4])).download("https://cdn.test/v.mp4", tmp_path / "v.mp4", max_bytes=1000)
    assert list(tmp_path.iterdir()) == []


def test_download_expired_url(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="expired") as info:
        client(Script([httpx.Response(403, text="AccessDenied")])).download(
            "https://cdn.test/v.mp4", tmp_path / "v.mp4"
        )
    assert info.value.expired and not info.value.retryable


def test_download_retries_a_torn_stream(tmp_path: Path) -> None:
    class Torn(httpx.SyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield b"partial"
            raise httpx.ReadError("reset")

    torn = httpx.Response(200, stream=Torn(), headers={"content-type": "video/mp4"})
    got = client(Script([torn, mp4])).download("https://cdn.test/v.mp4", tmp_path / "v.mp4")
    assert got.size == 5012 and [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


async def test_async_client_same_behaviour(tmp_path: Path) -> None:
    script = Script(
        [
            error(429, "1302", headers={"Retry-After": "1"}),
            ok_submit("a-1"),
            status("PROCESSING", "a-1"),
            status("SUCCESS", "a-1"),
            mp4,
        ]
    )
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    async with AsyncClient("sk-test", BASE, transport=script.async_(), sleep=sleep) as c:
        task = await c.submit("a fox")
        done = await c.wait(task.id, poll_interval=3)
        got = await c.download(done.video_url or "", tmp_path / "a.mp4")
    assert sleeps == [1.0, 3]
    assert got.size == 5012
    assert len({b["request_id"] for b in script.bodies()}) == 1


async def test_async_hopeless_error() -> None:
    async with AsyncClient("sk-test", BASE, transport=Script([error(429, "1113")]).async_()) as c:
        with pytest.raises(QuotaError):
            await c.submit("a fox")


def test_bad_task_id_is_refused_before_sending() -> None:
    script = Script([])
    with pytest.raises(ValueError, match="bad task id"):
        client(script).get("../videos")
    with pytest.raises(ValueError, match="bad task id"):
        client(script).get("..")
    assert script.seen == []


def test_task_ids_are_percent_encoded_as_one_path_segment() -> None:
    script = Script([status("PROCESSING", "a?b#c..d"), status("PROCESSING", "x y")])
    client(script).get("a?b#c..d")
    client(script).get("x y")
    sent = [r.url.raw_path.decode() for r in script.seen]
    assert sent == ["/v4/async-result/a%3Fb%23c%2E%2Ed", "/v4/async-result/x%20y"]
    assert all(r.url.query == b"" and r.url.fragment == "" for r in script.seen)


def test_a_retried_submit_may_find_its_task_already_done() -> None:
    """Dedup by request_id can answer a submit with a finished task, which has no URLs yet."""
    done = httpx.Response(200, json={"id": "t-1", "request_id": "r", "task_status": "SUCCESS"})
    script = Script([httpx.RemoteProtocolError("dropped after the task was made"), done])
    state = client(script).submit("a fox")
    assert state.id == "t-1" and state.video_url is None and len(script.seen) == 2


# Every row of the API notes' error table, through the client: retried rows are asked again
# (and honour Retry-After), fail-fast rows are asked once.
ERROR_ROWS = [
    *[(400, c, False) for c in ("1210", "1211", "1212", "1213", "1214", "1215", "1261", "1301")],
    *[(401, str(c), False) for c in range(1000, 1006)],
    (403, "1220", False),
    *[(429, c, True) for c in ("1302", "1303", "1305", "1312", "1313")],
    *[(429, c, False) for c in ("1113", "1304", "1308", "1309", "1310", "1311")],
    (400, "1233", False),
    (404, "1233", False),
    *[(s, c, True) for s, c in ((500, "500"), (500, "1200"), (503, "1230"), (500, "1234"))],
]


@pytest.mark.parametrize(("http", "code", "retried"), ERROR_ROWS)
def test_every_error_row_is_retried_as_its_row_says(http: int, code: str, retried: bool) -> None:
    sleeps: list[float] = []
    answers: list[Any] = [error(http, code, headers={"Retry-After": "2"}), status("PROCESSING")]
    script = Script(answers)
    c = Client("sk-test", BASE, transport=script.sync(), sleep=sleeps.append, seed=1)
    if retried:
        assert c.get("task-1").status is TaskStatus.PROCESSING
        assert len(script.seen) == 2 and sleeps == [2.0]
    else:
        with pytest.raises(CogVideoError) as info:
            c.get("task-1")
        assert info.value.code == code and not info.value.retryable
        assert len(script.seen) == 1 and sleeps == []


def test_a_request_that_cannot_be_sent_is_not_retried() -> None:
    sleeps: list[float] = []
    c = Client("sk-test", "ftp://example.invalid/v4", sleep=sleeps.append)
    with pytest.raises(ConfigError, match=r"UnsupportedProtocol.*retrying cannot help"):
        c.get("task-1")
    assert sleeps == []


def test_a_key_that_would_make_an_illegal_header_is_refused_before_sending(emulator: Any) -> None:
    """A newline inside a key would make an illegal header (h11 quotes it in its error):
    refused up front, nothing sent, the key not shown."""
    sleeps: list[float] = []
    with pytest.raises(ConfigError) as info:
        Client("sk-secret-\nvalue", emulator.base_url, sleep=sleeps.append).get("task-1")
    assert "whitespace or control characters" in str(info.value) and "secret" not in str(info.value)
    assert sleeps == [] and emulator.stats()["requests"]["poll"] == 0


def test_a_gzip_bomb_answer_is_cut_at_the_size_cap() -> None:
    import gzip
    import time

    bomb = gzip.compress(b'{"id": "t-1", "task_status": "PROCESSING", "pad": "' + b" " * (64 << 20) + b'"}')
    assert len(bomb) < 200_000  # small on the wire, 64 MiB once inflated

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bomb, headers={"content-encoding": "gzip"})

    # The work it did, on this thread's CPU clock: a busy machine (xdist workers, other jobs)
    # must not make a wall-clock bound fail while the code does exactly as little as before.
    started = time.thread_time()
    with pytest.raises(ProtocolError, match="over 1048576 bytes"):
        Client("sk", BASE, transport=httpx.MockTransport(handler), sleep=lambda s: None).get("t-1")
    assert time.thread_time() - started < 2


async def test_async_download_of_many_chunks_and_of_nothing(tmp_path: Path) -> None:
    """Batches cross the 1 MiB write boundary intact; an empty body still makes its file (the
    temp file is only made by the first write, which for an empty body is the commit)."""
    import hashlib

    parts = [bytes([i]) * 300_000 for i in range(9)]  # 2.7 MB in 9 chunks

    def chunked(request: httpx.Request) -> httpx.Response:
        async def body():  # type: ignore[no-untyped-def]
            for p in parts:
                yield p

        return httpx.Response(200, content=body(), headers={"content-type": "video/mp4"})

    empty = httpx.Response(200, content=b"", headers={"content-type": "image/png"})
    async with AsyncClient("sk-test", BASE, transport=Script([chunked, empty]).async_()) as c:
        big = await c.download("https://cdn.test/v.mp4", tmp_path / "v.mp4")
        none = await c.download("https://cdn.test/c.png", tmp_path / "c.png", kind="image")
    assert big.path.read_bytes() == b"".join(parts) and big.size == 2_700_000
    assert big.sha256 == hashlib.sha256(b"".join(parts)).hexdigest()
    assert none.path.read_bytes() == b"" and none.sha256 == hashlib.sha256(b"").hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "v.mp4"]  # no .part left


@pytest.mark.parametrize("bad", ["a/b", "..", "<b>x</b>", "t\n1", "x" * 300, "\\..\\x"])
def test_an_unusable_task_id_from_the_server_fails_the_submit_once(bad: str) -> None:
    script = Script([ok_submit(bad), ok_submit("fine")])
    with pytest.raises(ProtocolError, match="the server sent an unusable task id") as info:
        client(script).submit("a fox")
    err = info.value
    assert len(script.seen) == 1 and not err.retryable and not err.outcome_unknown
    assert len(err.message) < 200 and "\n" not in err.message


async def test_an_unusable_task_id_fails_the_job_and_is_not_resumed(tmp_path: Path) -> None:
    from cogvideo_nb import JobStatus, build_request
    from cogvideo_nb._scheduler import Scheduler

    for bad in ("a/b", "..", "<b>x</b>"):
        script = Script([ok_submit(bad)])
        c = AsyncClient("sk-test", BASE, transport=script.async_(), retry=RetryPolicy(max_attempts=2))
        policy = fast_poll()
        s = Scheduler(c, output_dir=tmp_path / bad.replace("/", "_"), policy=policy, submit_gap=0)
        job = s.add(build_request("a fox"))
        await s.wait([job])
        assert job.status is JobStatus.FAILED and job.task_id is None, (bad, job.status, job.error)
        assert job.error_type == "ProtocolError" and "the server sent an unusable task id" in (
            job.error or ""
        )
        assert await s.resume() == [] and len(script.seen) == 1
        await s.aclose()
