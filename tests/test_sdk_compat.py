"""Clients nobody here wrote, unchanged but for the base URL, submit and retrieve against the
emulator: the seed's OpenAI-client flow, ``zhipuai`` and ``zai-sdk``.

The two official SDKs pin conflicting pyjwt ranges, so each lives in its own venv at the repo
root (``scripts/test.sh`` builds them) and runs here in a subprocess from a temp dir, with
nothing of this package importable. A missing venv fails the test: it is not optional.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from cogvideo_nb.emulator import Emulator, EmulatorConfig

from ._emu import KEY, running
from .conftest import FAST

ROOT = Path(__file__).resolve().parents[1]
SEED_PROMPT = "一只柴犬在草地上奔跑，阳光明媚，蓝天"

# Shared by both SDK scripts: poll as the SDKs' own example does (here every 0.1 s), then fetch
# the video from its URL with no key, and report what came back.
_POLL = """
def wait(client, task_id):
    deadline = time.monotonic() + 30
    while True:
        result = client.videos.retrieve_videos_result(id=task_id)
        if result.task_status != "PROCESSING" or time.monotonic() > deadline:
            return result
        time.sleep(0.1)

def report(created, result):
    video = result.video_result[0]
    return {"created": created.task_status, "model": created.model, "id": created.id,
            "status": result.task_status, "request_id": result.request_id,
            "created_request_id": created.request_id, "url": video.url,
            "cover": video.cover_image_url, "head": httpx.get(video.url).content[4:8].decode("latin-1")}
"""

ZHIPUAI = (
    """
import json, sys, time, httpx
from zhipuai import ZhipuAI
base, key, prompt = sys.argv[1:4]
"""
    + _POLL
    + """
out = []
for jwt in (False, True):
    client = ZhipuAI(api_key=key, base_url=base, max_retries=0, disable_token_cache=not jwt)
    created = client.videos.generations(model="cogvideox-flash", prompt=prompt, size="1920x1080",
                                        fps=30, duration=5, quality="speed", with_audio=False)
    out.append(report(created, wait(client, created.id)))
forged = ZhipuAI(api_key="abc.wrong", base_url=base, max_retries=0, disable_token_cache=False)
try:
    forged.videos.generations(model="cogvideox-flash", prompt=prompt)
    out.append("forged JWT accepted")
except Exception as exc:
    out.append(type(exc).__name__)
print(json.dumps(out))
"""
)

ZAI = (
    """
import json, sys, time, httpx
from zai import ZaiClient, ZhipuAiClient
base, key, prompt, first, last = sys.argv[1:6]
"""
    + _POLL
    + """
out = []
bigmodel = ZhipuAiClient(api_key=key, base_url=base)
created = bigmodel.videos.generations(model="cogvideox-flash", prompt=prompt)  # the rest as null
out.append(report(created, wait(bigmodel, created.id)))
zai = ZaiClient(api_key=key, base_url=base)
created = zai.videos.generations(model="viduq1-text", prompt=prompt, style="anime",
                                 aspect_ratio="9:16", movement_amplitude="small", off_peak=True)
out.append(report(created, wait(zai, created.id)))
created = zai.videos.generations(model="vidu2-start-end", prompt=prompt, image_url=[first, last],
                                 duration=4, size="1280x720")
out.append(report(created, wait(zai, created.id)))
print(json.dumps(out))
"""
)


def sdk_python(name: str) -> Path:
    python = ROOT / f".venv-sdk-{name}" / "bin" / "python"
    if not python.exists():
        pytest.fail(
            f"{python.parent.parent.name} is missing: run scripts/test.sh, which builds it from uv.lock"
        )
    return python


def run_sdk(name: str, script: str, *args: str, cwd: Path) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHIPUAI_", "ZAI_", "PYTHON"))}
    out = subprocess.run(
        [str(sdk_python(name)), "-c", script, *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def assert_round_trip(emu: Emulator, got: dict[str, Any], model: str) -> None:
    assert got["created"] == "PROCESSING" and got["model"] == model and got["id"]
    assert got["status"] == "SUCCESS" and got["request_id"] == got["created_request_id"]
    assert got["url"].startswith(emu.files_url) and got["url"].endswith("_0.mp4")
    assert got["cover"].endswith("_cover_0.png") and got["head"] == "ftyp"


def png_b64(color: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (32, 18), color).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_zhipuai_sdk_submits_and_retrieves_with_plain_key_and_jwt(tmp_path: Path) -> None:
    with running(FAST.replace(accepted_keys=frozenset({KEY}))) as emu:
        plain, jwt, forged = run_sdk("zhipuai", ZHIPUAI, emu.base_url, KEY, SEED_PROMPT, cwd=tmp_path)
        assert_round_trip(emu, plain, "cogvideox-flash")
        assert_round_trip(emu, jwt, "cogvideox-flash")
        assert forged == "APIAuthenticationError"
        assert {t["prompt"] for t in emu.stats()["tasks"]} == {SEED_PROMPT}


def test_zai_sdk_both_clients_vidu_fields_nulls_and_two_frames(tmp_path: Path) -> None:
    with running() as emu:
        first, last = png_b64((200, 30, 30)), png_b64((30, 30, 200))  # bare Base64, as the docs allow
        text, vidu, start_end = run_sdk("zai", ZAI, emu.base_url, KEY, SEED_PROMPT, first, last, cwd=tmp_path)
        assert_round_trip(emu, text, "cogvideox-flash")
        assert_round_trip(emu, vidu, "viduq1-text")
        assert_round_trip(emu, start_end, "vidu2-start-end")
        assert [t["model"] for t in emu.stats()["tasks"]] == [
            "cogvideox-flash",
            "viduq1-text",
            "vidu2-start-end",
        ]


def test_the_seed_openai_client_flow(tmp_path: Path) -> None:
    """The seed's flow: the OpenAI client's generic post/get on the OpenAI-compatible paths."""
    from openai import OpenAI

    with Emulator(EmulatorConfig(seconds=0.3, render_fps=4, duration_scale=0.1)) as emu:
        client = OpenAI(api_key=KEY, base_url=emu.base_url)
        body = {"model": "cogvideox-flash", "prompt": SEED_PROMPT, "quality": "speed", "with_audio": False}
        task: Any = client.post("/videos/generations", body=body, cast_to=object)
        assert task["task_status"] == "PROCESSING" and task["model"] == "cogvideox-flash"
        deadline = time.monotonic() + 30
        while True:
            result: Any = client.get(f"/async-result/{task['id']}", cast_to=object)
            if result["task_status"] != "PROCESSING" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert result["task_status"] == "SUCCESS"
        video = result["video_result"][0]["url"]
        (tmp_path / "seed.mp4").write_bytes(httpx.get(video).content)
        assert (tmp_path / "seed.mp4").read_bytes()[4:8] == b"ftyp"
