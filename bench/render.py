"""Render cost of the emulator's default clip (5 s, 16 fps, 426x240): budget 0.5 CPU s.

CPU time (``time.process_time``, all threads) is what matters: the emulator renders beside a
notebook kernel and must not steal it. Last line: ``render: cpu_s_per_clip=X``.

    python bench/render.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from cogvideo_nb.emulator import render_clip

PROMPTS = [
    "a golden retriever surfing a wave at sunset, cinematic",
    "一只熊猫在竹林里弹吉他",  # CJK prompt: exercises wrapping without spaces
    "timelapse of clouds over a mountain lake, 4k, soft light",
    "a paper boat drifting down a rainy street, macro lens",
    "neon city at night, flying cars, rain, reflections",
]


def main(n: int = 10) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        render_clip("warm-up", out_video=out / "w.mp4", out_cover=out / "w.png")  # fonts, codecs
        print(f"{'clip':>4}  {'frames':>6}  {'size':>7}  {'wall s':>7}  {'cpu s':>6}")
        cpu_total = 0.0
        for i in range(n):
            wall0, cpu0 = time.perf_counter(), time.process_time()
            res = render_clip(
                PROMPTS[i % len(PROMPTS)] + f" #{i}",
                out_video=out / f"{i}.mp4",
                out_cover=out / f"{i}.png",
            )
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            cpu_total += cpu
            size = f"{res.width}x{res.height}"
            print(f"{i:>4}  {res.frames:>6}  {size:>7}  {wall:>7.3f}  {cpu:>6.3f}")
    per_clip = cpu_total / n
    print(f"render: cpu_s_per_clip={per_clip:.3f}")
    return per_clip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
