"""The emulator speaks the platform's wire format: SDK and plain httpx, every error row, files."""

from __future__ import annotations

import ast
import io
import json
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from cogvideo_nb.emulator import Emulator

from ._emu import AUTH, KEY, poll, running, submit, top_level_atoms, wait_done
from .conftest import FAST


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with running() as e:
        yield e


def test_httpx_submit_poll_download_gives_a_faststart_h264(emu: Emulator) -> None:
    sub = submit(emu, prompt="a red kite over dunes #seconds=1.5", size="720x480", request_id="req-1")
    assert sub.status_code == 200
    assert sub.headers["X-CogVideo-Emulator"] == "1"
    body = sub.json()
    assert set(body) == {"id", "request_id", "model", "task_status"}  # documented fields only
    assert body["request_id"] == "req-1" and body["task_status"] == "PROCESSING"

    first = poll(emu, body["id"]).json()
    assert first["task_status"] == "PROCESSING" and "video_result" not in first
    assert set(first) == {"id", "request_id", "model", "task_status", "created"}
    done = wait_done(emu, body["id"])
    assert done["task_status"] == "SUCCESS" and done["id"] == body["id"]
    assert set(done) == {"id", "request_id", "model", "task_status", "created", "video_result"}
    urls = done["video_result"][0]
    # a second origin, real-looking names, no expiry parameter in sight
    assert urls["url"].startswith(emu.files_url + "/") and emu.files_url != emu.root_url
    assert urls["url"].endswith("_0.mp4") and urls["cover_image_url"].endswith("_cover_0.png")
    assert "?" not in urls["url"] and "?" not in urls["cover_image_url"]
    video = httpx.get(urls["url"])
    cover = httpx.get(urls["cover_image_url"])
    assert video.headers["content-type"] == "video/mp4"
    assert cover.headers["content-type"] == "image/png"
    assert video.headers["X-CogVideo-Emulator"] == "1"

    atoms = top_level_atoms(video.content)
    assert atoms.index("moov") < atoms.index("mdat")
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(container.decode(stream))
    assert (frames[0].width, frames[0].height) == (360, 240)  # 720x480 at short side 240
    assert frames[0].format.name == "yuv420p"
    assert len(frames) == round(5 * 0.1 * 4)  # FAST: 5 s asked x duration_scale x render_fps
    img = Image.open(io.BytesIO(cover.content))
    assert img.format == "PNG" and img.size == (360, 240)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "1210"),
        (b"[1, 2]", 400, "1210"),
        ({"model": "cogvideox-9", "prompt": "x"}, 400, "1211"),
        ({"model": "cogvideox-flash"}, 400, "1214"),
        ({"model": "cogvideox-flash", "prompt": "", "image_url": None}, 400, "1214"),
        ({"model": "cogvideox-flash", "prompt": "x", "size": "640x480"}, 400, "1214"),
        ({"model": "cogvideox-3", "prompt": "x", "size": "720x480"}, 400, "1214"),
        ({"model": "cogvideox-flash", "prompt": "x", "fps": 24}, 400, "1214"),
        ({"model": "cogvideox-flash", "prompt": "x", "fps": "30"}, 400, "1214"),
        ({"model": "cogvideox-flash", "prompt": "x", "duration": 7}, 400, "1214"),
        ({"model": "cogvideox-flash", "prompt": "x", "quality": "best"}, 400, "1214"),
        ({"model": "cogvideox-flash", "prompt": "x", "with_audio": "yes"}, 400, "1214"),
        ({"model": "cogvideox-flash", "image_url": "ftp://host/a.png"}, 400, "1214"),
        ({"model": "cogvideox-flash", "image_url": "data:image/png;base64,!!"}, 400, "1214"),
        ({"model": "cogvideox-flash", "prompt": "x" * 513}, 400, "1261"),
        ({"model": "cogvideox-flash", "prompt": "a BlockedWord here"}, 400, "1301"),
    ],
)
def test_error_rows(emu: Emulator, body: Any, status: int, code: str) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = httpx.post(emu.base_url + "/videos/generations", content=content, headers=AUTH)
    assert resp.status_code == status
    assert resp.json()["error"]["code"] == code
    assert isinstance(resp.json()["error"]["message"], str)
    assert resp.headers["X-CogVideo-Emulator"] == "1"
    assert emu.stats()["tasks"] == []


