"""Rendered clips are real, prompt-derived, EMULATED-labelled MP4s written atomically."""

from __future__ import annotations

import base64
import io
import ipaddress
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from cogvideo_nb.emulator import EmulatorConfig, _frames, _media, _render, output_size, render_clip

from ._emu import running, submit, top_level_atoms, wait_done
from .conftest import FAST

SMALL = EmulatorConfig(render_fps=8, duration_scale=0.2)


def decode(path: Path) -> tuple[list[np.ndarray], float, str, str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, float(stream.average_rate or 0), stream.codec_context.name, stream.format.name


def png_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> bytes:
    img = Image.new("RGB", size, colour)
    img.paste((255, 255, 255), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("size", "aspect", "expected"),
    [
        ("1920x1080", None, (426, 240)),
        ("3840x2160", None, (426, 240)),
        ("720x480", None, (360, 240)),
        ("1080x1920", None, (240, 426)),
        ("1024x1024", None, (240, 240)),
        ("2048x1080", None, (456, 240)),
        (None, 4 / 3, (320, 240)),
        (None, None, (426, 240)),
    ],
)
def test_output_size_keeps_aspect_with_short_side_240(
    size: str | None, aspect: float | None, expected: tuple[int, int]
) -> None:
    assert output_size(size, aspect) == expected


def test_default_clip_matches_the_spec(tmp_path: Path) -> None:
    video, cover = tmp_path / "v.mp4", tmp_path / "c.png"
    result = render_clip("a lighthouse in a storm", out_video=video, out_cover=cover)
    assert (result.width, result.height, result.fps, result.frames) == (426, 240, 16, 80)
    frames, rate, codec, pix_fmt = decode(video)
    assert (codec, pix_fmt, rate, len(frames)) == ("h264", "yuv420p", 16.0, 80)
    assert frames[0].shape == (240, 426, 3)
    atoms = top_level_atoms(video.read_bytes())
    assert atoms.index("moov") < atoms.index("mdat")
    first = np.asarray(Image.open(cover).convert("RGB"), dtype=np.int16)
    assert first.shape == (240, 426, 3)
    # the cover is frame 0 (before lossy coding), the video's first frame is close to it
    assert np.abs(first - frames[0].astype(np.int16)).mean() < 6
    # motion: the scene changes over time
    assert np.abs(frames[0].astype(np.int16) - frames[40].astype(np.int16)).mean() > 5
    # the EMULATED label is a red box in the top-left corner
    r, g, b = first[8:14, 6:12].reshape(-1, 3).mean(axis=0)
    assert r > 150 and g < 80 and b < 90
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "v.mp4"]  # no temp left


def test_frame_count_rate_and_scaling_knobs(tmp_path: Path) -> None:
    cfg = EmulatorConfig(render_fps=None, duration_scale=0.1)
    out = render_clip("x", fps=30, duration=10, out_video=tmp_path / "v.mp4",
                      out_cover=tmp_path / "c.png", config=cfg)  # fmt: skip
    frames, rate, _, _ = decode(tmp_path / "v.mp4")
    assert (out.frames, len(frames), rate) == (30, 30, 30.0)


def test_content_is_derived_from_the_prompt(tmp_path: Path) -> None:
    def cover(prompt: str, name: str) -> bytes:
        render_clip(prompt, out_video=tmp_path / f"{name}.mp4", out_cover=tmp_path / f"{name}.png",
                    config=SMALL)  # fmt: skip
        return (tmp_path / f"{name}.png").read_bytes()

    assert cover("sunrise over a lake", "a") == cover("sunrise over a lake", "b")
    other = np.asarray(Image.open(io.BytesIO(cover("a neon city at night", "c"))), dtype=np.int16)
    same = np.asarray(Image.open(tmp_path / "a.png"), dtype=np.int16)
    assert np.abs(other - same).mean() > 10


