"""Engine events reach widgets through one thread; the kernel keeps no finished video's bytes."""

from __future__ import annotations

import base64
import gc
import threading
import tracemalloc
from pathlib import Path
from typing import Any

from cogvideo_nb import Job, JobStatus, build_request
from cogvideo_nb._jobs import move
from cogvideo_nb.widgets import JobCard
from cogvideo_nb.widgets._bridge import BRIDGE

from .conftest import EngineFactory


class _NoEngine:
    """Cards only call the engine on button clicks, which these tests do not press."""


def _finish(job: Job, folder: Path) -> None:
    """An engine's moves for one job, from queued to files on disk."""
    move(job, JobStatus.SUBMITTING)
    move(job, JobStatus.RUNNING, task_id=f"task-{job.id[-6:]}", submitted_at=job.created_at)
    for n in range(5):
        job.note = f"poll {n}"
        job.notify()
    video = folder / f"{job.id}.mp4"
    video.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(64))
    move(job, JobStatus.DOWNLOADING, video_url="http://x/v.mp4")
    move(job, JobStatus.SUCCEEDED, video_path=video, video_sha256="0" * 64, note="done")


def test_many_jobs_ending_at_once_while_the_main_thread_switches_cards(tmp_path: Path) -> None:
    """No lost update, and every widget write happens on one thread."""
    jobs = [Job(request=build_request(f"a moth number {i}")) for i in range(60)]
    cards = [JobCard(job, _NoEngine()) for job in jobs]  # type: ignore[arg-type]
    writers: set[str] = set()
    for card in cards:
        card.observe(lambda _: writers.add(threading.current_thread().name), names=["status", "note"])
    replacements = [Job(request=build_request(f"a retried moth {i}")) for i in range(0, 60, 3)]
    threads = [threading.Thread(target=_finish, args=(job, tmp_path)) for job in jobs + replacements]
    for t in threads:
        t.start()
    for card, new in zip(cards[::3], replacements, strict=True):  # the main thread, meanwhile
        card.switch(new)
    for t in threads:
        t.join()
    BRIDGE.flush()
    for card in cards:
        job = card.job
        assert job.status is JobStatus.SUCCEEDED
        assert (card.status, card.note, card.video_name) == ("succeeded", "done", f"{job.id}.mp4")
        assert card.job_id == job.id and card.prompt == job.prompt
    assert writers == {"cogvideo-ui"}


def test_the_kernel_keeps_no_video_bytes_after_30_videos(
    engine_factory: EngineFactory, monkeypatch: Any
) -> None:
    engine = engine_factory(concurrency=10)
    jobs = [engine.submit(f"a firefly number {i}") for i in range(30)]
    cards = [JobCard(job, engine) for job in jobs]
    engine.wait(jobs, 120)
    BRIDGE.flush()
    assert all(c.status == "succeeded" for c in cards)
    sizes = [j.video_path.stat().st_size for j in jobs]  # type: ignore[union-attr]
    for card in cards:  # no trait holds the video; the poster is a small JPEG
        # (the page code, _esm and _css, is one string every card shares: code, not a card's data)
        data = [n for n in card.trait_names(sync=True) if not n.startswith("_")]
        held = [v for n in data if isinstance(v := getattr(card, n), (bytes, str))]
        assert sum(map(len, held)) < 25_000, (card.video_name, sum(map(len, held)))
        video = card.job.video_path.read_bytes()  # type: ignore[union-attr]
        at = len(video) // 6 * 3  # a piece from its middle, on a base64 boundary (a data: URL)
        piece = video[at : at + 600]
        as_text = base64.b64encode(piece).decode()
        kept = [v for v in held if (piece in v if isinstance(v, bytes) else as_text in v)]
        assert kept == [], card.video_name

    # The fallback transfer (files outside the server's root) reads each file once and lets go.
    sent: list[int] = []
    for card in cards:
        monkeypatch.setattr(card, "send", lambda msg, buffers=None: sent.append(len(buffers[0])))
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for card in cards:
            card._handle_custom_msg({"action": "fetch"}, [])
        BRIDGE.flush()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert sent == sizes
    # Kept, the 30 videos would be sum(sizes); let go, what remains is bookkeeping.
    assert grown < sum(sizes) / 10, f"{grown} bytes still held after sending {sum(sizes)}"
