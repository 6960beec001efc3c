"""Video tools beside the engine: the last frame (for chaining), stitching, and grid export.

Clips are 5-10 s and people chain them through the last frame; comparison grids end up in
slides. These work on finished jobs (or plain MP4 paths) with PyAV and Pillow only, re-encoding
to one size and frame rate so clips from different runs always fit together.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Union

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont, ImageOps

from ._diff import diff_parts
from ._errors import ValidationError
from ._i18n import t
from ._jobs import Job

__all__ = ["Clip", "ClipInfo", "clip_info", "contact_sheet_path", "last_frame", "stitch", "tile"]

Clip = Union[Job, str, "os.PathLike[str]"]
U8 = npt.NDArray[np.uint8]
_RATE = 48000  # audio of a stitched file: AAC, stereo
_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
)


@dataclass(frozen=True)
class ClipInfo:
    """What a video file holds: size, frame rate, duration (s) and whether it has sound."""

    path: Path
    width: int
    height: int
    fps: float
    duration: float
    has_audio: bool


def _path(clip: Clip) -> Path:
    if isinstance(clip, Job):
        if clip.video_path is None or not Path(clip.video_path).is_file():
            raise ValidationError(
                t(
                    "job {job} has no video on disk (status {status}); wait for it to finish",
                    job=clip.id,
                    status=clip.status.word,
                ),
                field="job",
            )
        return Path(clip.video_path)
    path = Path(os.fspath(clip)).expanduser()
    if not path.is_file():
        raise ValidationError(t("video file not found: {path}", path=path), field="job")
    return path


def _open(path: Path) -> Any:
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise ValidationError(
            t("{name} is not a readable video: {reason}", name=path.name, reason=exc), field="job"
        ) from None


def clip_info(clip: Clip) -> ClipInfo:
    """Size, fps, duration and audio of one clip, read from its container."""
    path = _path(clip)
    with _open(path) as c:
        if not c.streams.video:
            raise ValidationError(t("{name} has no video stream", name=path.name), field="job")
        v = c.streams.video[0]
        fps = float(v.average_rate or v.guessed_rate or 30)
        if v.duration is not None and v.time_base is not None:
            duration = float(v.duration * v.time_base)
        elif c.duration is not None:
            duration = c.duration / av.time_base
        else:
            duration = (v.frames or 0) / fps
        return ClipInfo(path, v.width, v.height, fps, duration, bool(c.streams.audio))


def _frames(path: Path) -> Generator[tuple[float, Any], None, None]:
    """(time in s, frame) of every video frame, in presentation order."""
    with _open(path) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        start = stream.start_time or 0
        for frame in c.decode(stream):
            t = float((frame.pts - start) * frame.time_base) if frame.pts is not None else 0.0
            yield t, frame


def last_frame(job: Clip) -> Image.Image:
    """The clip's last frame as an RGB PIL image: the first frame of the next clip in a chain.

    Seeks to about a second before the end and decodes from there, so a 10 s 1080p clip does
    not have to be decoded in full.
    """
    path = _path(job)
    info = clip_info(path)
    with _open(path) as c:
        stream = c.streams.video[0]
        last = None
        if info.duration > 1.5 and stream.time_base is not None:
            target = int((info.duration - 1.0) / stream.time_base) + (stream.start_time or 0)
            try:
                c.seek(target, stream=stream, backward=True)
                for frame in c.decode(stream):
                    last = frame
            except av.FFmpegError:
                last = None
        if last is None:
            c.seek(0)
            for frame in c.decode(stream):
                last = frame
    if last is None:
        raise ValidationError(t("{name} has no decodable frame", name=path.name), field="job")
    image: Image.Image = last.to_image()
    return image.convert("RGB")


def _even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def _fit(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Letterbox into ``size``: clips of another aspect keep their shape, on black."""
    if img.size == size:
        return img
    return ImageOps.pad(img, size, method=Image.Resampling.BILINEAR, color=(0, 0, 0))


