"""Static HTML for jobs: what a saved notebook shows where no widget state or kernel is around.

Pure string work (no IPython), so it is tested directly. Every prompt and server string goes
through ``html.escape``; paths become relative URLs that JupyterLab resolves to its file server.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ._diff import diff_parts
from ._i18n import t
from ._jobs import Job, JobStatus
from ._pipeline import rewrite_steps

__all__ = [
    "BADGE",
    "CARD_STYLE",
    "GRID_COLUMNS",
    "LINKED_ROOT",
    "OUTSIDE_ROOT",
    "Poster",
    "diff_parts",
    "emulated_badge",
    "grid_bar",
    "grid_frame",
    "grid_html",
    "job_html",
    "jpeg_thumbnail",
    "make_poster",
    "origin_bits",
    "params_text",
    "poster_data_url",
    "rel_url",
    "server_root",
    "status_word",
    "under_root",
    "unserved",
    "warm_posters",
]

# The theme's own colours where the page has them (JupyterLab, Notebook 7: light or dark), the
# light ones elsewhere (nbconvert, a browser opening the saved HTML).
FG, MUTED = "var(--jp-ui-font-color1,#1f2328)", "var(--jp-ui-font-color1,#57606a)"
LINK = "var(--jp-content-link-color,#0969da)"
CARD_STYLE = (
    "font-family:system-ui,sans-serif;border:1px solid var(--jp-border-color1,#d0d7de);border-radius:8px;"
    f"padding:10px;max-width:520px;background:var(--jp-layout-color0,#fff);color:{FG}"
)
BADGE = {
    JobStatus.QUEUED: "#6e7781", JobStatus.SUBMITTING: "#0969da", JobStatus.RUNNING: "#0969da",
    JobStatus.DOWNLOADING: "#8250df", JobStatus.SUCCEEDED: "#1a7f37", JobStatus.FAILED: "#cf222e",
    JobStatus.DETACHED: "#9a6700", JobStatus.UNKNOWN: "#9a6700",
}  # fmt: skip


def rel_url(path: Path | None) -> str | None:
    """A URL for a local file, relative to the kernel's folder (the notebook's, in Jupyter).

    Each part is URL-quoted (a folder named ``a#b`` or ``50%`` must not end the path), then
    HTML-escaped by the caller's attribute quoting.
    """
    if path is None:
        return None
    try:
        rel = os.path.relpath(path, Path.cwd())
    except ValueError:  # another drive on Windows
        rel = str(path)
    return "/".join(quote(part, safe="") if part != ".." else part for part in Path(rel).parts)


@functools.cache
def server_root() -> Path | None:
    """The root of the Jupyter server that started this kernel, from the file every server
    writes for its clients (``jpserver-<pid>.json`` in the runtime folder; the kernel's parent
    is the server). None outside Jupyter, or for a kernel started some other way. Read once: the
    parent is this process's for life, and every card and history row asks."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        info = Path(jupyter_runtime_dir()) / f"jpserver-{os.getppid()}.json"
        return Path(json.loads(info.read_text("utf-8"))["root_dir"])
    except (ImportError, OSError, ValueError, KeyError, TypeError):
        return None


# jupyter_server compares the file's resolved path with the unresolved root and answers 500 for
# every file under a symlinked root (jupyter_core's is_hidden raises), so none of them can play.
LINKED_ROOT = (
    "the Jupyter server's folder is a symlink, and jupyter_server cannot serve files under one "
    "(it answers 500), so a reopened notebook cannot play it: start the server from the real "
    "folder, or with --ContentsManager.allow_hidden=True"
)
OUTSIDE_ROOT = (
    "saved outside the Jupyter server's folder, so a reopened notebook cannot play it here: open "
    "the file itself, or save inside the folder (--out)"
)


def under_root(path: Path) -> str | None:
    """``path`` relative to the Jupyter server's root, "/"-joined, comparing real paths (a
    symlinked root, a kernel whose folder resolved through a link); None when the server cannot
    serve it or there is no server to ask."""
    root = server_root()
    if root is None:
        return None
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (OSError, ValueError):
        return None


def unserved(path: Path) -> str | None:
    """Why the Jupyter server cannot serve ``path``, or None: a reopened notebook then cannot play
    it, and its card must say so rather than show a player that fails without a word."""
    root = server_root()
    if root is None:
        return None
    if under_root(path) is None:  # a video saved with --out elsewhere (server_root: cached)
        return OUTSIDE_ROOT
    if root.is_symlink():
        return LINKED_ROOT
    return None


@dataclass(frozen=True)
class Poster:
    """A small inline JPEG of a cover, and the cover's own size in pixels."""

    url: str
    width: int
    height: int


# A cover is a frame of the video: anything bigger than 8K is not one (a decompression bomb).
MAX_POSTER_PIXELS = 7680 * 4320


def make_poster(cover: Path | None, width: int = 480) -> Poster | None:
    """The cover as an inline JPEG (HTML outputs do not resolve ``poster`` paths), or None when
    it is missing or cannot be decoded (junk, SVG, a decompression bomb): the card then has no
    poster, never a broken output. Cached per file version, so it is made once per job."""
    if cover is None:
        return None
    try:
        st = cover.stat()
    except OSError:
        return None
    return _poster(str(cover), st.st_mtime_ns, st.st_size, width)


def warm_posters() -> None:
    """Import Pillow and its cover decoders now. Call it where a user's cell is running anyway
    (``%load_ext``): imported by the first poster instead, on the UI thread while results land,
    it holds the GIL for ~100 ms and stalls the kernel's loop (bench/media.py)."""
    from PIL import Image

    Image.preinit()


@functools.lru_cache(maxsize=256)
def _poster(path: str, _mtime: int, _size: int, width: int) -> Poster | None:
    made = jpeg_thumbnail(Path(path), width)
    if made is None:
        return None
    data, w, h = made
    return Poster("data:image/jpeg;base64," + base64.b64encode(data).decode("ascii"), w, h)


def jpeg_thumbnail(path: Path, width: int, quality: int = 80) -> tuple[bytes, int, int] | None:
    """``path`` (a cover) as JPEG bytes at most ``width`` wide, and its own size; None when it
    cannot be decoded or is too big to be a frame (a decompression bomb). Not cached."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_POSTER_PIXELS:
                    return None
                w, h = img.size
                # A JPEG decodes at reduced scale (draft), then a box reduce before the resample
                # (reducing_gap): a 1080p cover costs about a third of a full-size resample.
                img.draft("RGB", (width, max(1, h * width // max(w, 1))))
                img = img.convert("RGB")
                img.thumbnail((width, img.height), reducing_gap=2.0)
                buf = io.BytesIO()
                img.save(buf, format="JPEG", quality=quality)
    except Exception:  # any undecodable cover: no poster, the video still shows
        return None
    return buf.getvalue(), w, h


def poster_data_url(cover: Path | None, width: int = 480) -> str | None:
    """The inline poster's data URL alone (see :func:`poster`)."""
    p = make_poster(cover, width)
    return p.url if p else None


def status_word(status: JobStatus) -> str:
    """What a person reads for a status, in the language in force ("detached" is the code's word
    for "stopped waiting")."""
    return status.word


def emulated_badge() -> str:
    """The red *EMULATED* label of a result the bundled emulator made."""
    return (
        '<span style="background:#cf222e;color:#fff;border-radius:4px;padding:1px 6px;'
        f'font-size:11px;margin-left:6px">{html.escape(t("EMULATED"))}</span>'
    )


def params_text(job: Job) -> str:
    """The parameters the user set, as plain text (``model=cogvideox-flash · fps=60``)."""
    return " · ".join(f"{k}={v}" for k, v in job.request.params().items() if v is not None)


def _prompt_html(job: Job, parts: Sequence[tuple[str, bool]] | None) -> str:
    e = html.escape
    if not parts:
        return e(job.prompt)
    return "".join(
        f'<mark style="background:#fff8c5;color:#1f2328;border-radius:3px">{e(text)}</mark>'
        if differs
        else e(text)
        for text, differs in parts
    )


def origin_bits(job: Job, *, short: bool = False, rating: bool = False) -> list[str]:
    """Where the prompt and the first frame came from (and, asked, the rating), escaped: a card
    shows them in full with a link to the card it continues, a history row (``short``) clipped."""
    e, cut = html.escape, 60 if short else None
    bits = []
    if job.original_prompt:
        enhanced, into = rewrite_steps(job.rewrite)
        if into is None:
            said = t("enhanced from: {prompt}", prompt=job.original_prompt[:cut])
        elif enhanced:
            said = t("enhanced and translated from: {prompt}", prompt=job.original_prompt[:cut])
        else:
            said = t("translated from: {prompt}", prompt=job.original_prompt[:cut])
        bits.append(e(said))
    if job.continues:
        tail = e(job.continues[-8:])
        bits.append(
            f"{e(t('continues'))} {tail}"
            if short
            else f'{e(t("continues"))} <a href="#cvnb-card-{e(job.continues)}">{tail}</a>'
        )
    if rating and job.rating:
        bits.append("★" * job.rating + (f" {e(job.rating_note[:60])}" if job.rating_note else ""))
    return bits


def _origin_html(job: Job) -> str:
    """Under a card's prompt, so a saved notebook keeps where it came from."""
    bits = origin_bits(job, rating=True)
    return f'<div style="font-size:12px;color:{MUTED}">{" · ".join(bits)}</div>' if bits else ""


def job_html(
    job: Job,
    *,
    poster: bool = True,
    parts: Sequence[tuple[str, bool]] | None = None,
    group: str = "",
    copy: bool = False,
) -> str:
    """The card as static HTML: a player with poster when done, else a status snapshot.

    What a renderer with no kernel and no widget state shows (JupyterLab, Notebook 7,
    nbconvert). The video is linked relative to the notebook's folder; the poster is inline and
    the full path is written out, so a notebook moved away from its outputs still shows the
    poster and says where the video is. ``copy`` marks a second showing (history, ``show``,
    ``wait``): the live page moves a card only into its own output, never into a copy.
    """
    e = html.escape
    label = f"<b>{e(job.label)}</b> · " if job.label else ""
    emulated = emulated_badge() if job.emulated else ""
    color = BADGE[job.status]
    params = " · ".join(
        f'<span style="white-space:nowrap">{e(p)}</span>' for p in params_text(job).split(" · ")
    )
    head = (
        f'<div style="font-size:12px;color:{MUTED}"><code title="{e(t("the id every lookup takes"))}">'
        f"{e(job.short_id)}</code> · {label}{params}"
        f'<span style="background:{color};color:#fff;border-radius:10px;padding:1px 8px;margin-left:6px">'
        f"{e(status_word(job.status))}</span>{emulated}</div>"
        f'<div style="margin:6px 0;white-space:pre-wrap" title="{e(job.prompt)}">'
        f"{_prompt_html(job, parts)}</div>{_origin_html(job)}"
    )
    body = ""
    if job.status is JobStatus.SUCCEEDED and job.video_path is not None:
        src = e(rel_url(job.video_path) or "")
        cover = make_poster(job.cover_path) if poster else None
        poster_attr = f' poster="{cover.url}"' if cover else ""
        # At most twice the clip's own width: a 426 px clip is not blown up to fill a wide page.
        limit = f"max-width:{2 * cover.width}px;" if cover else ""
        took = (
            f" · {t('server took {seconds} s', seconds=f'{job.run_seconds:.0f}')}" if job.run_seconds else ""
        )
        body = (
            f'<video class="cvnb-static-video" src="{src}" controls muted playsinline preload="metadata"'
            f'{poster_attr} data-cvnb-name="{e(job.video_path.name)}" data-cvnb-group="{e(group)}" '
            f'style="width:100%;{limit}border-radius:6px;background:#000;display:block"></video>'
            f'<div style="font-size:12px;color:{MUTED};overflow-wrap:anywhere">'
            f'<a href="{src}" target="_blank" style="color:{LINK}">{e(job.video_path.name)}</a>'
            f" · {e(t('task {task}', task=job.task_id or ''))}{e(took)}"
            f" · sha256 {e((job.video_sha256 or '')[:12])}"
            f"<br>{e(t('saved at'))} <code>{e(os.path.abspath(job.video_path))}</code></div>"
        )
        if why := unserved(job.video_path):
            body += f'<div style="color:{MUTED};font-size:12px">{e(t(why))}</div>'
        if job.note:  # e.g. the cover could not be fetched
            body += f'<div style="color:{MUTED};font-size:12px">{e(t(job.note))}</div>'

    elif job.status is JobStatus.FAILED:
        body = f'<div style="color:var(--jp-error-color1,#cf222e)">{e(job.error or t("failed"))}</div>'
    elif job.note:
        body = f'<div style="color:{MUTED};font-size:12px">{e(t(job.note))}</div>'
    if job.status is JobStatus.DETACHED and job.task_id:
        body += (
            f'<div style="font-size:12px;color:{MUTED}">'
            + t(
                "task {task} kept: {command} picks it up",
                task=e(job.task_id),
                command=f"<code>%cogvideo resume {e(job.short_id)}</code>",
            )
            + "</div>"
        )
    return (
        f'<div class="cvnb-static" data-cvnb-{"copy" if copy else "job"}="{e(job.id)}" '
        f'data-cvnb-status="{e(job.status.value)}" '
        f'style="{CARD_STYLE}">{head}{body}</div>'
    )


def grid_html(jobs: Sequence[Job], *, title: str = "", group: str = "") -> str:
    """A comparison grid as static HTML: at least two columns, what differs highlighted."""
    parts = diff_parts([j.prompt for j in jobs])
    cells = "".join(job_html(j, parts=p, group=group) for j, p in zip(jobs, parts, strict=True))
    return grid_frame(cells, group=group, title=title)


def grid_frame(
    cells: str, *, group: str, title: str = "", kind: str = "", bar: bool = True, note: str = ""
) -> str:
    """What every static grid is inside (sighted, blind, revealed): its title, the saved bar,
    a note (HTML, escaped by its maker), then the cells in columns. ``kind``: an extra class."""
    head = (
        '<div class="cvnb-static-title" style="font:600 13px system-ui,sans-serif;margin:4px 0">'
        f"{html.escape(title)}</div>"
        if title
        else ""
    )
    classes = f"cvnb-static-grid {kind}".strip()
    return (
        f'<div class="{classes}" data-cvnb-group="{html.escape(group)}">{head}{grid_bar() if bar else ""}'
        f'{note}<div style="display:grid;grid-template-columns:{GRID_COLUMNS};gap:8px">{cells}</div></div>'
    )


# A saved grid's Play all / Pause all / Restart all: hidden, and shown by its script, which runs
# only where the page trusts the output (a notebook you saved, nbconvert's HTML); elsewhere the
# script is dropped and no dead control is left. A constant: nothing of a job's goes in it.
def grid_bar() -> str:
    return (
        '<div class="cvnb-static-controls" style="display:none;gap:6px;margin:4px 0;'
        'font:12px system-ui,sans-serif">'
        f'<button data-cvnb-act="play">{html.escape(t("Play all"))}</button>'
        f'<button data-cvnb-act="pause">{html.escape(t("Pause all"))}</button>'
        f'<button data-cvnb-act="restart">{html.escape(t("Restart all"))}</button></div>'
        "<script>(function (s) {"
        " var g = s && s.closest('.cvnb-static-grid');"
        " var bar = g && g.querySelector('.cvnb-static-controls');"
        " if (!bar) return; bar.style.display = 'flex';"
        " bar.addEventListener('click', function (e) { var act = e.target.getAttribute('data-cvnb-act');"
        "  if (!act) return; g.querySelectorAll('video').forEach(function (v) {"
        "   if (act === 'pause') { v.pause(); return; } if (act === 'restart') v.currentTime = 0;"
        "   v.muted = true; var p = v.play(); if (p) p.catch(function () {}); }); });"
        "})(document.currentScript)</script>"
    )


# Columns of at least ~240 px, yet never fewer than two: at 700 px a grid is still a grid.
GRID_COLUMNS = "repeat(auto-fill,minmax(min(240px,calc(50% - 4px)),1fr))"
