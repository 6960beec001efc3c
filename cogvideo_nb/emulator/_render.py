"""Render a small but real H.264 MP4 + PNG cover for an emulated task, and fetch a first-frame
image from loopback only.

Real files matter: players, thumbnails and downloads in the notebook must be exercised
end to end offline. The clip is derived from the prompt (colours from its hash, the text drawn
on it, see ``_frames``) so a grid of results is tellable apart, and it says EMULATED so nobody
mistakes it for a generation. ``media="real"`` hands the clip to ``_media`` instead.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
import urllib.request
from http.client import HTTPMessage
from pathlib import Path
from typing import IO

import av

from ._config import EmulatorConfig
from ._frames import Overlay, RenderResult, Scene, committed, even, image_frames, open_image, pictures
from ._media import render_real

__all__ = ["SHORT_SIDE", "RenderResult", "fetch_image", "output_size", "render_clip"]

SHORT_SIDE = 240
_MAX_FETCH_BYTES = 5 * 1024 * 1024


def output_size(size: str | None, image_aspect: float | None = None) -> tuple[int, int]:
    """Scale the requested aspect so the short side is 240 px; dims rounded to even for yuv420p.

    1920x1080 gives 426x240 (426.67 rounds to the nearest even number). Without a size the
    source image's aspect is used, like the API's "ratio of the source image" default.
    """
    if size:
        w_s, _, h_s = size.lower().partition("x")
        aspect = int(w_s) / int(h_s)
    else:
        aspect = image_aspect or 16 / 9
    if aspect >= 1:
        return even(SHORT_SIDE * aspect), SHORT_SIDE
    return SHORT_SIDE, even(SHORT_SIDE / aspect)


def render_clip(
    prompt: str,
    *,
    size: str | None = "1920x1080",
    fps: int = 30,
    duration: float = 5,
    image: bytes | None = None,
    out_video: Path,
    out_cover: Path,
    config: EmulatorConfig | None = None,
    variation: str = "",
) -> RenderResult:
    """Write ``out_video`` (MP4, faststart) and ``out_cover`` (PNG of frame 0) atomically.

    ``variation`` (the task id) moves the disc differently in each run of one prompt, as the
    API has no seed: colours come from the prompt, the motion from the run."""
    cfg = config or EmulatorConfig()
    src = open_image(image)
    if cfg.media == "real":
        return render_real(prompt, size, fps, duration, src, out_video, out_cover, variation)
    width, height = output_size(size, src.width / src.height if src else None)
    rate = cfg.render_fps or fps
    n_frames = max(1, round(duration * cfg.duration_scale * rate))
    overlay = Overlay(prompt, width, height, compact=src is not None)
    frames = image_frames(src, width, height, n_frames) if src else None
    scene = None if src else Scene(prompt, width, height, n_frames, variation)

    with committed(out_video, out_cover) as (tmp_video, tmp_cover):
        picture = pictures(frames, scene, overlay, n_frames, tmp_cover)
        with av.open(str(tmp_video), "w", format="mp4", options={"movflags": "+faststart"}) as c:
            stream = c.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"preset": "ultrafast", "crf": "30"}
            stream.codec_context.thread_count = 1
            for i in range(n_frames):
                frame = av.VideoFrame.from_ndarray(picture(i), format="rgb24")
                frame.pts = i
                c.mux(stream.encode(frame))
            c.mux(stream.encode(None))
    return RenderResult(width, height, rate, n_frames)


def fetch_image(url: str, timeout: float = 5.0) -> bytes | None:
    """Fetch a first-frame image only from loopback; the emulator must never reach the network.

    Every hop is held to that: a redirect is followed only to loopback (and only a few times),
    and no proxy from the environment is used (it would carry even a loopback URL off the machine).
    """
    if not _loopback_url(url):
        return None
    try:
        with _OPENER.open(url, timeout=timeout) as resp:
            data: bytes = resp.read(_MAX_FETCH_BYTES + 1)
    except (OSError, ValueError):  # ValueError: a malformed URL (e.g. a bad port) in a Location
        return None
    return data if len(data) <= _MAX_FETCH_BYTES else None


class _LoopbackRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only where ``fetch_image`` would have gone itself."""

    max_redirections = 3  # distinct URLs; and none visited twice (a loop)
    max_repeats = 1

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not _loopback_url(newurl):
            return None  # not followed: the 3xx itself is the answer, an error
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# ProxyHandler({}): no proxies, whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _LoopbackRedirects)


def _loopback_url(url: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and _is_loopback(host)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