def _tmp(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _out_path(path: str | os.PathLike[str]) -> Path:
    out = Path(os.fspath(path)).expanduser()
    if out.suffix.lower() != ".mp4":
        raise ValidationError(t("output must be an .mp4 file, not {name}", name=repr(out.name)), field="path")
    return out


def _resampled(path: Path, fps: float, duration: float) -> Iterator[Any]:
    """Frames at a new rate: for each output time, the latest source frame shown by then."""
    n_out = max(1, round(duration * fps))
    source = _frames(path)
    current = next(source, None)
    if current is None:
        raise ValidationError(t("{name} has no decodable frame", name=path.name), field="job")
    upcoming = next(source, None)
    for k in range(n_out):
        when = k / fps + 1e-6
        while upcoming is not None and upcoming[0] <= when:
            current, upcoming = upcoming, next(source, None)
        yield current[1]
    source.close()


def _audio(path: Path, n_samples: int) -> npt.NDArray[np.float32]:
    """The clip's sound as (2, n_samples) float32 at 48 kHz: silence if it has none, cut or
    padded to exactly the video's length so later clips stay in sync."""
    out = np.zeros((2, n_samples), dtype=np.float32)
    with _open(path) as c:
        if not c.streams.audio:
            return out
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=_RATE)
        chunks: list[npt.NDArray[Any]] = []
        for frame in c.decode(c.streams.audio[0]):
            chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
        chunks.extend(f.to_ndarray() for f in resampler.resample(None))
    if chunks:
        pcm = np.concatenate(chunks, axis=1)[:, :n_samples]
        out[:, : pcm.shape[1]] = pcm
    return out


