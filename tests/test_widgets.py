"""Widgets on their trait values: card transitions, buttons, escaping, the form, the grid."""

from __future__ import annotations

from pathlib import Path

import pytest

from cogvideo_nb import Engine, Job, JobStatus, build_request
from cogvideo_nb._html import diff_parts, job_html
from cogvideo_nb._jobs import move
from cogvideo_nb.emulator import Emulator
from cogvideo_nb.widgets import CompareGrid, JobCard, PromptForm, assemble
from cogvideo_nb.widgets._bridge import BRIDGE
from cogvideo_nb.widgets._form import SAVED_FORM

from ._wait import wait_for_status

HOSTILE = '<img src=x onerror="window.__pwned=1">'


def test_card_follows_the_job_to_the_player(engine: Engine) -> None:
    job = engine.submit("a heron lifting off a pond")
    card = JobCard(job, engine)
    seen = set()
    card.observe(lambda ch: seen.add(ch["new"]), "status")
    assert job.wait_done(30) and job.status is JobStatus.SUCCEEDED
    BRIDGE.flush()
    assert card.status == "succeeded" and {"running", "succeeded"} <= seen | {card.status}
    assert job.video_path is not None and card.video_path == str(job.video_path.resolve())
    assert card.poster.startswith("data:image/jpeg;base64,")
    assert card.video_name == job.video_path.name and card.emulated
    assert card.finished_at and card.finished_at >= card.created_at
    assert "task " in card.meta_text


def test_stop_button_detaches_and_retry_button_starts_a_new_job(engine: Engine) -> None:
    job = engine.submit("a very slow sunrise #seconds=5")
    card = JobCard(job, engine)
    wait_for_status(job, JobStatus.RUNNING)
    card._handle_custom_msg({"action": "stop"}, [])
    assert job.wait_done(5)
    BRIDGE.flush()
    assert card.status == "detached"
    card._handle_custom_msg({"action": "retry"}, [])
    BRIDGE.flush()
    assert card.job is not job and card.job.prompt == job.prompt and card.job.id != job.id
    assert card.job.wait_done(30)
    BRIDGE.flush()
    assert card.status == "succeeded"


def test_failure_shows_the_reason(engine: Engine) -> None:
    job = engine.submit("a storm #fail")
    card = JobCard(job, engine)
    assert job.wait_done(30)
    BRIDGE.flush()
    assert card.status == "failed" and "emulated failure requested by #fail" in card.error


def test_hostile_prompt_is_text_everywhere(engine: Engine) -> None:
    job = engine.submit(HOSTILE)
    card = JobCard(job, engine)
    assert card.prompt == HOSTILE  # the front end sets textContent, never innerHTML
    job.wait_done(30)
    bundle = card._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    for text in (data["text/html"], job_html(job)):
        assert "<img" not in text and "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in text


def test_front_end_never_uses_inner_html() -> None:
    js = (Path(__file__).parents[1] / "cogvideo_nb" / "widgets" / "_card.js").read_text()
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "textContent" in js


def test_grid_highlights_what_differs_and_groups_its_cards(engine: Engine) -> None:
    jobs = [engine.submit(p) for p in ("a fox in snow, watercolor", "a fox in snow, claymation")]
    grid = CompareGrid(jobs, engine, title="styles")
    assert len(grid.cards) == 2 and grid.controls.title == "styles"
    assert {c.group for c in grid.cards} == {grid.controls.group}
    assert grid.cards[0].prompt_parts[-2:] == [["a fox in snow, ", False], ["watercolor", True]]
    assert grid.cards[1].prompt_parts[-2:] == [["a fox in snow, ", False], ["claymation", True]]
    assert diff_parts(["same words", "same words"]) == [[("same words", False)], [("same words", False)]]
    engine.wait(jobs, 30)


def test_static_html_of_a_finished_job(engine: Engine) -> None:
    job = engine.submit("a paper lantern", fps=30)
    job.wait_done(30)
    page = job_html(job)
    assert '<video class="cvnb-static-video" src="' in page and "controls muted playsinline" in page
    assert "EMULATED" in page
    assert job.video_path is not None and job.video_path.name in page and "fps=30" in page


def test_static_html_of_waiting_and_failed_jobs() -> None:
    job = Job(request=build_request("a kite"))
    assert "queued" in job_html(job) and "<video" not in job_html(job)
    move(job, JobStatus.FAILED, error="RuntimeError: boom <b>", error_type="RuntimeError")
    assert "RuntimeError: boom &lt;b&gt;" in job_html(job)


