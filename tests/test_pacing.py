"""Caps per model as well as in total; a 429 on one model slows only that model."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import httpx

from cogvideo_nb import AsyncClient, JobStatus, build_request
from cogvideo_nb._models import model_concurrency
from cogvideo_nb._scheduler import Scheduler

from ._mock import error, mp4
from .conftest import FAST_RETRY, fast_poll


def test_per_model_caps_follow_the_api_notes() -> None:
    assert model_concurrency("cogvideox-3") == 1
    assert model_concurrency("viduq1-text") == model_concurrency("vidu2-reference") == 5
    assert 1 <= model_concurrency("cogvideox-flash") <= 5  # unlisted: a conservative default


class FakeServer:
    """Tasks that finish after a few polls; cogvideox-3 answers its first submits with 429."""

    def __init__(self, limited: int) -> None:
        self.limited = limited
        self.polls: Counter[str] = Counter()
        self.model_of: dict[str, str] = {}
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            model = body["model"]
            if model == "cogvideox-3" and self.limited > 0:
                self.limited -= 1
                return error(429, "1302", "too many cogvideox-3 tasks", headers={"Retry-After": "0.05"})
            task = f"t-{len(self.model_of)}"
            self.model_of[task] = model
            self.in_flight[model] += 1
            self.peak[model] = max(self.peak[model], self.in_flight[model])
            return httpx.Response(200, json={"id": task, "task_status": "PROCESSING", "model": model})
        if "async-result" in request.url.path:
            task = request.url.path.rsplit("/", 1)[1]
            self.polls[task] += 1
            if self.polls[task] < 3:
                return httpx.Response(200, json={"id": task, "task_status": "PROCESSING"})
            if self.polls[task] == 3:
                self.in_flight[self.model_of[task]] -= 1
            urls = {"url": f"https://cdn.test/{task}.mp4", "cover_image_url": f"https://cdn.test/{task}.png"}
            return httpx.Response(200, json={"id": task, "task_status": "SUCCESS", "video_result": [urls]})
        if request.url.path.endswith(".mp4"):
            return httpx.Response(200, content=mp4(), headers={"content-type": "video/mp4"})
        return httpx.Response(200, content=b"file", headers={"content-type": "image/png"})


async def test_a_429_on_one_model_slows_only_that_model(tmp_path: Path) -> None:
    server = FakeServer(limited=3)
    client = AsyncClient("sk", "https://api.test/v4", transport=httpx.MockTransport(server), retry=FAST_RETRY)
    s = Scheduler(client, output_dir=tmp_path, concurrency=8, policy=fast_poll(), submit_gap=0.0)
    s.calm_seconds = 60  # no recovery during the test: what we see is what the 429 did
    jobs = [s.add(build_request(f"pro {i}", model="cogvideox-3")) for i in range(3)]
    jobs += [s.add(build_request(f"flash {i}", model="cogvideox-flash")) for i in range(6)]
    await asyncio.wait_for(s.wait(jobs), 30)
    assert all(j.status is JobStatus.SUCCEEDED for j in jobs), [(j.status, j.error) for j in jobs]
    assert server.peak["cogvideox-3"] == 1  # its own cap, whatever the total
    assert server.peak["cogvideox-flash"] > 1
    pro, flash = s.throttle.model("cogvideox-3"), s.throttle.model("cogvideox-flash")
    assert pro.gap > 0 and flash.gap == 0.0  # only the limited model slowed down
    assert flash.slots.limit == model_concurrency("cogvideox-flash")
    await s.aclose()


async def test_a_freed_slot_goes_to_the_waiters_in_order() -> None:
    from cogvideo_nb._pacing import Slots

    slots, got = Slots(1), []
    await slots.acquire()

    async def waiter(name: str) -> None:
        await slots.acquire()
        got.append(name)

    tasks = [asyncio.create_task(waiter(n)) for n in "abc"]
    await asyncio.sleep(0)
    for expected in ("a", "ab", "abc"):
        await slots.release()
        for _ in range(5):
            await asyncio.sleep(0)
        assert "".join(got) == expected  # one slot, one waiter through, first come first served
    await asyncio.gather(*tasks)


async def test_a_waiter_cancelled_after_its_wake_up_passes_the_slot_on() -> None:
    """Only as many waiters are woken as slots are free: a woken waiter that is then cancelled
    must hand its wake-up to the next one, or the slot stays free with someone waiting forever."""
    from cogvideo_nb._pacing import Slots

    slots = Slots(1)
    await slots.acquire()
    first = asyncio.create_task(slots.acquire())
    second = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    await slots.release()  # wakes `first` only
    first.cancel()
    await asyncio.wait_for(second, 2)
    assert first.cancelled() and slots.used == 1
