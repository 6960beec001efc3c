"""Real-size media (``media="real"``): clips with the resolution, frame count and bytes of the
real service's, at a small fraction of the CPU it would take to encode them honestly.

The real service returns H.264 MP4s at the requested size: 1080p and 4K clips of several to tens
of MB. What a client does with them (stream to disk, hash, hand to the page) must be exercised at
that size. Encoding 150 full-resolution frames per task would cost seconds of CPU per clip, so:

* a few distinct frames (``DISTINCT``) are drawn and encoded at full resolution as intra frames;
* every output frame is one of those, in order (a slide show with the real frame count and rate);
* each access unit is padded to the target bitrate with H.264 filler data (NAL type 12), exactly
  what a constant-bitrate encoder (x264 ``nal-hrd=cbr``) emits: decoders skip it, the bytes on
  the wire and on disk are the real service's.

Bitrate per resolution (``bitrate_for``): 12 Mbit/s for 1920x1080 at 30 fps, scaled by pixel
count and x1.5 at 60 fps (the ratio YouTube's H.264 upload recommendations use between 30 and
60 fps). A 5 s 1080p30 clip is 7.5 MB, a 4K30 one 30 MB: inside the 8-20 Mbit/s range seen for
1080p clips from the service (the API notes publish no bitrate).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from .._i18n import t
from ._frames import U8, Overlay, RenderResult, Scene, committed, even, image_frames, pictures

__all__ = [
    "BITRATE_1080P30", "DISTINCT", "bitrate_for", "encode_real", "filler_nal", "real_size", "render_real",
]  # fmt: skip

BITRATE_1080P30 = 12_000_000  # bit/s
DISTINCT = 8  # distinct pictures per clip; the rest of the frames repeat them in order
_ANNEXB = b"\x00\x00\x00\x01"


def bitrate_for(width: int, height: int, fps: int) -> int:
    """Target bit/s of a clip: 12 Mbit/s at 1080p30, by pixel count, x1.5 at 60 fps."""
    return round(BITRATE_1080P30 * (width * height) / (1920 * 1080) * (1.5 if fps >= 60 else 1.0))


def filler_nal(size: int) -> bytes:
    """One Annex B filler-data NAL unit of exactly ``size`` bytes (``size`` >= 6).

    Start code, NAL header 0x0C (filler data), 0xFF payload, rbsp trailing bits 0x80. The MP4
    muxer rewrites the start code as a 4-byte length: the size stays the same.
    """
    if size < 6:
        raise ValueError(t("a filler NAL unit takes at least 6 bytes"))
    return _ANNEXB + b"\x0c" + b"\xff" * (size - 6) + b"\x80"


def encode_real(
    path: Path,
    *,
    width: int,
    height: int,
    fps: int,
    n_frames: int,
    picture: Callable[[int], U8],
) -> int:
    """Write an MP4 of ``n_frames`` at ``fps`` padded to :func:`bitrate_for`; returns its bytes.

    ``picture(i)`` draws output frame ``i`` (RGB, height x width x 3); it is called only for the
    ``DISTINCT`` frames that start each run of repeats.
    """
    k = min(DISTINCT, n_frames)
    starts = [i * n_frames // k for i in range(k)]
    per_frame = bitrate_for(width, height, fps) // 8 // fps
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as c:
        stream = c.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "26", "x264-params": "keyint=1:scenecut=0"}
        stream.codec_context.thread_count = 1
        encoded: list[bytes] = []
        for j, i in enumerate(starts):
            frame = av.VideoFrame.from_ndarray(picture(i), format="rgb24")
            frame.pts = j
            encoded += [bytes(p) for p in stream.encode(frame)]
        encoded += [bytes(p) for p in stream.encode(None)]
        if len(encoded) != k:
            raise RuntimeError(t("encoder gave {n} packets for {k} intra frames", n=len(encoded), k=k))
        padded = [d + filler_nal(per_frame - len(d)) if per_frame - len(d) >= 6 else d for d in encoded]
        for i in range(n_frames):
            j = max(idx for idx, s in enumerate(starts) if s <= i)
            packet = av.Packet(padded[j])
            packet.pts = packet.dts = i
            packet.time_base = Fraction(1, fps)
            packet.stream = stream
            packet.is_keyframe = True
            c.mux(packet)
    return path.stat().st_size


def real_size(size: str | None, image_aspect: float | None = None) -> tuple[int, int]:
    """The size the real service returns: the requested one, else short side 1080 at the
    source image's aspect (16:9 without one); even dims for yuv420p."""
    if size:
        w_s, _, h_s = size.lower().partition("x")
        return even(int(w_s)), even(int(h_s))
    aspect = image_aspect or 16 / 9
    return (even(1080 * aspect), 1080) if aspect >= 1 else (1080, even(1080 / aspect))


def render_real(
    prompt: str, size: str | None, fps: int, duration: float, src: Image.Image | None,
    out_video: Path, out_cover: Path, variation: str = "",
) -> RenderResult:  # fmt: skip
    """Real size, rate, frame count and bytes; few distinct pictures (see ``_media``).
    ``variation`` (the task id) moves each run of one prompt differently, as in small mode."""
    width, height = real_size(size, src.width / src.height if src else None)
    n_frames = max(1, round(duration * fps))
    overlay = Overlay(prompt, width, height, compact=src is not None)
    frames = image_frames(src, width, height, min(DISTINCT, n_frames)) if src else None
    scene = None if src else Scene(prompt, width, height, n_frames, variation)
    with committed(out_video, out_cover) as (tmp_video, tmp_cover):
        picture = pictures(frames, scene, overlay, n_frames, tmp_cover)
        encode_real(tmp_video, width=width, height=height, fps=fps, n_frames=n_frames, picture=picture)
    return RenderResult(width, height, fps, n_frames)