def test_form_assembles_counts_and_submits(engine: Engine) -> None:
    form = PromptForm(engine)
    form.fields["subject"].value = "a red fox"
    form.fields["motion"].value = "trots through snow"
    form.fields["light"].value = "golden hour."
    assert form.prompt.value == "A red fox, trots through snow, golden hour."
    assert f"{len(form.prompt.value)} / 512" in form.counter.value
    form.prompt.value = "x" * 513
    assert form.submit.disabled and "#cf222e" in form.counter.value
    form.prompt.value = "a red fox trots through snow"
    form.fps.value = 60
    form.submit.click()
    [card] = form.cards
    assert card.job.request.fps == 60 and card.job.prompt == "a red fox trots through snow"
    assert card.job.wait_done(30)
    BRIDGE.flush()
    assert card.status == "succeeded"


def test_form_shows_bad_input_instead_of_sending(engine: Engine, emulator: Emulator) -> None:
    form = PromptForm(engine)
    form.prompt.value = "   "
    assert form.submit.disabled  # nothing to send
    form.submit.click()
    assert "give a prompt or a first-frame image" in form.message.value and form.cards == []
    assert emulator.stats()["tasks"] == []


def test_form_sizes_follow_the_model(engine: Engine) -> None:
    form = PromptForm(engine)
    form.model.value = "cogvideox-3"
    assert ("1280x720", "1280x720") in form.size.options and ("720x480", "720x480") not in form.size.options


def test_assemble_skips_empty_parts() -> None:
    assert assemble({"subject": "a cat", "style": "film grain"}) == "A cat, film grain."
    assert assemble({}) == ""


def test_form_choices_come_from_the_catalogue(engine: Engine) -> None:
    form = PromptForm(engine)
    form.model.value = "vidu2-image"  # a 720p model: no 1080p size, no fps/quality, no style
    assert [v for _, v in form.size.options] == ["", "1280x720", "720x1280", "720x720"]
    assert [v for _, v in form.duration.options] == ["", 4]
    for name in ("fps", "quality", "style", "aspect_ratio"):
        assert form.controls[name].layout.display == "none", name
    assert form.controls["movement_amplitude"].layout.display is None
    assert form.last_frame.layout.display == "none" and form.references.layout.display == "none"
    form.model.value = "viduq1-start-end"
    assert form.last_frame.layout.display is None and form.image.layout.display is None
    form.model.value = "vidu2-reference"
    assert form.references.layout.display is None and form.image.layout.display == "none"
    form.model.value = "viduq1-text"
    form.prompt.value = "y" * 1500
    assert "1500 / 1500" in form.counter.value and not form.submit.disabled


def test_form_sends_only_what_differs_from_the_model_default(engine: Engine) -> None:
    form = PromptForm(engine)
    form.model.value = "viduq1-text"
    form.controls["style"].value = "anime"
    form.controls["off_peak"].value = True
    form.controls["watermark_enabled"].value = False
    form.prompt.value = "a paper boat in the rain"
    form.submit.click()  # a paid model: the first click asks
    form.submit.click()  # the second confirms
    [card] = form.cards
    body = card.job.request.to_body()
    assert (body["style"], body["off_peak"], body["watermark_enabled"]) == ("anime", True, False)
    assert "with_audio" not in body and "movement_amplitude" not in body


def test_form_options_show_their_defaults(engine: Engine) -> None:
    form = PromptForm(engine)
    shown = {d.description: d.label for d in (form.size, form.fps, form.duration, form.quality)}
    assert shown == {
        # the API documents no fixed size default (short side 1080, the first frame's shape)
        "Size": "default (server's choice)", "FPS": "default (30)",
        "Duration": "default (5 s)", "Quality": "default (speed)",
    }  # fmt: skip
    form.model.value = "viduq1-text"
    assert form.duration.label == "default (5 s)" and all(
        c.label for c in form.controls.values() if hasattr(c, "label") and c.layout.display is None
    )


def test_form_keeps_the_users_edits_to_the_prompt(engine: Engine) -> None:
    form = PromptForm(engine)
    form.fields["subject"].value = "a red fox"
    form.prompt.value = "a red fox, my own words"
    form.fields["motion"].value = "trots"
    assert form.prompt.value == "a red fox, my own words" and "kept" in form.kept.value
    form.use_parts.click()
    assert form.prompt.value == "A red fox, trots." and form.kept.value == ""
    form.fields["scene"].value = "in a forest"  # untouched since: the builder fills it again
    assert form.prompt.value == "A red fox, trots, in a forest."


def test_form_first_frame_thumbnail_and_remove(engine: Engine) -> None:
    import io
    from datetime import datetime, timezone

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 18), (10, 120, 200)).save(buf, format="PNG")
    form = PromptForm(engine)
    assert form.submit.disabled and form.thumb.layout.display == "none"
    upload = {"name": "f.png", "type": "image/png", "size": len(buf.getvalue()),
              "content": memoryview(buf.getvalue()), "last_modified": datetime.now(timezone.utc)}  # fmt: skip
    form.image.value = (upload,)
    assert form.thumb.value == buf.getvalue() and form.thumb.layout.display is None
    assert not form.submit.disabled  # an image alone is something to send
    form.remove.click()
    assert form._image() is None and form.thumb.layout.display == "none" and form.submit.disabled