def stitch(
    jobs: Sequence[Clip],
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
) -> Path:
    """Join finished clips into one MP4, re-encoded to one size and frame rate (the first
    clip's unless given); sound is kept where a clip has it, silence fills where it has not."""
    if not jobs:
        raise ValidationError(t("stitch needs at least one finished clip"), field="jobs")
    infos = [clip_info(_path(j)) for j in jobs]
    width, height = size or (infos[0].width, infos[0].height)
    width, height = _even(width), _even(height)
    rate = Fraction(fps or infos[0].fps).limit_denominator(1001)
    out = _out_path(path)
    tmp = _tmp(out)
    try:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as c:
            video = _video_stream(c, width, height, rate)
            audio = None
            if any(i.has_audio for i in infos):
                audio = c.add_stream("aac", rate=_RATE, layout="stereo")
            pts, samples = 0, 0
            for info in infos:
                for frame in _resampled(info.path, float(rate), info.duration):
                    img = _fit(frame.to_image(), (width, height))
                    pts = _encode(c, video, np.asarray(img.convert("RGB")), pts)
                if audio is not None:
                    # Each clip's sound is cut to the frames it actually showed: stays in sync.
                    shown = pts / float(rate)
                    samples = _encode_audio(
                        c, audio, _audio(info.path, round(shown * _RATE) - samples), samples
                    )
            _flush(c, video, audio)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _video_stream(c: Any, width: int, height: int, rate: Fraction) -> Any:
    stream = c.add_stream("libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = {"preset": "veryfast", "crf": "20"}
    return stream


def _encode(c: Any, stream: Any, rgb: U8, pts: int) -> int:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    frame.pts = pts
    c.mux(stream.encode(frame))
    return pts + 1


def _encode_audio(c: Any, stream: Any, pcm: npt.NDArray[np.float32], start: int) -> int:
    size = 1024  # AAC's frame size
    for i in range(0, pcm.shape[1], size):
        chunk = np.ascontiguousarray(pcm[:, i : i + size])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate = _RATE
        frame.pts = start + i
        c.mux(stream.encode(frame))
    return start + int(pcm.shape[1])


def _flush(c: Any, video: Any, audio: Any) -> None:
    c.mux(video.encode(None))
    if audio is not None:
        c.mux(audio.encode(None))


@lru_cache(maxsize=8)
def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for p in _FONTS:
        if Path(p).exists():
            try:
                return ImageFont.truetype(p, px)
            except OSError:
                continue
    return ImageFont.load_default(size=px)


def _label_of(clip: Clip) -> str:
    if isinstance(clip, Job):
        return clip.label or clip.prompt or clip.id
    return Path(os.fspath(clip)).stem


def _label_overlay(size: tuple[int, int], runs: list[tuple[str, bool]]) -> Image.Image:
    """A caption band for the bottom of a cell (drawn once, pasted on every frame); the words
    that differ across cells are yellow, the rest white."""
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    w, h = size
    px = max(10, min(w, h) // 14)
    font = _font(px)
    pad = max(3, px // 3)
    lines: list[list[tuple[str, bool]]] = [[]]
    x = 0.0
    for text, differs in runs:
        for word in text.split():
            adv = draw.textlength(word + " ", font=font)
            if x + adv > w - 2 * pad and lines[-1]:
                if len(lines) == 2:
                    lines[-1].append(("…", False))
                    break
                lines.append([])
                x = 0.0
            lines[-1].append((word, differs))
            x += adv
        else:
            continue
        break
    band = len(lines) * (px + 3) + 2 * pad
    draw.rectangle((0, h - band, w, h), fill=(0, 0, 0, 170))
    y = h - band + pad
    for line in lines:
        x = pad
        for word, differs in line:
            draw.text((x, y), word, font=font, fill=(255, 214, 10) if differs else (255, 255, 255))
            x += draw.textlength(word + " ", font=font)
        y += px + 3
    return img


def contact_sheet_path(path: str | os.PathLike[str]) -> Path:
    """Where :func:`tile` writes the contact sheet beside its MP4."""
    return Path(os.fspath(path)).expanduser().with_suffix(".png")


def tile(
    jobs: Sequence[Clip],
    path: str | os.PathLike[str],
    columns: int | None = None,
    labels: bool | Sequence[str] = True,
    *,
    cell_width: int = 426,
    gap: int = 4,
) -> Path:
    """Render clips side by side into one MP4 (cells captioned, differing words highlighted),
    plus a contact-sheet PNG of each cell's middle frame at :func:`contact_sheet_path`.

    Shorter clips hold their last frame until the longest ends. Made for slides and handouts.
    """
    if not jobs:
        raise ValidationError(t("tile needs at least one finished clip"), field="jobs")
    infos = [clip_info(_path(j)) for j in jobs]
    n = len(infos)
    cols = max(1, min(columns or min(n, 3), n))
    rows = math.ceil(n / cols)
    cw = _even(min(cell_width, infos[0].width))
    ch = _even(cw * infos[0].height / infos[0].width)
    width, height = _even(cols * cw + (cols + 1) * gap), _even(rows * ch + (rows + 1) * gap)
    texts: list[str] | None = None
    if labels is True:
        texts = [_label_of(j) for j in jobs]
        prompts = [j.prompt for j in jobs if isinstance(j, Job)]
        if len(prompts) == n and len(set(prompts)) > 1:  # the prompts differ: show them, marked
            texts = [f"{j.label}: {j.prompt}" if j.label else j.prompt for j in jobs if isinstance(j, Job)]
    elif labels:
        texts = [str(t) for t in labels]
        if len(texts) != n:
            raise ValidationError(t("{labels} labels for {n} clips", labels=len(texts), n=n), field="labels")
    overlays = [_label_overlay((cw, ch), r) for r in diff_parts(texts)] if texts else None
    rate = Fraction(max(i.fps for i in infos)).limit_denominator(1001)
    duration = max(i.duration for i in infos)
    n_frames = max(1, round(duration * float(rate)))
    streams = [_resampled(i.path, float(rate), i.duration) for i in infos]
    held: list[Image.Image | None] = [None] * n
    middle: list[Image.Image | None] = [None] * n
    out = _out_path(path)
    tmp = _tmp(out)
    try:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as c:
            video = _video_stream(c, width, height, rate)
            pts = 0
            for k in range(n_frames):
                canvas = Image.new("RGB", (width, height), (24, 24, 24))
                for i, stream in enumerate(streams):
                    frame = next(stream, None)
                    if frame is not None:
                        cell = _fit(frame.to_image().convert("RGB"), (cw, ch))
                        if overlays is not None:
                            cell.paste(overlays[i], (0, 0), overlays[i])
                        held[i] = cell
                        if k == round(infos[i].duration * float(rate)) // 2:
                            middle[i] = cell
                    cell_now = held[i]
                    if cell_now is not None:
                        r, col = divmod(i, cols)
                        canvas.paste(cell_now, (gap + col * (cw + gap), gap + r * (ch + gap)))
                pts = _encode(c, video, np.asarray(canvas), pts)
            _flush(c, video, None)
        sheet = Image.new("RGB", (width, height), (24, 24, 24))
        for i in range(n):
            shown = middle[i] or held[i]
            if shown is not None:
                r, col = divmod(i, cols)
                sheet.paste(shown, (gap + col * (cw + gap), gap + r * (ch + gap)))
        sheet_path = contact_sheet_path(out)
        sheet_tmp = _tmp(sheet_path)
        sheet.save(sheet_tmp, format="PNG")
        os.replace(sheet_tmp, sheet_path)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