def test_valid_edge_values_are_accepted(emu: Emulator) -> None:
    assert submit(emu, prompt="x" * 512, fps=60, duration=10, quality="quality").status_code == 200
    assert submit(emu, model="cogvideox-3", prompt="x", size="1280x720").status_code == 200
    # the SDK sends unset fields as null; they must read as absent
    assert submit(emu, prompt="x", image_url=None, size=None, with_audio=None).status_code == 200


def test_auth_rows(emu: Emulator) -> None:
    missing = submit(emu, headers={}, prompt="x")
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "1001")
    assert poll(emu, "anything", headers={"Authorization": "Basic xyz"}).status_code == 401
    with running(FAST.replace(accepted_keys=frozenset({KEY}))) as strict:
        bad = submit(strict, headers={"Authorization": "Bearer other.key"}, prompt="x")
        assert (bad.status_code, bad.json()["error"]["code"]) == (401, "1002")
        assert submit(strict, prompt="x").status_code == 200


def test_every_answer_is_marked_as_emulated(emu: Emulator) -> None:
    for resp in (
        httpx.put(emu.base_url + "/videos/generations", headers=AUTH),  # stdlib's 501 page
        httpx.get(emu.root_url + "/nowhere"),
        httpx.get(emu.files_url + "/api/cogvideo/x_0.mp4"),
        httpx.get(emu.root_url + "/_emulator/stats"),
    ):
        assert resp.headers["X-CogVideo-Emulator"] == "1", resp


def test_unknown_task_is_404_1233(emu: Emulator) -> None:
    resp = poll(emu, "nope-123")
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "1233", "message": "task not found: nope-123"}}


def test_duplicate_request_id_returns_the_same_task_per_key(emu: Emulator) -> None:
    a = submit(emu, prompt="x", request_id="dup").json()
    b = submit(emu, prompt="x", request_id="dup").json()
    other_key = {"Authorization": "Bearer zzz.yyy"}
    c = submit(emu, headers=other_key, prompt="x", request_id="dup").json()
    assert a["id"] == b["id"] != c["id"]
    assert len(emu.stats()["tasks"]) == 2


def test_per_key_in_flight_limit_429_and_release() -> None:
    with running(FAST.replace(max_in_flight=2)) as emu:
        # 2 s tasks: still in flight for the next four requests, however busy the machine is
        slow = [submit(emu, prompt=f"#seconds=2 n{i}", request_id=f"r{i}").json()["id"] for i in range(2)]
        third = submit(emu, prompt="third")
        assert third.status_code == 429 and third.json()["error"]["code"] == "1302"
        assert submit(emu, headers={"Authorization": "Bearer k2"}, prompt="x").status_code == 200
        # a retried submit of an in-flight task is no new task, so the limit does not apply
        retry = submit(emu, prompt="#seconds=2 n0", request_id="r0")
        assert retry.status_code == 200 and retry.json()["id"] == slow[0]
        for task_id in slow:
            wait_done(emu, task_id)
        assert submit(emu, prompt="after").status_code == 200