def test_image_to_video_animates_the_image(tmp_path: Path) -> None:
    green = png_bytes((20, 160, 40))
    render_clip("a field", image=green, size=None, out_video=tmp_path / "i.mp4",
                out_cover=tmp_path / "i.png", config=SMALL)  # fmt: skip
    render_clip("a field", out_video=tmp_path / "t.mp4", out_cover=tmp_path / "t.png",
                config=SMALL)  # fmt: skip
    frames, _, _, _ = decode(tmp_path / "i.mp4")
    assert frames[0].shape == (240, 320, 3)  # size=None: the image's 4:3 aspect
    # the middle of the frame shows the image's green, not the text scene
    g = frames[0][100:140, 250:300].reshape(-1, 3).mean(axis=0)
    assert g[1] > 120 and g[0] < 80
    assert not np.array_equal(frames[0], frames[-1])  # pan/zoom moves it
    text_cover = np.asarray(Image.open(tmp_path / "t.png"), dtype=np.int16)
    image_cover = np.asarray(Image.open(tmp_path / "i.png").resize((426, 240)), dtype=np.int16)
    assert np.abs(text_cover - image_cover).mean() > 20


def test_image_to_video_over_the_api_from_a_data_url() -> None:
    data_url = "data:image/png;base64," + base64.b64encode(png_bytes((200, 30, 30))).decode()
    with running(FAST) as emu:
        with_image = wait_done(emu, submit(emu, prompt="a field", image_url=data_url).json()["id"])
        text_only = wait_done(emu, submit(emu, prompt="a field").json()["id"])
        a = httpx.get(with_image["video_result"][0]["cover_image_url"]).content
        b = httpx.get(text_only["video_result"][0]["cover_image_url"]).content
        img = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"), dtype=np.int16)
        assert img.shape == (240, 320, 3)  # no size given: the image's 4:3, as the API does
        assert img[100:140, 10:40].reshape(-1, 3).mean(axis=0)[0] > 150  # the red image
        assert a != b

        # a loopback http image (here: that cover) is fetched; the render uses it
        cover_url = with_image["video_result"][0]["cover_image_url"]
        looped = wait_done(emu, submit(emu, prompt="again", image_url=cover_url).json()["id"])
        c = httpx.get(looped["video_result"][0]["cover_image_url"]).content
        img_c = np.asarray(Image.open(io.BytesIO(c)).convert("RGB"), dtype=np.int16)
        assert img_c[100:140, 10:40].reshape(-1, 3).mean(axis=0)[0] > 150


@contextmanager
def http_server(
    answer: Callable[[str], tuple[int, dict[str, str], bytes]],
) -> Iterator[tuple[str, list[str]]]:
    """A tiny loopback HTTP server: ``answer(path)`` gives status, headers and body; yields its
    base URL and the paths it was asked for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            status, headers, body = answer(self.path)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection this process opens; any off loopback is recorded and refused, so a
    test can see an escape without reaching the network."""
    seen: list[tuple[str, int]] = []
    real = socket.create_connection

    def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        host, port = address[0], int(address[1])
        seen.append((host, port))
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise OSError(f"test: no connection off loopback ({host}:{port})")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", connect)
    return seen


def off_loopback(seen: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(h, p) for h, p in seen if h != "localhost" and not ipaddress.ip_address(h).is_loopback]


def test_remote_image_urls_are_never_fetched(connections: list[tuple[str, int]]) -> None:
    assert _render.fetch_image("https://example.com/cat.png") is None
    assert _render.fetch_image("http://10.0.0.1/cat.png") is None
    assert _render.fetch_image("http://127.0.0.1:9/cat.png") is None  # tried: nothing listens there
    assert connections == [("127.0.0.1", 9)]


