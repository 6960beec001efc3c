"""The study report: self-contained, escaped, videos beside it or inside it, ratings and notes shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cogvideo_nb import Job, JobStatus, ValidationError, build_request
from cogvideo_nb._report import enhance_html, write_report
from cogvideo_nb.emulator import EmulatorConfig, render_clip

CFG = EmulatorConfig(render_fps=8, duration_scale=0.2)
HOSTILE = '<script>alert("x")</script> a fox & "friends"'


def finished(tmp_path: Path, prompt: str, **fields: object) -> Job:
    """A succeeded job with a real clip and cover, as the engine leaves one."""
    job = Job(request=build_request(prompt), status=JobStatus.SUCCEEDED, task_id="task-" + prompt[:4])
    video = tmp_path / "outputs" / f"{job.id}.mp4"
    render_clip(prompt, size="1280x960", out_video=video, out_cover=video.with_suffix(".png"), config=CFG)
    job.video_path, job.cover_path, job.emulated = video, video.with_suffix(".png"), True
    for name, value in fields.items():
        setattr(job, name, value)
    return job


def study(tmp_path: Path) -> list[Job]:
    return [
        finished(tmp_path, "a fox in watercolor", rating=4, rating_note="soft, <b>nice</b> motion"),
        finished(tmp_path, "a fox in claymation", rating=2, original_prompt="fox clay"),
        finished(tmp_path, HOSTILE),
        Job(
            request=build_request("a fox in pixel art"),
            status=JobStatus.FAILED,
            error="<i>server</i> said no",
        ),
    ]


def test_report_copies_videos_beside_it_and_escapes_everything(tmp_path: Path) -> None:
    jobs = study(tmp_path)
    out = write_report(jobs, tmp_path / "hand out" / "study.html", title="Fox <study>")
    text = out.read_text("utf-8")
    assert "<script>alert" not in text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "<b>nice</b>" not in text and "&lt;b&gt;nice&lt;/b&gt;" in text
    assert "<i>server</i>" not in text and "&lt;i&gt;server&lt;/i&gt; said no" in text
    assert "<title>Fox &lt;study&gt;</title>" in text
    srcs = re.findall(r'<source src="([^"]+)"', text)
    assert len(srcs) == 3  # the failed job has no video
    for src in srcs:
        assert src.startswith("study_files/") and (out.parent / src).is_file()
    assert "★★★★☆" in text and "★★☆☆☆" in text and "not rated" in text
    assert "<mark>watercolor</mark>" in text and "<mark>claymation</mark>" in text
    assert "enhanced from</summary>fox " in text and '<span class="del">clay</span>' in text
    assert text.count('poster="data:image/jpeg;base64,') == 3
    # the summary: one row per prompt with its mean rating
    assert "<td>4.0 (1 rated)</td>" in text


def test_report_embeds_videos_on_request(tmp_path: Path) -> None:
    jobs = study(tmp_path)[:1]
    out = write_report(jobs, tmp_path / "one.html", embed=True)
    text = out.read_text("utf-8")
    assert '<source src="data:video/mp4;base64,' in text
    assert not (tmp_path / "one_files").exists()


def test_report_refuses_bad_paths_and_empty_studies(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        write_report([], tmp_path / "x.html")
    with pytest.raises(ValidationError, match="html"):
        write_report(study(tmp_path)[:1], tmp_path / "x.pdf")


def test_enhance_html_marks_added_and_removed_words() -> None:
    out = enhance_html("a <fox> in snow", "A red <fox> runs through deep snow.")
    assert "&lt;fox&gt;" in out and "<fox>" not in out
    assert "<mark>red</mark>" in out and "<mark>deep</mark>" in out
    assert '<span class="del">in</span>' in out


def test_static_card_html_keeps_the_origin_escaped() -> None:
    from cogvideo_nb._html import job_html

    job = Job(
        request=build_request("A fox <b>runs</b>."), original_prompt="fox <i>", continues="cvnb-abc123456789"
    )
    text = job_html(job)
    assert "enhanced from: fox &lt;i&gt;" in text and "<i>" not in text
    assert 'continues <a href="#cvnb-card-cvnb-abc123456789">23456789</a>' in text
    assert "enhanced from" not in job_html(Job(request=build_request("plain")))