def test_ranges_head_and_expiry(emu: Emulator) -> None:
    done = wait_done(emu, submit(emu, prompt="ranges").json()["id"])
    url = done["video_result"][0]["url"]
    full = httpx.get(url)
    size = len(full.content)
    assert full.headers["accept-ranges"] == "bytes"
    cases = [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, size - 1),
        ("bytes=-5", size - 5, size - 1),
        ("bytes=5-99999999", 5, size - 1),
    ]
    for header, start, end in cases:
        part = httpx.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert part.content == full.content[start : end + 1]
    bad = httpx.get(url, headers={"Range": f"bytes={size}-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{size}"
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == size

    # a forged or mangled name is no file; the API host serves no files at all
    assert httpx.get(url.replace("_0.mp4", "_1.mp4")).status_code == 404
    assert httpx.get(url[:-12] + "0" * 6 + url[-6:]).status_code == 404
    path = urllib.parse.urlsplit(url).path
    assert httpx.get(emu.root_url + path).status_code == 404


def test_url_ttl_knob_makes_links_expire() -> None:
    with running(FAST.replace(url_ttl=-1)) as emu:
        done = wait_done(emu, submit(emu, prompt="short-lived").json()["id"])
        denied = httpx.get(done["video_result"][0]["url"])
        assert denied.status_code == 403
        assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in denied.text


def test_restart_on_the_same_state_dir_keeps_and_finishes_tasks(tmp_path: Path) -> None:
    with running(state_dir=tmp_path) as first:
        done_id = submit(first, prompt="before").json()["id"]
        wait_done(first, done_id)
        # 4 s: still processing after the stop and the restart, however busy the machine is
        pending_id = submit(first, prompt="#seconds=4 across a restart").json()["id"]
        old_port = first.port
    with running(state_dir=tmp_path) as second:
        assert second.port != old_port
        assert poll(second, pending_id).json()["task_status"] == "PROCESSING"
        answer = wait_done(second, pending_id)
        assert answer["task_status"] == "SUCCESS"
        assert answer["video_result"][0]["url"].startswith(second.files_url)
        old = poll(second, done_id).json()
        assert httpx.get(old["video_result"][0]["url"]).status_code == 200
        assert {t["id"] for t in second.stats()["tasks"]} == {done_id, pending_id}


def test_stats_endpoint_matches_in_process_stats(emu: Emulator) -> None:
    task_id = submit(emu, prompt="#seconds=3 count me", request_id="r-stats").json()["id"]
    poll(emu, task_id)
    remote = httpx.get(emu.root_url + "/_emulator/stats").json()
    assert remote == emu.stats()
    assert remote["requests"] == {"submit": 1, "poll": 1, "file": 0}
    (task,) = remote["tasks"]
    assert task["id"] == task_id and task["request_id"] == "r-stats"
    assert task["prompt"] == "#seconds=3 count me" and task["status"] == "PROCESSING"
    assert task["due_at"] - task["created_at"] == pytest.approx(3.0)


def test_emulator_never_imports_the_client() -> None:
    forbidden = {"_client", "_request", "_errors", "_config"}
    pkg = Path(__file__).resolve().parents[1] / "cogvideo_nb" / "emulator"
    for path in pkg.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = {a.name for a in node.names}
                mod = node.module or ""
                if node.level == 2 or mod.startswith("cogvideo_nb"):
                    target = {mod.rsplit(".", 1)[-1]} | (names if not mod else set())
                    assert not target & forbidden, f"{path.name} imports {mod or names}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[-1] not in forbidden, path.name


def test_head_on_api_routes_sends_no_body_and_keeps_the_connection_usable(emu: Emulator) -> None:
    with httpx.Client(headers=AUTH) as client:
        head = client.head(f"{emu.base_url}/async-result/missing")
        assert head.status_code == 404 and head.content == b""
        assert int(head.headers["content-length"]) > 0
        assert client.get(f"{emu.base_url}/async-result/missing").json()["error"]["code"] == "1233"


def test_stop_cuts_keep_alive_connections() -> None:
    with httpx.Client(headers=AUTH) as client:
        with running() as emu:
            url = f"{emu.base_url}/async-result/x"
            assert client.get(url).status_code == 404
        with pytest.raises(httpx.TransportError):
            client.get(url)


def test_concurrent_bursts_respect_dedup_and_the_limit(emu: Emulator) -> None:
    # 30 s tasks (nobody waits for them): all still in flight at the second burst, however busy
    # the machine is (at 2 s, a slow burst let the first tasks end and more submits through).
    with ThreadPoolExecutor(10) as pool:
        same = list(pool.map(lambda _: submit(emu, prompt="#seconds=30 x", request_id="burst"), range(10)))
    assert len({r.json()["id"] for r in same}) == 1
    with ThreadPoolExecutor(10) as pool:
        many = list(pool.map(lambda i: submit(emu, prompt=f"#seconds=30 n{i}"), range(10)))
    codes = sorted(r.status_code for r in many)
    assert codes == [200] * 4 + [429] * 6  # 5 in flight per key, one of them is "burst"


def test_old_finished_tasks_are_pruned_at_start(tmp_path: Path) -> None:
    with running(state_dir=tmp_path) as emu:
        old_id = submit(emu, prompt="old").json()["id"]
        wait_done(emu, old_id)
    record = tmp_path / "tasks" / f"{old_id}.json"
    data = json.loads(record.read_text())
    data["finished_at"] -= 3600
    record.write_text(json.dumps(data))
    with running(FAST.replace(retention_seconds=7200), state_dir=tmp_path) as emu:
        assert poll(emu, old_id).json()["task_status"] == "SUCCESS"  # within retention: kept
    with running(FAST.replace(retention_seconds=600), state_dir=tmp_path) as emu:
        assert poll(emu, old_id).status_code == 404
    assert not record.exists() and not (tmp_path / "files" / f"{old_id}.mp4").exists()