def test_a_redirect_off_loopback_is_not_followed(connections: list[tuple[str, int]]) -> None:
    """The loopback-only guard holds for every hop: a loopback URL answering 302 to another host
    does not take the emulator off the machine (nor does a proxy from the environment)."""
    red = png_bytes((220, 20, 20))

    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        if path == "/away.png":
            return 302, {"Location": "http://10.0.0.1/cat.png"}, b""
        if path == "/home.png":  # a redirect that stays on loopback is still followed
            return 302, {"Location": "/red.png"}, b""
        if path.startswith("/loop"):  # an endless chain stops after a few hops
            return 302, {"Location": f"{path}x"}, b""
        return 200, {"Content-Type": "image/png"}, red

    with http_server(answer) as (base, asked), running(FAST) as emu:
        assert _render.fetch_image(f"{base}/away.png") is None
        assert asked == ["/away.png"] and off_loopback(connections) == []
        assert _render.fetch_image(f"{base}/home.png") == red
        assert _render.fetch_image(f"{base}/loop") is None
        assert len([p for p in asked if p.startswith("/loop")]) <= 4, asked
        # The same through the emulator: the task renders without the image, and stays home.
        done = wait_done(emu, submit(emu, prompt="a cat", image_url=f"{base}/away.png").json()["id"])
        assert done["task_status"] == "SUCCESS" and asked.count("/away.png") == 2
        assert off_loopback(connections) == []


def test_image_fetches_ignore_proxies_from_the_environment(
    connections: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://10.0.0.2:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    urllib.request.install_opener(None)  # urlopen's shared opener reads the environment anew
    red = png_bytes((220, 20, 20))
    with http_server(lambda path: (200, {"Content-Type": "image/png"}, red)) as (base, _):
        assert _render.fetch_image(f"{base}/red.png") == red
    assert off_loopback(connections) == []
    urllib.request.install_opener(None)  # and forgets this test's proxies


def test_a_failed_render_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, rgb: np.ndarray, progress: float) -> None:
        if progress > 0.5:
            raise RuntimeError("disk full")

    monkeypatch.setattr(_frames.Overlay, "apply", broken)
    with pytest.raises(RuntimeError):
        render_clip("x", out_video=tmp_path / "v.mp4", out_cover=tmp_path / "c.png", config=SMALL)
    assert list(tmp_path.iterdir()) == []


def test_render_cost_is_small(tmp_path: Path) -> None:
    render_clip("warm up", out_video=tmp_path / "w.mp4", out_cover=tmp_path / "w.png")
    start = time.process_time()
    render_clip("a default 5 s clip", out_video=tmp_path / "v.mp4", out_cover=tmp_path / "c.png")
    # the bench holds the real budget (0.5 CPU s); this only catches an order-of-magnitude slip
    assert time.process_time() - start < 2.0


SEED_PROMPT = "一只柴犬在草地上奔跑，阳光明媚，蓝天"
MISSING = "\U0010fffd"  # a private-use code point no font maps: drawn as the missing-glyph box


def glyph(font: Any, ch: str) -> np.ndarray:
    img = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(img).text((8, 4), ch, font=font, fill=255)
    return np.asarray(img)


def test_the_seed_chinese_prompt_is_drawn_with_real_glyphs(tmp_path: Path) -> None:
    source = _frames.font_source()
    assert source is not None
    # from the wheel the package depends on, so a fresh pip install draws CJK, whatever the OS has
    assert "noto_cjk_sans_otc" in source[0], source
    font = ImageFont.truetype(source[0], 40, index=source[1])
    assert font.getname()[0] == "Noto Sans CJK SC"
    box = glyph(font, MISSING)
    for ch in SEED_PROMPT:
        drawn = glyph(font, ch)
        assert drawn.any() and not np.array_equal(drawn, box), f"{ch!r} is the missing-glyph box"
    # the check can fail: a font without CJK draws these very characters as its box
    latin = ImageFont.load_default(size=40)
    assert all(np.array_equal(glyph(latin, ch), glyph(latin, MISSING)) for ch in "柴犬蓝天")

    # on a real emulated frame: the prompt's overlay is not the one a row of boxes makes
    frames = []
    for text in (SEED_PROMPT, MISSING * len(SEED_PROMPT)):
        rgb = np.zeros((240, 426, 3), dtype=np.uint8)
        _frames.Overlay(text, 426, 240, compact=False).apply(rgb, 0.0)
        frames.append(rgb)
    assert not np.array_equal(frames[0], frames[1])
    result = render_clip(SEED_PROMPT, size="1920x1080", fps=8, duration=0.25,
                         out_video=tmp_path / "v.mp4", out_cover=tmp_path / "c.png")  # fmt: skip
    assert result.frames >= 1 and (tmp_path / "c.png").stat().st_size > 0


