"""A blind comparison: a grid's cells shuffled and labelled A, B, C..., with nothing that tells
which prompt each was, until *Reveal* shows it with the usual highlighting.

What a saved notebook shows of a blind grid is what this module writes, so it holds letters,
statuses, posters and videos only: no prompt, parameters, label, error text, job id, task id or
file name (a video's own name starts with its prompt: each is linked under a neutral name,
``blind/<session>-A.mp4``, a hard link beside the outputs). Pure string and file work, tested
directly; which letter is which job stays in the kernel (:class:`Blind`).
"""

from __future__ import annotations

import html
import os
import random
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._diff import diff_parts
from ._html import (
    BADGE,
    CARD_STYLE,
    MUTED,
    emulated_badge,
    grid_frame,
    job_html,
    make_poster,
    rel_url,
    status_word,
)
from ._i18n import t, tn
from ._jobs import Job, JobStatus
from ._ratings import Rating

__all__ = [
    "BLIND_DIR",
    "Blind",
    "blind_html",
    "blind_plain",
    "letters",
    "link_videos",
    "revealed_html",
    "revealed_plain",
]

BLIND_DIR = "blind"  # beside the outputs: the neutral links of blind passes


def letters(n: int) -> list[str]:
    """A, B, ... Z, AA, AB, ...: one label per cell."""
    out = []
    for i in range(n):
        label = ""
        i += 1
        while i:
            i, r = divmod(i - 1, 26)
            label = chr(65 + r) + label
        out.append(label)
    return out


@dataclass
class Blind:
    """One blind pass over a grid's jobs: a shuffle, its letters, what the rater gave so far.

    ``order[k]`` is the index (into the grid's jobs) of the k-th cell shown, lettered
    ``letters()[k]``; ``session`` is random and names the pass's neutral links and its ratings.
    """

    order: list[int]
    session: str = field(default_factory=lambda: secrets.token_hex(4))
    stars: dict[str, int] = field(default_factory=dict)
    winner: str = ""
    rater: str = ""
    revealed: bool = False
    links: dict[str, Path] = field(default_factory=dict)  # letter -> the video's neutral link

    @classmethod
    def shuffle(cls, n: int, rng: random.Random | None = None) -> Blind:
        """A uniform shuffle (the order shown may be the original one: anything else would tell)."""
        order = list(range(n))
        (rng or random.SystemRandom()).shuffle(order)
        return cls(order)

    @property
    def letters(self) -> list[str]:
        return letters(len(self.order))

    def cells(self, jobs: Sequence[Job]) -> list[tuple[str, Job]]:
        """(letter, job) in the order shown."""
        return [(letter, jobs[i]) for letter, i in zip(self.letters, self.order, strict=True)]

    def rateable(self, jobs: Sequence[Job]) -> set[str]:
        """The letters of finished clips: those the rater can star or pick."""
        return {letter for letter, job in self.cells(jobs) if job.status is JobStatus.SUCCEEDED}

    def ratings(self, jobs: Sequence[Job]) -> list[Rating]:
        """The pass as rows for the ledger: one per finished clip (stars None where none were
        given: it took part), or none at all when the rater gave nothing."""
        if not self.stars and not self.winner:
            return []
        rater = self.rater.strip() or None
        return [
            Rating(
                job.id,
                self.stars.get(letter) or None,
                rater=rater,
                blind=True,
                session=self.session,
                letter=letter,
                won=letter == self.winner,
            )
            for letter, job in self.cells(jobs)
            if job.status is JobStatus.SUCCEEDED
        ]


def link_videos(blind: Blind, jobs: Sequence[Job], folder: Path) -> None:
    """Each finished clip under a neutral name in ``folder/blind/`` (a hard link; a copy where the
    file system has none), once per pass."""
    for letter, job in blind.cells(jobs):
        path = job.video_path
        if letter in blind.links or job.status is not JobStatus.SUCCEEDED or path is None:
            continue
        target = folder / BLIND_DIR / f"{blind.session}-{letter}{Path(path).suffix or '.mp4'}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                try:
                    os.link(path, target)
                except OSError:
                    shutil.copyfile(path, target)
        except OSError:
            continue  # no link: the cell shows its poster, and says the clip is not here
        blind.links[letter] = target


def _say(text: str) -> str:
    return (
        f'<div class="cvnb-blind-note" style="font:12px system-ui,sans-serif;color:{MUTED};margin:4px 0">'
        f"{html.escape(text)}</div>"
    )


def _letter(letter: str) -> str:
    return f'<b class="cvnb-blind-letter" style="font-size:20px;margin-right:6px">{html.escape(letter)}</b>'