def test_the_form_asks_before_a_paid_job_and_a_second_click_confirms(
    engine: Engine, emulator: Emulator
) -> None:
    """Like a cell without --yes, the form starts no paid job unasked; its question is the button."""
    form = PromptForm(engine)
    form.model.value = "cogvideox-3"
    form.prompt.value = "a lighthouse in a storm"
    form.submit.click()
    assert "paid" in form.message.value and form.submit.description.startswith("Confirm")
    assert form.cards == [] and emulator.stats()["tasks"] == []
    form.prompt.value = "a lighthouse in a gale"  # changed its mind: the question no longer stands
    assert form.submit.description == "Generate"
    form.submit.click()
    assert emulator.stats()["tasks"] == [] and form.submit.description.startswith("Confirm")
    form.submit.click()
    [card] = form.cards
    assert card.job.request.model == "cogvideox-3" and card.job.prompt == "a lighthouse in a gale"
    assert form.submit.description == "Generate"  # the next paid Generate asks again
    assert card.job.wait_done(30) and len(emulator.stats()["tasks"]) == 1


def test_the_forms_jobs_end_as_static_html_in_its_results_output(engine: Engine) -> None:
    """Displayed, the form owns an output below it (a display id): live cards while jobs run,
    static HTML with the video once they end, so a saved notebook keeps the form's results."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    form = PromptForm(engine)
    with capture_output() as out:
        display(form)
        form.prompt.value = "a paper lantern drifting up"
        form.submit.click()
        [card] = form.cards
        assert card.job.wait_done(30)
        BRIDGE.flush()
    first, slot, *updates = out.outputs
    assert "application/vnd.jupyter.widget-view+json" in first.data  # the form itself
    assert slot.transient == {"display_id": form.results.id} and not slot.update
    assert all(u.update and u.transient == {"display_id": form.results.id} for u in updates)
    assert "application/vnd.jupyter.widget-view+json" in updates[0].data  # the live cards
    final = updates[-1].data
    assert "application/vnd.jupyter.widget-view+json" not in final
    assert "<video" in final["text/html"] and card.job.id in final["text/html"]
    # Every page finds the results output by its mark and ends it with the same HTML; what is
    # saved of the form itself is a note (no reopened notebook can draw a widget with no kernel).
    key = form.results.id
    assert slot.metadata == {"cogvideo_nb": {"shows": key}}
    assert updates[-1].metadata == {"cogvideo_nb": {"shows": key, "final": True}}
    assert form.results.end.key == key and form.results.end.html == final["text/html"]
    assert form.results.end in form.results.box.children
    assert first.metadata == {"cogvideo_nb": {"shows": "form", "saved": SAVED_FORM}}
    assert "run this cell" in SAVED_FORM["text/html"]


def test_retry_on_a_card_of_a_paid_job_asks_and_the_second_click_confirms(
    engine: Engine, emulator: Emulator
) -> None:
    job = engine.submit("a storm #fail", model="cogvideox-3")
    card = JobCard(job, engine)
    assert job.wait_done(30) and job.status is JobStatus.FAILED
    card._handle_custom_msg({"action": "retry"}, [])
    BRIDGE.flush()
    assert "paid" in card.retry_ask and "click Retry again" in card.retry_ask
    assert card.job is job and len(emulator.stats()["tasks"]) == 1  # nothing new was sent
    card._handle_custom_msg({"action": "retry"}, [])
    BRIDGE.flush()
    assert card.job is not job and card.job.request.model == "cogvideox-3" and card.retry_ask == ""
    assert card.job.wait_done(30) and len(emulator.stats()["tasks"]) == 2


def test_a_rating_given_from_python_shows_on_the_live_card(engine: Engine) -> None:
    job = engine.submit("a kite over dunes")
    card = JobCard(job, engine)
    assert job.wait_done(30) and job.status is JobStatus.SUCCEEDED
    engine.rate(job.short_id, 4, "the string sags")  # as cv.rate or %cogvideo rate would
    BRIDGE.flush()
    assert (card.rating, card.rating_note) == (4, "the string sags")


@pytest.mark.parametrize("field", ["image", "last_frame", "references"])
def test_the_form_refuses_a_file_that_is_not_an_image_as_it_is_uploaded(engine: Engine, field: str) -> None:
    from datetime import datetime, timezone

    form = PromptForm(engine)
    form.model.value = {"image": "cogvideox-flash", "last_frame": "viduq1-start-end"}.get(
        field, "vidu2-reference"
    )
    junk = b"%PDF-1.7 not a picture"
    upload = {"name": "photo.png", "type": "image/png", "size": len(junk),
              "content": memoryview(junk), "last_modified": datetime.now(timezone.utc)}  # fmt: skip
    getattr(form, field).value = (upload,)
    assert "not a PNG or JPEG image" in form.message.value
    assert getattr(form, field).value == ()  # nothing kept to send later
    assert form.thumb.layout.display == "none"
