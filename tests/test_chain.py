"""Chaining clips on the emulator: the next clip starts from the last frame of the one before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from cogvideo_nb import generate, last_frame, stitch
from cogvideo_nb._media import clip_info

# generate() makes its engine with get_engine(): it polls fast too.
pytestmark = pytest.mark.usefixtures("fast_default_polls")


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        rgb: np.ndarray = next(c.decode(video=0)).to_ndarray(format="rgb24")
    return rgb


def test_next_clip_starts_from_the_last_frame(engine_opts: dict[str, Any], tmp_path: Path) -> None:
    opts = engine_opts
    one = generate("a lighthouse at dusk on a rocky coast", timeout=30, **opts)
    end = last_frame(one)
    two = generate("the beam sweeps over the sea", image=end, timeout=30, **opts)
    assert two.video_path is not None and one.video_path is not None
    start = first_frame(two.video_path).astype(int)
    prev = np.asarray(end).astype(int)
    assert start.shape == prev.shape  # the emulator keeps the source image's aspect
    h = prev.shape[0]
    # clear of the captions both clips burn in: the second's at the top, the first's in both
    middle = slice(int(h * 0.35), int(h * 0.75))
    assert np.abs(start[middle] - prev[middle]).mean() < 6  # equal within codec tolerance
    assert np.abs(start - prev).mean() < 12
    # and it is not a coincidence: an unrelated clip is far away
    other = generate("a completely different prompt", timeout=30, **opts)
    assert np.abs(np.asarray(last_frame(other)).astype(int) - prev).mean() > 30
    # the chain stitches into one clip as long as both
    story = stitch([one, two], tmp_path / "story.mp4")
    total = clip_info(one.video_path).duration + clip_info(two.video_path).duration
    assert abs(clip_info(story).duration - total) < 0.3
