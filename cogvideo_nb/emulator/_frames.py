"""What an emulated clip looks like: the scene drawn from the prompt (or the Ken Burns pan over a
first-frame image), the overlay (prompt text, EMULATED, progress), and the atomic commit of a
clip with its cover.

Both encoders use these: the small clips of ``_render`` and the real-size ones of ``_media``.
They live here, public within the emulator, so neither encoder imports the other's private
helpers. Everything costly (text, gradients, image scaling) is done once; per-frame work is
numpy slicing plus one uint16 blend, which keeps a 5 s small clip well under half a CPU second.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont, ImageOps

__all__ = [
    "U8", "Overlay", "RenderResult", "Scene", "committed", "even", "font_source", "image_frames",
    "open_image", "pictures",
]  # fmt: skip

log = logging.getLogger("cogvideo_nb.emulator")

# Tried in order after the noto-cjk-sans-otc wheel (a dependency, so normally found first):
# Debian's fonts-noto-cjk / fonts-wqy-zenhei, then Latin-only fonts as a last resort.
_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
)

U8 = npt.NDArray[np.uint8]
U16 = npt.NDArray[np.uint16]
FontT = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class RenderResult:
    width: int
    height: int
    fps: int
    frames: int


@contextlib.contextmanager
def committed(out_video: Path, out_cover: Path) -> Iterator[tuple[Path, Path]]:
    """Temp paths for a clip and its cover, renamed over both targets only if the body ran
    through: a reader never sees half a file (both encoders use this)."""
    tmp_video, tmp_cover = _tmp_path(out_video), _tmp_path(out_cover)
    try:
        yield tmp_video, tmp_cover
        out_video.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_cover, out_cover)
        os.replace(tmp_video, out_video)
    finally:
        for tmp in (tmp_video, tmp_cover):
            tmp.unlink(missing_ok=True)


def pictures(
    frames: Iterator[U8] | None, scene: Scene | None, overlay: Overlay, n_frames: int, cover: Path
) -> Callable[[int], U8]:
    """Picture ``i``: the next image frame or the scene's, with the overlay drawn on; the first
    one is also saved as the cover."""

    def picture(i: int) -> U8:
        rgb = next(frames) if frames is not None else scene.frame(i)  # type: ignore[union-attr]
        overlay.apply(rgb, (i + 1) / n_frames)
        if i == 0:
            Image.fromarray(rgb).save(cover, format="PNG", compress_level=1)
        return rgb

    return picture


def even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def _tmp_path(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def open_image(data: bytes | None) -> Image.Image | None:
    if not data:
        return None
    try:
        raw = Image.open(io.BytesIO(data))
        raw.load()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None  # an unreadable image renders as text, like a text-only request
    img = ImageOps.exif_transpose(raw).convert("RGB")
    img.thumbnail((1280, 1280))  # bounds per-clip cost whatever the upload's resolution
    return img


def _palette(prompt: str) -> tuple[U8, U8, U8]:
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()

    def hsv(h: float, s: float, v: float) -> U8:
        px = Image.new("HSV", (1, 1), (int(h * 255) % 256, int(s * 255), int(v * 255)))
        rgb: U8 = np.asarray(px.convert("RGB"), dtype=np.uint8)[0, 0]
        return rgb

    hue = digest[0] / 255
    return (
        hsv(hue, 0.75, 0.55),
        hsv(hue + 0.33 + digest[1] / 2550, 0.8, 0.85),
        hsv(hue + 0.5 + digest[2] / 2550, 0.6, 1.0),
    )


class Scene:
    """Text-to-video content: a scrolling two-colour gradient and a bouncing soft disc."""

    def __init__(self, prompt: str, width: int, height: int, n_frames: int, variation: str = "") -> None:
        c1, c2, accent = _palette(prompt)
        self.w, self.h, self.n = width, height, n_frames
        x = np.arange(2 * width, dtype=np.float32)
        y = np.arange(height, dtype=np.float32)[:, None]
        # cos with period `width` tiles, so a moving window over 2*width columns loops seamlessly
        t = 0.5 + 0.35 * np.cos(2 * np.pi * x / width) + 0.15 * (y / height - 0.5)
        t = np.clip(t, 0, 1)[..., None]
        self.bg: U8 = (c1 * (1 - t) + c2 * t).astype(np.uint8)
        r = max(4, min(width, height) // 7)
        yy, xx = np.mgrid[-r:r, -r:r].astype(np.float32)
        dist = np.sqrt(xx**2 + yy**2)
        alpha = np.clip((r - dist) / 2.0, 0, 1)[..., None]
        self.disc_a: U16 = (alpha * 255).astype(np.uint16)
        self.disc_fg: U16 = (alpha * accent).astype(np.uint16)
        self.r = r
        seed = int.from_bytes(hashlib.sha256((prompt + variation).encode("utf-8")).digest()[3:5], "big")
        self.phase = seed / 65535 * 2 * np.pi
        # A run's own start on the background too: on small renders two phases can round to the
        # same disc positions, so a second, independent offset keeps runs of one prompt distinct.
        digest = hashlib.sha256(variation.encode("utf-8")).digest() if variation else b"\0" * 8
        self.offset = int.from_bytes(digest[:4], "big") % width

    def frame(self, i: int) -> U8:
        shift = (int(i * self.w / max(self.n, 1)) + self.offset) % self.w
        out: U8 = self.bg[:, shift : shift + self.w].copy()
        t = i / max(self.n, 1) * 2 * np.pi
        cx = int((self.w - 2 * self.r) * (0.5 + 0.45 * np.sin(t + self.phase))) + self.r
        cy = int((self.h - 2 * self.r) * (0.5 + 0.4 * np.sin(2 * t + self.phase))) + self.r
        region = out[cy - self.r : cy + self.r, cx - self.r : cx + self.r]
        blended = (region * (255 - self.disc_a) + self.disc_fg * 255) // 255
        region[:] = blended.astype(np.uint8)
        return out


def image_frames(src: Image.Image, width: int, height: int, n: int) -> Iterator[U8]:
    """Image-to-video content: a slow zoom with a small pan (Ken Burns) over the first frame."""
    zoom_max = 1.15
    base = ImageOps.fit(src, (round(width * zoom_max), round(height * zoom_max)))
    bw, bh = base.size
    for i in range(n):
        p = i / max(n - 1, 1)
        zoom = 1 + (zoom_max - 1) * p
        cw, ch = bw / zoom, bh / zoom
        x0 = (bw - cw) * (0.5 + 0.4 * (p - 0.5))
        y0 = (bh - ch) * 0.5
        box = (x0, y0, x0 + cw, y0 + ch)
        img = base.resize((width, height), Image.Resampling.BILINEAR, box=box, reducing_gap=None)
        yield np.array(img, dtype=np.uint8)


def _font_candidates() -> list[str]:
    paths = []
    spec = importlib.util.find_spec("noto_cjk_sans_otc")  # found at run time; no hard import
    if spec is not None and spec.origin:
        paths.append(str(Path(spec.origin).with_name("NotoSansCJK-Regular.ttc")))
    return [*paths, *_FONT_PATHS]


@lru_cache(maxsize=1)
def font_source() -> tuple[str, int] | None:
    """``(path, face index)`` of the font prompts are drawn with, or None for Pillow's default.

    In a Noto CJK collection the Simplified Chinese face is chosen (the platform is Chinese);
    without any CJK font, Chinese prompts would come out as boxes, so that is logged once.
    """
    for path in _font_candidates():
        if not Path(path).is_file():
            continue
        faces: list[ImageFont.FreeTypeFont] = []
        for index in range(8):  # a .ttc holds several faces; a .ttf one
            try:
                faces.append(ImageFont.truetype(path, 12, index=index))
            except OSError:
                break
        for i, face in enumerate(faces):
            if (face.getname()[0] or "").endswith(" SC"):
                return path, i
        if not faces:
            continue
        if not Path(path).name.lower().startswith(("dejavu", "liberation", "arial")):
            return path, 0
        log.warning(
            "no CJK font found: Chinese prompts are drawn as boxes on emulated frames; "
            "pip install noto-cjk-sans-otc (or apt-get install fonts-noto-cjk) to fix"
        )
        return path, 0
    log.warning("no font file found: emulated frames use Pillow's default font (no CJK glyphs)")
    return None


@lru_cache(maxsize=8)
def _font(px: int) -> FontT:
    source = font_source()
    if source is None:
        return ImageFont.load_default(size=px)
    return ImageFont.truetype(source[0], px, index=source[1])


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: FontT, width: int) -> list[str]:
    """Greedy word wrap that also breaks inside long words (CJK prompts have no spaces)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for ch in word:
            if draw.textlength(line + ch, font=font) > width and line:
                lines.append(line)
                line = ""
            line += ch
    if line:
        lines.append(line)
    return lines


