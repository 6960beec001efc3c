"""The notebook UI in a real JupyterLab, driven through Debian's chromium.

The scenarios share one server (see conftest): the quickstart card updating live while the
kernel is idle, a synced grid of four, a hostile prompt that must stay text, a failed task, and a playing
video surviving the end of its grid's last job. Each leaves ``test-artifacts/<name>.png``.

Run only these: ``python -m pytest tests/browser -m browser -q -x``.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .conftest import BROWSER_1, Notebook

pytestmark = [pytest.mark.browser, BROWSER_1]

TERMINAL = ("succeeded", "failed", "detached")

# Status of the first card in cell i, that cell's execution prompt and the kernel's state.
_SNAPSHOT_JS = """([i]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const card = cell && cell.querySelector('.cvnb-card');
  const prompt = cell && cell.querySelector('.jp-InputPrompt');
  const kernel = document.querySelector('.jp-Notebook-ExecutionIndicator');
  return {
    status: card ? card.dataset.status || null : null,
    prompt: prompt ? prompt.textContent.trim() : null,
    kernel: kernel ? kernel.dataset.status : null,
  };
}"""

_CARD_STATUS_JS = """([i, want]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const cards = cell ? Array.from(cell.querySelectorAll('.cvnb-card')) : [];
  return cards.length > 0 && cards.every((c) => want.includes(c.dataset.status));
}"""

_VIDEOS_READY_JS = """([i, n]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const vs = cell ? Array.from(cell.querySelectorAll('video.cvnb-video')) : [];
  return vs.length === n && vs.every((v) => v.readyState >= 1);
}"""


_TAG_CARDS_JS = """([i]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const cards = cell ? Array.from(cell.querySelectorAll('.cvnb-card')) : [];
  cards.forEach((c) => { c.__cvnbSeen = true; });
  return cards.length;
}"""

_NEW_CARDS_JS = """([i]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const cards = cell ? Array.from(cell.querySelectorAll('.cvnb-card')) : [];
  return cards.length > 0 && cards.some((c) => !c.__cvnbSeen);
}"""


def _settle(nb: Notebook, i: int, *, videos: int = 0, quiet: float = 2.0) -> int:
    """Wait until cell ``i``'s output stops being re-rendered; returns how often it was.

    When its jobs end, a card or grid calls update_display (to rewrite its static HTML), and
    JupyterLab answers that by rebuilding the output: new card elements, new (paused) videos.
    Played before that, a video is thrown away (see test_grid_keeps_playing_when_the_last_job_ends),
    so the scenarios act on the output once it has been quiet for ``quiet`` seconds.
    """
    rerenders = 0
    for _ in range(5):
        nb.page.evaluate(_TAG_CARDS_JS, [i])
        try:
            nb.page.wait_for_function(_NEW_CARDS_JS, arg=[i], timeout=quiet * 1000, polling=50)
        except PlaywrightTimeoutError:
            return rerenders
        rerenders += 1
        if videos:
            nb.page.wait_for_function(_VIDEOS_READY_JS, arg=[i, videos], timeout=15_000, polling=100)
    raise AssertionError(f"the output of cell {i} kept being re-rendered ({rerenders} times)")


def _outputs_text(nb: Notebook, i: int) -> str:
    text: str = nb.cell(i).locator(".jp-OutputArea").first.inner_text(timeout=2000)
    return text


def _wait_cards(nb: Notebook, i: int, want: tuple[str, ...], timeout: float) -> None:
    try:
        nb.page.wait_for_function(_CARD_STATUS_JS, arg=[i, list(want)], timeout=timeout * 1000, polling=100)
    except PlaywrightTimeoutError as exc:
        statuses = nb.cell(i).locator(".cvnb-card").evaluate_all("cs => cs.map(c => c.dataset.status)")
        raise AssertionError(
            f"cards of cell {i} are {statuses}, wanted all in {want} within {timeout:g} s\n"
            f"cell output: {_outputs_text(nb, i)!r}\nconsole:\n{nb.console_text()}"
        ) from exc


def _assert_plays(video: Any, *, start: bool) -> tuple[float, float]:
    """``play()`` it (muted) if asked, then check currentTime moves on its own."""
    if start:
        video.evaluate("async (v) => { v.muted = true; await v.play(); }")
    before = float(video.evaluate("(v) => v.currentTime"))
    time.sleep(1.0)
    paused, after = video.evaluate("(v) => [v.paused, v.currentTime]")
    assert not paused, "the video paused by itself"
    assert after > before + 0.3, f"currentTime did not advance: {before} -> {after}"
    return before, float(after)


def test_quickstart(notebook: Notebook) -> None:
    nb = notebook.open("%load_ext cogvideo_nb", "%%cogvideo\na red fox running through fresh snow")
    nb.run(0)
    nb.wait_ran(0)

    nb.run(1)
    pressed = time.monotonic()
    seen: list[tuple[float, str | None, str | None, str | None]] = []  # (t, status, prompt, kernel)
    card_at = None
    while time.monotonic() - pressed < 60:
        snap = nb.page.evaluate(_SNAPSHOT_JS, [1])
        t = time.monotonic() - pressed
        if snap["status"] is not None and card_at is None:
            card_at = t
        if not seen or seen[-1][1:] != (snap["status"], snap["prompt"], snap["kernel"]):
            seen.append((t, snap["status"], snap["prompt"], snap["kernel"]))
        if snap["status"] in TERMINAL:
            break
        if card_at is None and t > 2.0:
            break
        time.sleep(0.05)
    trace = "\n".join(f"  {t:6.2f}s status={s} prompt={p} kernel={k}" for t, s, p, k in seen)

    assert card_at is not None, f"no .cvnb-card within 2 s of running the cell\n{trace}\n{nb.console_text()}"
    assert card_at <= 2.0, f"the card took {card_at:.2f} s to appear\n{trace}"
    statuses = [s for _, s, _, _ in seen if s is not None]
    sequence = [s for k, s in enumerate(statuses) if k == 0 or s != statuses[k - 1]]
    assert sequence[-1] == "succeeded", f"status sequence {sequence}\n{trace}\n{nb.console_text()}"
    non_terminal = [s for s in sequence if s not in TERMINAL]
    assert len(set(non_terminal)) >= 2 or (non_terminal and sequence[-1] == "succeeded"), sequence

    # Which status changes happened while the cell had finished ([2], not [*]) and the
    # kernel was idle: the card must move on its own, with no further user action.
    changes = [
        (t, s, p, k) for n, (t, s, p, k) in enumerate(seen) if s is not None and n > 0 and s != seen[n - 1][1]
    ]
    idle_changes = [c for c in changes if re.fullmatch(r"\[\d+\]:", c[2] or "") and c[3] == "idle"]
    assert idle_changes, f"no status change was seen while the kernel was idle\n{trace}"
    assert idle_changes[-1][1] == "succeeded", f"'succeeded' did not arrive while idle\n{trace}"
    print(f"status sequence {sequence}; changes while idle: {[c[1] for c in idle_changes]}\n{trace}")

    rerenders = _settle(nb, 1, videos=1)
    print(f"output re-renders seen while settling: {rerenders}")
    card = nb.cell(1).locator(".cvnb-card")
    emulated = card.locator(".cvnb-emulated")
    assert emulated.is_visible(), "the EMULATED label is hidden"
    assert emulated.inner_text().strip() == "EMULATED"

    video = card.locator("video.cvnb-video")
    video.wait_for(state="attached", timeout=10_000)
    assert (video.get_attribute("poster") or "").startswith("data:image/jpeg"), "the video has no poster"
    nb.page.wait_for_function("(v) => v.readyState >= 1", arg=video.element_handle(), timeout=15_000)
    card.scroll_into_view_if_needed()
    _assert_plays(video, start=True)
    # A small clip is shown at most at twice its own width, not stretched across the page.
    width, native = video.evaluate("(v) => [v.getBoundingClientRect().width, v.videoWidth]")
    assert native and width <= 2 * native + 1, (width, native)


PROMPTS = [
    "a red fox running through fresh snow at dawn",
    "a red fox running through fresh snow at dusk",
    "a grey wolf running through fresh snow at dawn",
    "a red fox walking through deep snow at dawn",
]


_STUCK_JS = """(bar) => {
  const r = bar.getBoundingClientRect();
  const grid = bar.closest('.jp-OutputArea-output').getBoundingClientRect();
  const panel = bar.closest('.jp-NotebookPanel').querySelector('.jp-WindowedPanel-outer, .jp-Notebook');
  const p = panel.getBoundingClientRect();
  const clips = [];
  for (let n = bar.parentElement; n && n !== panel; n = n.parentElement) {
    const s = getComputedStyle(n);
    if (s.overflowY !== 'visible') clips.push(`${n.className}: ${s.overflowY}`);
  }
  return { visible: r.top >= p.top - 1 && r.bottom <= p.bottom + 1, bar: [r.top, r.bottom],
           panel: [p.top, p.bottom], gridTop: grid.top, clips };
}"""


def test_grid_of_four(notebook: Notebook) -> None:
    nb = notebook.open("%load_ext cogvideo_nb", "%%cogvideo\n" + "\n---\n".join(PROMPTS))
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    nb.wait_ran(1)
    try:
        nb.page.wait_for_function(_VIDEOS_READY_JS, arg=[1, 4], timeout=90_000, polling=200)
    except PlaywrightTimeoutError as exc:
        statuses = nb.cell(1).locator(".cvnb-card").evaluate_all("cs => cs.map(c => c.dataset.status)")
        raise AssertionError(f"4 videos never got ready; cards: {statuses}\n{nb.console_text()}") from exc
    _settle(nb, 1, videos=4)
    texts = nb.cell(1).locator(".cvnb-prompt").all_inner_texts()
    assert sorted(t.strip() for t in texts) == sorted(PROMPTS)

    # At 900 px with the file browser open, the grid keeps (at least) two columns.
    nb.page.set_viewport_size({"width": 900, "height": 1000})
    assert nb.page.locator(".jp-FileBrowser").first.is_visible(), "the file browser is not open"
    time.sleep(0.5)
    lefts = (
        nb.cell(1)
        .locator(".cvnb-card")
        .evaluate_all("cs => cs.map((c) => Math.round(c.getBoundingClientRect().left))")
    )
    assert len(set(lefts)) >= 2, f"one column at 900 px: card lefts {lefts}"
    nb.page.set_viewport_size({"width": 1400, "height": 1000})

    controls = nb.cell(1).locator(".cvnb-grid-controls")
    controls.scroll_into_view_if_needed()
    controls.locator(".cvnb-play-all").click()
    videos = nb.cell(1).locator("video.cvnb-video")
    nb.page.wait_for_function(
        "(vs) => vs.every((v) => !v.paused)", arg=videos.element_handles(), timeout=5_000
    )
    before = videos.evaluate_all("(vs) => vs.map((v) => v.currentTime)")
    time.sleep(1.0)
    after = videos.evaluate_all("(vs) => vs.map((v) => [v.paused, v.currentTime])")
    assert [p for p, _ in after] == [False] * 4, f"paused after Play all: {after}"
    assert all(t1 > t0 + 0.3 for t0, (_, t1) in zip(before, after, strict=True)), (before, after)
    assert "4 video(s)" in controls.inner_text()

    # The bar stays in view while the grid scrolls under it (it sticks to the notebook's top).
    nb.page.set_viewport_size({"width": 1400, "height": 600})
    nb.cell(1).locator(".cvnb-card").last.evaluate("(c) => c.scrollIntoView({block: 'end'})")
    time.sleep(0.5)
    where = controls.evaluate(_STUCK_JS)
    nb.page.set_viewport_size({"width": 1400, "height": 1000})
    assert where["visible"], str(where)


HOSTILE = '<img src=x onerror="window.__pwned=1">'
_NO_INJECTION_JS = """() => ({
  imgs: document.querySelectorAll('img[src="x"]').length,
  pwned: typeof window.__pwned,
})"""


def test_hostile_prompt(notebook: Notebook) -> None:
    nb = notebook.open("%load_ext cogvideo_nb", "%%cogvideo\n" + HOSTILE)
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    prompt = nb.cell(1).locator(".cvnb-card .cvnb-prompt")
    prompt.wait_for(state="visible", timeout=10_000)
    nb.page.wait_for_function(
        "(p) => p.textContent.includes('<img src=x')", arg=prompt.element_handle(), timeout=5_000
    )
    assert prompt.evaluate("(p) => p.textContent") == HOSTILE
    assert prompt.evaluate("(p) => p.querySelector('img')") is None
    assert nb.page.evaluate(_NO_INJECTION_JS) == {"imgs": 0, "pwned": "undefined"}

    _wait_cards(nb, 1, TERMINAL, timeout=60)  # the job (and its player) finished
    _settle(nb, 1)  # the output is rendered again when the job ends; any onerror has fired by now
    assert nb.page.evaluate(_NO_INJECTION_JS) == {"imgs": 0, "pwned": "undefined"}
    assert HOSTILE in prompt.evaluate("(p) => p.textContent")
    nb.cell(1).locator(".cvnb-card").scroll_into_view_if_needed()


def test_failure(notebook: Notebook) -> None:
    nb = notebook.open("%load_ext cogvideo_nb", "%%cogvideo\na storm at sea #fail")
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    _wait_cards(nb, 1, ("failed",), timeout=60)
    _settle(nb, 1)
    card = nb.cell(1).locator(".cvnb-card")
    assert card.get_attribute("data-status") == "failed"
    error = card.locator(".cvnb-error")
    assert error.is_visible()
    assert "emulated failure requested by #fail" in error.inner_text()
    assert card.locator(".cvnb-retry").is_visible(), "no visible Retry button on a failed card"
    assert not card.locator(".cvnb-stop").is_visible()
    card.scroll_into_view_if_needed()


def _restart_kernel(nb: Notebook) -> None:
    """Kernel menu -> Restart Kernel…, then confirm the dialog, as a user would."""
    page = nb.page
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    page.locator('.lm-Menu-item[data-command="kernelmenu:restart"]').click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=10_000)
    with contextlib.suppress(PlaywrightTimeoutError):  # catch the restart in the act (it is quick)
        page.wait_for_function(
            "() => document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status !== 'idle'",
            timeout=10_000,
            polling="raf",
        )
    nb.wait_kernel_ready()


class PlaybackInterrupted(AssertionError):
    """A video that was playing stopped because its output was rebuilt."""


_CARD_VIDEO_JS = """([i, k]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const card = cell ? cell.querySelectorAll('.cvnb-card')[k] : null;
  const v = card ? card.querySelector('video.cvnb-video') : null;
  if (!v) return { ready: 0, status: card ? card.dataset.status : null };
  return { ready: v.readyState, status: card.dataset.status, paused: v.paused, t: v.currentTime,
           d: v.duration, same: !!v.__cvnbPlayed };
}"""


# When a job ends its output is re-displayed (to rewrite its static HTML for saved notebooks),
# and JupyterLab rebuilds the views for that; the card keeps its <video> on the model so the
# new view adopts the same element, still playing.
def test_grid_keeps_playing_when_the_last_job_ends(notebook: Notebook) -> None:
    updates: list[float] = []  # when update_display_data messages reach the page

    def watch(ws: Any) -> None:
        def frame(payload: str | bytes) -> None:
            data = payload.encode() if isinstance(payload, str) else payload
            if b"update_display_data" in data:
                updates.append(time.monotonic())

        ws.on("framereceived", frame)

    notebook.page.on("websocket", watch)
    nb = notebook.open(
        "%load_ext cogvideo_nb",
        "%%cogvideo\na paper boat drifting down a rainy street\n---\n"
        "a paper boat drifting down a sunny street #seconds=12",
    )
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    nb.page.wait_for_function(f"() => ({_CARD_VIDEO_JS})([1, 0]).ready >= 1", timeout=30_000, polling=100)
    first = nb.page.evaluate(_CARD_VIDEO_JS, [1, 1])
    assert first["status"] not in TERMINAL, f"the slow job ended too soon for this test: {first}"

    # The user watches the first result (looped: it is shorter than the wait) ...
    video = nb.cell(1).locator(".cvnb-card").nth(0).locator("video.cvnb-video")
    video.evaluate("async (v) => { v.__cvnbPlayed = true; v.loop = true; v.muted = true; await v.play(); }")
    _assert_plays(video, start=False)
    # ... while the second one finishes.
    _wait_cards(nb, 1, ("succeeded",), timeout=40)
    nb.page.wait_for_function(f"() => ({_CARD_VIDEO_JS})([1, 1]).ready >= 1", timeout=15_000, polling=100)
    before = nb.page.evaluate(_CARD_VIDEO_JS, [1, 0])
    time.sleep(1.0)
    after = nb.page.evaluate(_CARD_VIDEO_JS, [1, 0])
    nb.cell(1).locator(".cvnb-grid-controls").scroll_into_view_if_needed()
    # The video loops (it is shorter than the wait), so measure progress modulo its duration.
    advanced = (after["t"] - before["t"]) % after["d"] if after.get("d") else after["t"] - before["t"]
    if not (after["same"] and not after["paused"] and advanced > 0.3):
        raise PlaybackInterrupted(
            "the first card's video stopped when the second job ended: "
            f"same <video> element: {after['same']}, paused: {after['paused']}, "
            f"currentTime {before['t']:.2f} -> {after['t']:.2f}; "
            f"update_display_data messages received: {len(updates)}"
        )
