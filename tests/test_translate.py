"""Bilingual prompts (issue 22): --translate and --vary translate through the one pipeline, the
request the chat model gets, the emulator's offline glossary translation, and every front end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import cogvideo_nb
from cogvideo_nb import AsyncClient, Engine, JobStatus, ValidationError, atranslate, translate
from cogvideo_nb.__main__ import main
from cogvideo_nb._html import job_html
from cogvideo_nb._ledger import Ledger
from cogvideo_nb._pipeline import apply_rewrites, plan, rewrites
from cogvideo_nb._report import report_html, rewrite_html
from cogvideo_nb._translate import check_target, prompt_language, system_prompt
from cogvideo_nb.emulator import Emulator
from cogvideo_nb.emulator._translate import FALLBACK, translate_prompt, translation_target
from cogvideo_nb.widgets import PromptForm

from .conftest import settings_for
from .test_magic import ip, jobs_of  # noqa: F401  (ip: the shell fixture, reused)
from .test_magic_study import html_of

KEY = "sentinel-id.sentinel-secret-4242"
SHIBA = "一只柴犬在草地上奔跑，阳光明媚，蓝天"
SHIBA_EN = "Shiba inu, grass, running, sunny, blue sky."  # the emulator's glossary translation


def answer(content: str) -> httpx.Response:
    return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": content}}]})


def nothing_sent(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"sent {request.url}")


def test_the_request_carries_the_translation_prompt_model_and_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer('Translation: "A shiba inu runs across the grass on a sunny day."')

    out = translate(SHIBA, "en", api_key=KEY, base_url="https://api.example/v4",
                    transport=httpx.MockTransport(handler))  # fmt: skip
    assert out == "A shiba inu runs across the grass on a sunny day."  # the wrapper stripped
    [req] = seen
    assert str(req.url) == "https://api.example/v4/chat/completions"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    body = json.loads(req.content)
    assert body["model"] == "glm-4-flash" and body["temperature"] == 0.1 and body["stream"] is False
    assert body["messages"] == [
        {"role": "system", "content": system_prompt("en")},
        {"role": "user", "content": SHIBA},
    ]
    assert "into English" in system_prompt("en") and "into Simplified Chinese" in system_prompt("zh")
    for rule in ("faithfully", "add nothing", "translation only", "500 characters"):
        assert rule in system_prompt("en")


def test_a_prompt_already_in_the_target_language_sends_nothing() -> None:
    mock = httpx.MockTransport(nothing_sent)
    assert (
        translate("  a shiba inu on the grass ", "en", api_key=KEY, transport=mock)
        == "a shiba inu on the grass"
    )
    assert translate(SHIBA, "ZH", api_key=KEY, transport=mock) == SHIBA
    assert translate("a fox", "off", api_key=KEY, transport=mock) == "a fox"
    assert prompt_language("一只柴犬, cinematic, 4K") == "zh"  # mostly Chinese
    assert prompt_language("a shiba inu (柴犬) on grass") == "en"  # mostly English
    assert prompt_language("1920x1080") == "en"


@pytest.mark.parametrize("target", ["fr", "english", "", 1, True])
def test_a_bad_target_is_refused_before_anything_is_sent(target: Any) -> None:
    if target == "":
        assert check_target(target) is None  # empty: off
        return
    with pytest.raises(ValidationError, match="translate takes en or zh") as info:
        translate("a fox", target, api_key=KEY, transport=httpx.MockTransport(nothing_sent))
    assert info.value.field == "translate"
    with pytest.raises(ValidationError, match="translate takes en or zh"):
        plan(["a fox"], translate=target)
    with pytest.raises(ValidationError, match="translate takes en or zh"):
        plan(["a fox"], vary=[("translate", ["off", str(target)])])
    with pytest.raises(ValidationError, match="non-empty prompt"):
        translate("  ", "en", api_key=KEY, transport=httpx.MockTransport(nothing_sent))


async def test_async_shares_the_logic() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["messages"][0]["content"] == system_prompt("zh") and body["model"] == "glm-4-plus"
        return answer("「一只红狐狸在雪中小跑。」")

    client = AsyncClient(KEY, "https://api.example/v4", transport=httpx.MockTransport(handler))
    assert await atranslate("a red fox trots in snow", "zh", model="glm-4-plus", client=client) == (
        "一只红狐狸在雪中小跑。"
    )
    assert await atranslate("一只狐狸", "zh", client=client) == "一只狐狸"  # no request
    await client.aclose()


def test_the_emulator_translates_offline_from_its_glossary(emulator: Emulator) -> None:
    opts: dict[str, Any] = {"api_key": "abc.def", "base_url": emulator.base_url}
    assert translate(SHIBA, "en", **opts) == SHIBA_EN
    english = "A shiba inu running on the grass at sunset, slow motion, cinematic"
    assert translate(english, "zh", **opts) == "柴犬，奔跑，草地，日落，慢镜头，电影感。"
    assert translate("猫在海边", "en", **opts) == "Cat, seaside."
    assert emulator.stats()["requests"]["chat"] == 3
    # words it does not know are left out, never passed through: the answer is in the target script
    assert translate_prompt("一只麒麟", "en") == FALLBACK["en"]
    assert translate_prompt("a quokka", "zh") == FALLBACK["zh"]
    assert translate_prompt("一只Tesla汽车，4K", "en") == "Tesla, car, 4K."  # Latin kept as it is
    # an enhance request is still an enhancement, not a translation
    assert translation_target(cogvideo_nb._enhance.SYSTEM_PROMPT) is None


def test_vary_translate_makes_one_cell_per_language_each_labelled() -> None:
    plans = plan([SHIBA], vary=[("translate", ["off", "en"])], n=2)
    assert [p.label for p in plans] == [
        "translate=off (Chinese), run 1/2", "translate=off (Chinese), run 2/2",
        "translate=en (English), run 1/2", "translate=en (English), run 2/2",
    ]  # fmt: skip
    asked: list[tuple[str, str]] = []

    def translator(text: str, target: str) -> str:
        asked.append((text, target))
        return "A SHIBA INU."

    out = apply_rewrites(plans, lambda text: pytest.fail("not enhanced"), translator)
    assert asked == [(SHIBA, "en")]  # once per distinct prompt and language
    assert [p.request.prompt for p in out] == [SHIBA, SHIBA, "A SHIBA INU.", "A SHIBA INU."]
    assert [p.original_prompt for p in out] == [None, None, SHIBA, SHIBA]
    assert [p.rewrite for p in out] == [None, None, "translate:en", "translate:en"]
    assert rewrites(out) == [(SHIBA, "A SHIBA INU.", "translate:en")]
    # the prompt is already English: no request, the cell says so
    [off, en] = apply_rewrites(plan(["a fox"], vary=[("translate", ["off", "en"])]), str, translator)
    assert (off.label, en.label) == ("translate=off (English)", "translate=en (English)")
    assert en.request.prompt == "a fox" and en.original_prompt is None and len(asked) == 1


def test_enhance_comes_first_so_both_languages_describe_the_same_scene() -> None:
    calls: list[str] = []

    def enhancer(text: str) -> str:
        calls.append(f"enhance {text}")
        return text + "，电影感。"

    def translator(text: str, target: str) -> str:
        calls.append(f"{target} {text}")
        return "Cinematic shiba inu."

    off, en = apply_rewrites(
        plan([SHIBA], vary=[("translate", ["off", "en"])], enhance=True), enhancer, translator
    )
    assert calls == [f"enhance {SHIBA}", f"en {SHIBA}，电影感。"]  # one rewrite, then its translation
    assert (off.request.prompt, off.rewrite) == (SHIBA + "，电影感。", "enhance")
    assert (en.request.prompt, en.rewrite) == ("Cinematic shiba inu.", "enhance+translate:en")
    assert off.original_prompt == en.original_prompt == SHIBA


def test_the_magic_translates_shows_both_side_by_side_and_records_the_original(
    ip: InteractiveShell,  # noqa: F811
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    prompt = "一只柴犬 <b>在草地上奔跑</b>"
    with capture_output() as out:
        ip.run_cell_magic("cogvideo", "--translate en --wait", prompt)
    [job] = jobs_of(ip)
    assert job.status is JobStatus.SUCCEEDED
    assert (job.prompt, job.original_prompt, job.rewrite) == (
        "Shiba inu, grass, running.",
        prompt,
        "translate:en",
    )
    assert [t["prompt"] for t in emulator.stats()["tasks"]] == ["Shiba inu, grass, running."]
    shown = html_of(out)
    assert "cvnb-translate" in shown and "your prompt (Chinese)" in shown
    assert "translated into English (26 characters)" in shown
    assert "&lt;b&gt;在草地上奔跑&lt;/b&gt;" in shown and "<b>在草地上" not in shown  # escaped
    stored = Ledger(tmp_path / "out" / "ledger.sqlite").load(job.id)
    assert stored is not None and (stored.original_prompt, stored.rewrite) == (prompt, "translate:en")
    saved = job_html(stored)  # the saved card says where the prompt came from
    assert "translated from: 一只柴犬 &lt;b&gt;" in saved and "enhanced from" not in saved
    report = report_html([stored])
    assert '<summary class="meta">translated from</summary>一只柴犬 &lt;b&gt;' in report
    assert 'class="del"' not in report  # a translation strikes nothing: every word differs


def test_vary_translate_in_the_magic_puts_both_languages_in_a_grid(
    ip: InteractiveShell,  # noqa: F811
    emulator: Emulator,
) -> None:
    with capture_output() as out:
        ip.run_cell_magic("cogvideo", "--vary translate=off,en --wait", SHIBA)
    off, en = jobs_of(ip)
    assert (off.label, en.label) == ("translate=off (Chinese)", "translate=en (English)")
    assert (off.prompt, off.original_prompt) == (SHIBA, None)
    assert (en.prompt, en.original_prompt) == (SHIBA_EN, SHIBA)
    assert sorted(t["prompt"] for t in emulator.stats()["tasks"]) == sorted([SHIBA, SHIBA_EN])
    assert emulator.stats()["requests"]["chat"] == 1
    assert html_of(out).count("cvnb-translate") == 1  # the pair once, above the grid
    with pytest.raises(UsageError, match="translate takes en or zh"):
        ip.run_cell_magic("cogvideo", "--translate fr", SHIBA)
    with pytest.raises(UsageError, match="translate takes en or zh"):
        ip.run_cell_magic("cogvideo", "--vary translate=off,de", SHIBA)
    assert len(emulator.stats()["tasks"]) == 2 and emulator.stats()["requests"]["chat"] == 1  # nothing sent


def test_enhance_and_translate_in_the_magic(
    ip: InteractiveShell,  # noqa: F811
    emulator: Emulator,
) -> None:
    with capture_output() as out:
        ip.run_cell_magic("cogvideo", "--enhance --translate en --wait", SHIBA)
    [job] = jobs_of(ip)
    assert job.rewrite == "enhance+translate:en" and job.original_prompt == SHIBA
    assert prompt_language(job.prompt) == "en" and job.prompt.startswith(SHIBA_EN[:-1])
    assert emulator.stats()["requests"]["chat"] == 2  # the rewrite, then its translation
    assert "enhanced, then translated into English" in html_of(out)
    assert "enhanced and translated from: " + SHIBA in job_html(job)


def test_the_command_line_and_batch_translate(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZHIPUAI_API_KEY", "sk-translate-test")
    monkeypatch.setenv("ZHIPUAI_BASE_URL", emulator.base_url)
    monkeypatch.chdir(tmp_path)
    assert main(["--translate", "en", SHIBA, "--out", "cli"]) == 0
    assert f"prompt sent: {SHIBA_EN}" in capsys.readouterr().err
    assert main(["--translate", "en", SHIBA, "--out", "cli", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["prompt"], row["original_prompt"], row["rewrite"]) == (SHIBA_EN, SHIBA, "translate:en")
    batch = tmp_path / "prompts.txt"
    batch.write_text("a cat on the beach at sunset\n" + json.dumps({"prompt": "猫在海边"}) + "\n", "utf-8")
    assert main(["batch", str(batch), "--translate", "zh", "--out", "batch", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted((r["prompt"], r.get("rewrite")) for r in rows) == [
        ("猫在海边", None),  # already Chinese: sent as written
        ("猫，海滩，日落。", "translate:zh"),
    ]
    assert main([SHIBA, "--translate", "fr", "--out", "cli"]) == 1
    assert "translate takes en or zh (or off), not 'fr'" in capsys.readouterr().err
    assert emulator.stats()["requests"]["chat"] == 3  # the same-language line and the bad target sent nothing


def test_python_generate_and_generate_many_translate(emulator: Emulator, tmp_path: Path) -> None:
    settings = settings_for(emulator, tmp_path)
    job = cogvideo_nb.generate(SHIBA, translate="en", timeout=60, **settings)
    assert (job.prompt, job.original_prompt) == (SHIBA_EN, SHIBA)
    jobs = cogvideo_nb.generate_many(["a cat at the seaside", SHIBA], translate="zh", timeout=60, **settings)
    assert [j.prompt for j in jobs] == ["猫，海边。", SHIBA]
    enhanced = cogvideo_nb.generate(
        "a cat at the seaside", enhance=True, translate="zh", timeout=60, **settings
    )
    assert enhanced.rewrite == "enhance+translate:zh" and prompt_language(enhanced.prompt) == "zh"
    with pytest.raises(ValidationError, match="translate takes en or zh"):
        cogvideo_nb.generate(SHIBA, translate="jp", **settings)
    assert emulator.stats()["requests"]["chat"] == 4  # en, zh, enhance + zh


def test_the_form_has_a_translate_menu(engine: Engine, emulator: Emulator) -> None:
    form = PromptForm(engine)
    assert [v for _, v in form.translate.options] == ["", "en", "zh"]
    form.prompt.value = SHIBA
    form.translate.value = "en"
    form.submit.click()
    [card] = form.cards
    assert (card.job.prompt, card.job.original_prompt) == (SHIBA_EN, SHIBA)
    assert "cvnb-translate" in form.message.value and "translated into English" in form.message.value
    assert card.job.wait_done(30)
    zh = PromptForm(engine, language="zh")
    assert zh.translate.description == "翻译为"
    assert [label for label, _ in zh.translate.options] == ["不翻译", "英文", "中文"]


def test_the_words_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    off, en = plan([SHIBA], vary=[("translate", ["off", "en"])])
    assert (off.label, en.label) == ("translate=off（中文）", "translate=en（英文）")
    shown = rewrite_html(SHIBA, SHIBA_EN, "translate:en")
    assert "你的提示词（中文）" in shown and "翻译成英文（43 字）" in shown
    assert "先优化、再翻译成英文" in rewrite_html(SHIBA, SHIBA_EN, "enhance+translate:en")
    with pytest.raises(ValidationError, match="translate 只能是 en 或 zh"):
        plan([SHIBA], translate="fr")