# Burned into the video, which outlives any page and its language: said in both.
LABEL = "EMULATED 模拟"
NO_PROMPT = "(image only · 仅图片)"


class Overlay:
    """Prompt text, EMULATED label and a progress bar, drawn once and blended per frame."""

    def __init__(self, prompt: str, width: int, height: int, *, compact: bool) -> None:
        self.w, self.h = width, height
        img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        draw = ImageDraw.Draw(img)
        short = min(width, height)  # portrait clips get the same type size as landscape
        label_font = _font(max(10, short // 16))
        pad = max(3, short // 60)
        # placed by its ink box, so fonts with tall ascenders (CJK) sit in the corner like others
        lb = draw.textbbox((0, 0), LABEL, font=label_font)
        draw.rectangle((pad, pad, pad * 5 + lb[2] - lb[0], pad * 5 + lb[3] - lb[1]), fill=(200, 20, 40, 230))
        draw.text((pad * 3 - lb[0], pad * 3 - lb[1]), LABEL, font=label_font, fill=(255, 255, 255, 255))

        px = max(9, short // (22 if compact else 16))
        font = _font(px)
        max_lines = 2 if compact else max(2, (height * 2 // 5) // (px + 2))
        lines = _wrap(draw, prompt or NO_PROMPT, font, width - 8 * pad)
        if len(lines) > max_lines:
            lines = [*lines[: max_lines - 1], lines[max_lines - 1][:-1] + "…"]
        text = "\n".join(lines)
        box = draw.multiline_textbbox((0, 0), text, font=font, spacing=2)
        tw, th = box[2] - box[0], box[3] - box[1]
        x = (width - tw) // 2
        # Clear of the bottom fifth, where a player's controls sit (most of a small grid cell):
        # over an image, at the top under the label; else a little above the middle.
        top = pad * 5 + lb[3] - lb[1] + 3 * pad
        y = top if compact else max(top, (height - th) // 2 - height // 20)
        draw.rectangle((x - 2 * pad, y - 2 * pad, x + tw + 2 * pad, y + th + 2 * pad), fill=(0, 0, 0, 140))
        draw.multiline_text(
            (x - box[0], y - box[1]), text, font=font, fill=(255, 255, 255, 255),
            spacing=2, align="center",
        )  # fmt: skip

        rgba = np.asarray(img, dtype=np.uint16)
        # alpha on a 0..256 scale so the per-frame blend is a shift, not a division
        a256 = (rgba[..., 3:4] * 256 + 127) // 255
        self.blocks: list[tuple[slice, slice, U16, U16]] = []
        for rows, cols in _blocks(a256[..., 0] > 0):
            self.blocks.append(
                (rows, cols, (256 - a256[rows, cols]).astype(np.uint16),
                 (rgba[rows, cols, :3] * a256[rows, cols]).astype(np.uint16))
            )  # fmt: skip
        self.bar_h = max(2, height // 80)

    def apply(self, rgb: U8, progress: float) -> None:
        for rows, cols, inv_a, fg in self.blocks:
            region = rgb[rows, cols]
            region[:] = ((region * inv_a + fg) >> 8).astype(np.uint8)
        filled = round(self.w * progress)
        rgb[self.h - self.bar_h :, :filled] = 255


def _blocks(mask: npt.NDArray[np.bool_]) -> list[tuple[slice, slice]]:
    """Bounding boxes of the row bands that hold overlay pixels (label, text), not one big box."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) > 1)
    starts = [rows[0], *rows[breaks + 1]]
    ends = [*rows[breaks], rows[-1]]
    out = []
    for y0, y1 in zip(starts, ends, strict=True):
        cols = np.flatnonzero(mask[y0 : y1 + 1].any(axis=0))
        out.append((slice(int(y0), int(y1) + 1), slice(int(cols[0]), int(cols[-1]) + 1)))
    return out