def _cell(letter: str, job: Job, group: str, link: Path | None, *, running: bool) -> str:
    """One blind cell: its letter, status, poster and video (neutral name), nothing else."""
    e = html.escape
    badge = (
        f'<span style="background:{BADGE[job.status]};color:#fff;border-radius:10px;padding:1px 8px">'
        f"{e(status_word(job.status))}</span>"
    )
    head = (
        f'<div style="display:flex;align-items:center;gap:6px;font-size:12px">{_letter(letter)}{badge}'
        f"{emulated_badge() if job.emulated else ''}</div>"
    )
    body = ""
    if job.status is JobStatus.SUCCEEDED:
        cover = make_poster(job.cover_path)
        limit = f"max-width:{2 * cover.width}px;" if cover else ""
        look = f'style="width:100%;{limit}border-radius:6px;background:#000;display:block;margin-top:6px"'
        if link is not None and not running:
            poster = f' poster="{cover.url}"' if cover else ""
            body = (
                f'<video class="cvnb-static-video" src="{e(rel_url(link) or "")}" controls muted playsinline '
                f'preload="metadata"{poster} data-cvnb-group="{e(group)}" {look}></video>'
            )
        elif cover is not None:
            body = f'<img src="{cover.url}" alt="{e(letter)}" {look}>'
        if link is None and not running:
            body += _say(t("the clip is not here to play"))
    return (
        f'<div class="cvnb-blind-cell" data-cvnb-letter="{e(letter)}" '
        f'data-cvnb-status="{e(job.status.value)}" '
        f'style="{CARD_STYLE}">{head}{body}</div>'
    )


def blind_html(
    blind: Blind, jobs: Sequence[Job], *, title: str = "", group: str = "", running: bool = False
) -> str:
    """The grid before *Reveal*: letters, statuses, posters and (once every clip has ended, not
    ``running``) the videos under their neutral names."""
    cells = "".join(
        _cell(letter, job, group, blind.links.get(letter), running=running)
        for letter, job in blind.cells(jobs)
    )
    n = len(jobs)
    said = tn(
        "Blind comparison of {n} clip: prompts, parameters and file names stay hidden until Reveal.",
        "Blind comparison of {n} clips: prompts, parameters and file names stay hidden until Reveal.",
        n,
    )
    return grid_frame(cells, group=group, title=title, kind="cvnb-blind", bar=not running, note=_say(said))


def blind_plain(blind: Blind, jobs: Sequence[Job]) -> str:
    """The text a renderer without HTML shows of a blind grid: letters and statuses."""
    return "\n".join(f"{letter}: {job.status.value}" for letter, job in blind.cells(jobs))


def _given(blind: Blind, letter: str) -> str:
    """What the rater gave this cell in the pass: stars, and the winner's mark."""
    e = html.escape
    stars = blind.stars.get(letter)
    bits = []
    if stars:
        title = e(t("{i} of 5", i=stars), quote=True)
        bits.append(f'<span style="color:#bf8700" title="{title}">{"★" * stars}{"☆" * (5 - stars)}</span>')
    if blind.winner == letter:
        bits.append(
            '<span class="cvnb-blind-won" style="background:#1a7f37;color:#fff;border-radius:10px;'
            f'padding:1px 8px">{e(t("winner"))}</span>'
        )
    return " ".join(bits)


def revealed_html(blind: Blind, jobs: Sequence[Job], *, title: str = "", group: str = "") -> str:
    """The grid after *Reveal*: the same cells in the same places, each now the job's own card
    (prompt with what differs highlighted, parameters, file), under its letter and what the rater
    gave it. The highlighting compares the prompts in the grid's own order, as a sighted grid."""
    parts = diff_parts([j.prompt for j in jobs])
    cells = []
    for letter, i in zip(blind.letters, blind.order, strict=True):
        head = (
            '<div class="cvnb-blind-head" style="display:flex;align-items:center;gap:6px;'
            f'font:12px system-ui,sans-serif;margin:2px 0">{_letter(letter)}{_given(blind, letter)}</div>'
        )
        cells.append(
            f'<div class="cvnb-blind-cell cvnb-revealed" data-cvnb-letter="{html.escape(letter)}">'
            f"{head}{job_html(jobs[i], parts=parts[i], group=group)}</div>"
        )
    rater = blind.rater.strip()
    if blind.stars or blind.winner:
        said = (
            t("Revealed: the ratings above were recorded as blind, by {rater}.", rater=rater)
            if rater
            else t("Revealed: the ratings above were recorded as blind.")
        )
    else:
        said = t("Revealed: nothing was rated in this pass, so nothing was recorded.")
    return grid_frame("".join(cells), group=group, title=title, kind="cvnb-revealed", note=_say(said))


def revealed_plain(blind: Blind, jobs: Sequence[Job]) -> str:
    return "\n".join(f"{letter}: {job.status.value}: {job.prompt}" for letter, job in blind.cells(jobs))
