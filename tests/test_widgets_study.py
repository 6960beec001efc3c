"""Study controls on the widgets: card rating + note, the chain link, grid Export, form Enhance."""

from __future__ import annotations

from pathlib import Path

from cogvideo_nb import Engine
from cogvideo_nb._ledger import Ledger
from cogvideo_nb._media import clip_info, contact_sheet_path
from cogvideo_nb.emulator import Emulator
from cogvideo_nb.widgets import CompareGrid, JobCard, PromptForm
from cogvideo_nb.widgets._bridge import BRIDGE

from ._wait import wait_until


def test_card_rating_and_note_go_to_the_ledger(engine: Engine, tmp_path: Path) -> None:
    job = engine.submit("a heron lifting off a pond")
    card = JobCard(job, engine)
    assert job.wait_done(30)
    BRIDGE.flush()
    assert card.rating == 0 and card.job_id == job.id
    card._handle_custom_msg({"action": "rate", "rating": 4, "note": "  wings too stiff "}, [])
    BRIDGE.flush()
    assert (card.rating, card.rating_note, card.rating_error) == (4, "wings too stiff", "")
    stored = Ledger(tmp_path / "out" / "ledger.sqlite").load(job.id)
    assert stored is not None and (stored.rating, stored.rating_note) == (4, "wings too stiff")
    card._handle_custom_msg({"action": "rate", "rating": 7, "note": ""}, [])
    BRIDGE.flush()
    assert "1 to 5" in card.rating_error and card.rating == 4  # refused, the old value kept
    card._handle_custom_msg({"action": "rate", "rating": 0, "note": ""}, [])
    BRIDGE.flush()
    assert card.rating == 0 and Ledger(tmp_path / "out" / "ledger.sqlite").load(job.id).rating is None  # type: ignore[union-attr]


def test_a_continued_card_links_its_source(engine: Engine) -> None:
    first = engine.submit("a lighthouse at dusk")
    assert first.wait_done(30)
    second = engine.submit("the beam sweeps", continues=first.id)
    card = JobCard(second, engine)
    BRIDGE.flush()
    assert card.continues == first.id and card.continues_text == f"{first.id[-8:]} · a lighthouse at dusk"
    engine.wait([second], 30)


def test_grid_export_renders_the_finished_clips(engine: Engine) -> None:
    jobs = [engine.submit(p) for p in ("a fox, watercolor", "a fox, claymation", "a fox #fail")]
    grid = CompareGrid(jobs, engine)
    engine.wait(jobs, 30)
    grid.controls._handle_custom_msg({"action": "export"}, [])
    wait_until(lambda: grid.controls.export_url, timeout=60, what="export finished")
    out = engine.output_dir / f"grid-{grid.controls.group}.mp4"
    info = clip_info(out)
    assert (info.width, info.height) == (2 * 426 + 3 * 4, 240 + 2 * 4)  # the failed cell left out
    assert contact_sheet_path(out).is_file() and out.name in grid.controls.export_status


def test_form_enhance_shows_both_and_sends_the_rewrite(engine: Engine, emulator: Emulator) -> None:
    form = PromptForm(engine)
    form.prompt.value = "a red fox in the snow"
    form.enhance.value = True
    form.submit.click()
    [card] = form.cards
    assert card.job.original_prompt == "a red fox in the snow"
    assert card.job.prompt.startswith("a red fox in the snow.") and len(card.job.prompt) > 60
    assert "cvnb-enhance" in form.message.value and "<mark>" in form.message.value
    assert emulator.stats()["requests"]["chat"] == 1
    assert card.job.wait_done(30)
