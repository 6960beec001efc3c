"""Static HTML for jobs: what a saved notebook shows where no widget state or kernel is around.

Pure string work (no IPython), so it is tested directly. Every prompt and server string goes
through ``html.escape``; paths become relative URLs that JupyterLab resolves to its file server.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path

from ._jobs import Job, JobStatus

__all__ = ["diff_parts", "job_html", "params_text", "poster_data_url", "rel_url"]

_STYLE = (
    "font-family:system-ui,sans-serif;border:1px solid #d0d7de;border-radius:8px;padding:10px;"
    "max-width:520px;background:#fff;color:#1f2328"
)
_BADGE = {
    JobStatus.QUEUED: "#6e7781", JobStatus.SUBMITTING: "#0969da", JobStatus.RUNNING: "#0969da",
    JobStatus.DOWNLOADING: "#8250df", JobStatus.SUCCEEDED: "#1a7f37", JobStatus.FAILED: "#cf222e",
    JobStatus.DETACHED: "#9a6700", JobStatus.UNKNOWN: "#9a6700",
}  # fmt: skip


def rel_url(path: Path | None) -> str | None:
    """A URL for a local file, relative to the kernel's folder (the notebook's, in Jupyter)."""
    if path is None:
        return None
    try:
        rel = os.path.relpath(path, Path.cwd())
    except ValueError:  # another drive on Windows
        rel = str(path)
    return "/".join(html.escape(part, quote=True) for part in Path(rel).parts)


def poster_data_url(cover: Path | None, width: int = 480) -> str | None:
    """A small JPEG of the cover, inline: HTML outputs do not resolve ``poster`` paths."""
    if cover is None or not cover.is_file():
        return None
    from PIL import Image

    with Image.open(cover) as img:
        img = img.convert("RGB")
        if img.width > width:
            img = img.resize((width, max(1, round(img.height * width / img.width))))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def params_text(job: Job) -> str:
    """The parameters the user set, as plain text (``model=cogvideox-flash · fps=60``)."""
    return " · ".join(f"{k}={v}" for k, v in job.request.params().items() if v is not None)


def job_html(job: Job, *, poster: bool = True) -> str:
    """The card as static HTML: a player with poster when done, else a status snapshot."""
    e = html.escape
    label = f"<b>{e(job.label)}</b> · " if job.label else ""
    emulated = (
        '<span style="background:#cf222e;color:#fff;border-radius:4px;padding:1px 6px;'
        'font-size:11px;margin-left:6px">EMULATED</span>'
        if job.emulated
        else ""
    )
    color = _BADGE[job.status]
    head = (
        f'<div style="font-size:12px;color:#57606a">{label}{html.escape(params_text(job))}'
        f'<span style="background:{color};color:#fff;border-radius:10px;padding:1px 8px;margin-left:6px">'
        f"{e(job.status.value)}</span>{emulated}</div>"
        f'<div style="margin:6px 0;white-space:pre-wrap">{e(job.prompt)}</div>'
    )
    body = ""
    if job.status is JobStatus.SUCCEEDED and job.video_path is not None:
        src = rel_url(job.video_path)
        data = poster_data_url(job.cover_path) if poster else None
        poster_attr = f' poster="{data}"' if data else ""
        took = f" · server took {job.run_seconds:.0f} s" if job.run_seconds else ""
        body = (
            f'<video src="{src}" controls muted playsinline preload="metadata"{poster_attr} '
            f'style="width:100%;border-radius:6px;background:#000"></video>'
            f'<div style="font-size:12px;color:#57606a">'
            f'<a href="{src}" target="_blank">{e(job.video_path.name)}</a>'
            f" · task {e(job.task_id or '')}{e(took)} · sha256 {e((job.video_sha256 or '')[:12])}</div>"
        )
    elif job.status is JobStatus.FAILED:
        body = f'<div style="color:#cf222e">{e(job.error or "failed")}</div>'
    elif job.note:
        body = f'<div style="color:#57606a;font-size:12px">{e(job.note)}</div>'
    if job.status is JobStatus.DETACHED and job.task_id:
        body += (
            f'<div style="font-size:12px;color:#57606a">task {e(job.task_id)} kept: '
            f"<code>%cogvideo resume{' --all' if job.stopped else ''}</code> picks it up</div>"
        )
    return f'<div class="cvnb-static" style="{_STYLE}">{head}{body}</div>'


_WORD = re.compile(r"\s+|[^\s]+")


def diff_parts(prompts: Sequence[str]) -> list[list[tuple[str, bool]]]:
    """Each prompt split into (text, differs) runs: words not shared by every prompt differ.

    A teaching aid for grids: the highlighted words are what changed between the cells.
    """
    tokens = [_WORD.findall(p) for p in prompts]
    words = [{t.lower().strip(",.;:!?") for t in ts if not t.isspace()} for ts in tokens]
    common = set.intersection(*words) if len(words) > 1 else set(words[0] if words else ())
    out: list[list[tuple[str, bool]]] = []
    for ts in tokens:
        parts: list[tuple[str, bool]] = []
        for t in ts:
            differs = not t.isspace() and len(prompts) > 1 and t.lower().strip(",.;:!?") not in common
            if parts and parts[-1][1] == differs:
                parts[-1] = (parts[-1][0] + t, differs)
            else:
                parts.append((t, differs))
        out.append(parts)
    return out
