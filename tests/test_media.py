"""Media tools on real MP4s: last frame, stitch (duration, sound, decodes), tile (size, labels)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from cogvideo_nb import Job, JobStatus, ValidationError, build_request, last_frame, stitch, tile
from cogvideo_nb._media import clip_info, contact_sheet_path
from cogvideo_nb.emulator import EmulatorConfig, render_clip

CFG = EmulatorConfig(render_fps=8, duration_scale=0.2)  # 5 s asked -> 8 frames at 8 fps


def clip(tmp_path: Path, prompt: str, size: str = "1920x1080", duration: int = 5) -> Path:
    out = tmp_path / f"{abs(hash((prompt, size, duration)))}.mp4"
    render_clip(
        prompt, size=size, duration=duration, out_video=out, out_cover=out.with_suffix(".png"), config=CFG
    )
    return out


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def with_audio(path: Path, seconds: float = 1.0, fps: int = 10) -> Path:
    """A clip with a 440 Hz tone, as a with_audio result would carry."""
    with av.open(str(path), "w", format="mp4") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = 320, 240, "yuv420p"
        a = c.add_stream("aac", rate=48000, layout="stereo")
        for i in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), 40 + i, np.uint8), format="rgb24")
            frame.pts = i
            c.mux(v.encode(frame))
        t = np.arange(round(seconds * 48000)) / 48000
        pcm = np.tile(np.sin(2 * np.pi * 440 * t).astype(np.float32), (2, 1))
        for i in range(0, pcm.shape[1], 1024):
            af = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, i : i + 1024]), format="fltp", layout="stereo"
            )
            af.sample_rate, af.pts = 48000, i
            c.mux(a.encode(af))
        c.mux(v.encode(None))
        c.mux(a.encode(None))
    return path


def test_last_frame_is_the_final_decoded_frame(tmp_path: Path) -> None:
    path = clip(tmp_path, "a lighthouse at night", duration=10)  # 16 frames: the seek path is used
    frames = decode(path)
    img = last_frame(path)
    assert isinstance(img, Image.Image) and img.mode == "RGB"
    assert img.size == (426, 240)
    got = np.asarray(img).astype(int)
    assert np.abs(got - frames[-1].astype(int)).mean() < 1.0
    assert np.abs(got - frames[0].astype(int)).mean() > 5.0  # not the first frame by mistake


def test_last_frame_of_a_job_needs_a_finished_video(tmp_path: Path) -> None:
    job = Job(request=build_request("x"), status=JobStatus.RUNNING)
    with pytest.raises(ValidationError, match="no video on disk"):
        last_frame(job)
    job.video_path = clip(tmp_path, "x")
    assert last_frame(job).size == (426, 240)


def test_stitch_duration_is_the_sum_and_it_decodes(tmp_path: Path) -> None:
    a = clip(tmp_path, "first clip")  # 426x240, 8 frames at 8 fps = 1 s
    b = clip(tmp_path, "second clip", size="1080x1920", duration=10)  # portrait, 2 s
    out = stitch([a, b], tmp_path / "out" / "story.mp4")
    info = clip_info(out)
    assert (info.width, info.height) == (426, 240)  # the first clip's size, the portrait letterboxed
    assert info.fps == pytest.approx(8)
    assert info.duration == pytest.approx(clip_info(a).duration + clip_info(b).duration, abs=0.13)
    frames = decode(out)
    assert len(frames) == 8 + 16
    assert not info.has_audio
    # the portrait clip sits on black bars at the sides
    assert frames[-4][:, :40].mean() < 20 and frames[-4][:, 180:240].mean() > 20


def test_stitch_keeps_sound_and_fills_silence(tmp_path: Path) -> None:
    loud = with_audio(tmp_path / "loud.mp4", seconds=1.0)
    quiet = clip(tmp_path, "no sound here")
    out = stitch([quiet, loud], tmp_path / "both.mp4", fps=10)
    info = clip_info(out)
    assert info.has_audio and info.fps == pytest.approx(10)
    with av.open(str(out)) as c:
        pcm = np.concatenate([f.to_ndarray() for f in c.decode(c.streams.audio[0])], axis=1)
    rate = 48000
    assert pcm.shape[1] / rate == pytest.approx(2.0, abs=0.1)
    assert np.abs(pcm[:, : int(0.9 * rate)]).max() < 0.01  # the silent first clip
    assert np.abs(pcm[:, int(1.2 * rate) : int(1.8 * rate)]).max() > 0.5  # the tone after it


def test_stitch_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        stitch([], tmp_path / "x.mp4")
    with pytest.raises(ValidationError, match="not found"):
        stitch([tmp_path / "missing.mp4"], tmp_path / "x.mp4")
    with pytest.raises(ValidationError, match=r"\.mp4"):
        stitch([clip(tmp_path, "a")], tmp_path / "x.gif")
    assert not (tmp_path / "x.mp4").exists()


def test_tile_dimensions_decode_and_labels(tmp_path: Path) -> None:
    clips = [clip(tmp_path, p) for p in ("a fox in watercolor", "a fox in claymation", "a fox in pixel art")]
    labelled = tile(clips, tmp_path / "grid.mp4", columns=2, labels=["a fox in watercolor",
                    "a fox in claymation", "a fox in pixel art"])  # fmt: skip
    plain = tile(clips, tmp_path / "plain.mp4", columns=2, labels=False)
    info = clip_info(labelled)
    # 2 columns x 2 rows of 426x240 cells with 4 px gaps
    assert (info.width, info.height) == (2 * 426 + 3 * 4, 2 * 240 + 3 * 4)
    assert info.duration == pytest.approx(1.0, abs=0.13)
    a, b = decode(labelled), decode(plain)
    assert len(a) == len(b) == 8
    band = (slice(4 + 240 - 30, 4 + 240), slice(4, 4 + 426))  # bottom of the first cell
    diff = np.abs(a[3][band].astype(int) - b[3][band].astype(int)).mean()
    assert diff > 10  # a caption is burned in
    top = (slice(4, 4 + 120), slice(4, 4 + 426))
    assert np.abs(a[3][top].astype(int) - b[3][top].astype(int)).mean() < 3  # and only there
    # the differing word ("watercolor") is yellow: strong red+green, little blue
    px = a[3][band].reshape(-1, 3).astype(int)
    assert ((px[:, 0] > 180) & (px[:, 1] > 150) & (px[:, 2] < 90)).sum() > 20
    sheet = Image.open(contact_sheet_path(labelled))
    assert sheet.size == (info.width, info.height)
    # the empty fourth cell stays background
    assert np.asarray(sheet)[4 + 244 + 10 : 480, 440:850].mean() < 30


def test_tile_holds_the_last_frame_of_shorter_clips(tmp_path: Path) -> None:
    short, long = clip(tmp_path, "short"), clip(tmp_path, "long", duration=10)
    out = tile([short, long], tmp_path / "t.mp4", labels=False)
    frames = decode(out)
    assert len(frames) == 16
    cell = (slice(4, 244), slice(4, 430))
    assert np.abs(frames[-1][cell].astype(int) - frames[8][cell].astype(int)).mean() < 2
    assert Fraction(clip_info(out).fps).limit_denominator(10) == 8