@pytest.mark.parametrize(("size", "fps", "duration"), [("1920x1080", 30, 5), ("1280x720", 60, 2)])
def test_real_media_mode_has_the_real_size_frame_count_and_bitrate(
    tmp_path: Path, size: str, fps: int, duration: int
) -> None:
    from cogvideo_nb.emulator._media import bitrate_for

    video, cover = tmp_path / "v.mp4", tmp_path / "c.png"
    config = EmulatorConfig.from_env({"COGVIDEO_EMULATOR_MEDIA": "real"})
    result = render_clip("a lighthouse", size=size, fps=fps, duration=duration, out_video=video,
                         out_cover=cover, config=config)  # fmt: skip
    width, height = (int(v) for v in size.split("x"))
    assert (result.width, result.height, result.fps, result.frames) == (width, height, fps, duration * fps)
    with av.open(str(video)) as container:  # the container header says what a player will see
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.frames) == (width, height, duration * fps)
        assert stream.average_rate == fps and stream.codec_context.name == "h264"
        decoded = [f for f in container.decode(stream)]  # every frame decodes, filler and all
    assert len(decoded) == duration * fps and decoded[-1].width == width
    target = bitrate_for(width, height, fps) * duration / 8
    assert abs(video.stat().st_size - target) / target < 0.02, video.stat().st_size
    assert video.stat().st_size > 1_000_000  # real sizes: MB, not the small mode's KB
    with Image.open(cover) as img:
        assert img.size == (width, height)


def test_real_media_default_size_is_short_side_1080() -> None:
    assert _media.real_size(None) == (1920, 1080)
    assert _media.real_size(None, 9 / 16) == (1080, 1920)
    assert _media.real_size("3840x2160") == (3840, 2160)
    with pytest.raises(ValueError, match="media"):
        EmulatorConfig(media="huge")  # type: ignore[arg-type]


def test_real_media_runs_of_one_prompt_differ(tmp_path: Path) -> None:
    """As in small mode, the task id moves each run differently: `--n 3` in real mode is three clips."""
    config = EmulatorConfig(media="real")
    covers = []
    for run in ("task-a", "task-b"):
        video, cover = tmp_path / f"{run}.mp4", tmp_path / f"{run}.png"
        render_clip("a lighthouse", size="640x360", fps=8, duration=1, out_video=video, out_cover=cover,
                    config=config, variation=run)  # fmt: skip
        covers.append(cover.read_bytes())
    assert covers[0] != covers[1]


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("size", [(426, 240), (240, 426), (1920, 1080)])
def test_the_burned_in_prompt_stays_clear_of_the_player_controls(
    compact: bool, size: tuple[int, int]
) -> None:
    """The bottom fifth of a clip is under a player's controls: no prompt text there."""
    width, height = size
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    long_prompt = "a red fox trots through deep snow at the edge of a birch forest, " * 6
    overlay = _frames.Overlay(long_prompt, width, height, compact=compact)
    overlay.apply(rgb, 0.0)  # no progress drawn: only the label and the prompt
    inked = np.flatnonzero(rgb.any(axis=(1, 2)))
    assert inked.size and inked.max() < height * 4 // 5, (inked.max(), height)
