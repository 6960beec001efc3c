"""The message catalogue: every word in English and Simplified Chinese, chosen by one rule."""

from __future__ import annotations

import ast
import gettext
import io
import os
import re
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

import cogvideo_nb
from cogvideo_nb import Engine
from cogvideo_nb._config import set_overrides
from cogvideo_nb._cost import PRICE_HINT
from cogvideo_nb._html import LINKED_ROOT, OUTSIDE_ROOT
from cogvideo_nb._i18n import DOMAIN, LOCALE_DIR, REASONS, language, set_page_language, t
from cogvideo_nb._models import OPTIONS
from cogvideo_nb.magic_commands import config_text
from cogvideo_nb.widgets import CompareGrid, JobCard
from cogvideo_nb.widgets._form import _NOTE, CONFIRM, GENERATE, PARTS, PromptForm, assemble, saved_form
from cogvideo_nb.widgets._words import STATUS_WORDS, messages_in

PACKAGE = Path(cogvideo_nb.__file__).parent
PO = LOCALE_DIR / "zh" / "LC_MESSAGES" / f"{DOMAIN}.po"
_SLOTS = re.compile(r"\{(\w*)\}")


def used_messages() -> set[str]:
    """Every message the toolkit says: t("...") in Python, T("...") in page code, and the
    messages held in constants (form parts, statuses, the language's reasons, the request
    options' help that the magic's and the command line's flags show)."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):  # every t("...") call, however its literal is written
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("t", "tn", "N_")
            ):
                said = node.args[: 2 if node.func.id == "tn" else 1]  # tn: singular and plural
                found |= {a.value for a in said if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    for path in PACKAGE.rglob("*.js"):
        found |= set(messages_in(path.read_text("utf-8")))
    for name, hint, example in PARTS:
        found |= {name.capitalize(), hint, example}
    constants = {GENERATE, CONFIRM, _NOTE, OUTSIDE_ROOT, LINKED_ROOT, PRICE_HINT}
    constants |= {option.help for option in OPTIONS.values()}
    return found | set(STATUS_WORDS) | set(REASONS) | constants


def test_every_message_has_both_languages_and_the_same_placeholders() -> None:
    catalog = read_po(PO.open("rb"))
    zh: dict[str, list[str]] = {}  # every English form (a plural's two) -> its Chinese forms
    for m in catalog:
        if not m.id:
            continue
        assert m.string and not m.fuzzy, f"untranslated: {m.id!r}"
        forms = list(m.string) if isinstance(m.string, tuple) else [str(m.string)]
        for said in m.id if isinstance(m.id, tuple) else [m.id]:
            zh[str(said)] = forms
    missing = sorted(used_messages() - set(zh))
    assert missing == [], f"no Chinese for: {missing}"
    for said, forms in zh.items():
        for shown in forms:
            assert all(f.strip() for f in forms), f"untranslated: {said!r}"
            assert sorted(_SLOTS.findall(said)) == sorted(_SLOTS.findall(shown)), said
    unused = sorted(set(zh) - used_messages())
    assert unused == [], f"in the catalogue but never said: {unused}"


def test_each_message_is_in_the_catalogue_once() -> None:
    """Babel keeps the last of two entries with one msgid silently: a merge that brings the same
    message twice would make one translation win by its place in the file."""
    ids = re.findall(r'^msgid ((?:".*"\n)+)', PO.read_text("utf-8"), re.M)
    twice = sorted({i for i in ids if ids.count(i) > 1})
    assert twice == [], twice


def test_the_shipped_mo_is_the_po_compiled() -> None:
    """The .mo is what runs: one compiled from an older .po would show stale or missing words."""
    buf = io.BytesIO()
    write_mo(buf, read_po(PO.open("rb")))
    buf.seek(0)
    fresh = gettext.GNUTranslations(buf)
    shipped = gettext.translation(DOMAIN, LOCALE_DIR, languages=["zh"])
    words = {k: v for k, v in shipped._catalog.items() if k}  # type: ignore[attr-defined]
    assert words == {k: v for k, v in fresh._catalog.items() if k}, "run scripts/i18n.sh"  # type: ignore[attr-defined]


def test_which_language_explicit_then_config_then_env_then_page_then_lab_then_locale(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import ipykernel  # in sys.modules, as in a kernel: the Lab setting counts there

    for var in ("COGVIDEO_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(tmp_path))
    set_page_language(None)
    assert language() == ("en", REASONS[4])
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert language() == ("zh", REASONS[3])
    setting = tmp_path / "@jupyterlab" / "translation-extension" / "plugin.jupyterlab-settings"
    setting.parent.mkdir(parents=True)
    setting.write_text('{\n  // Language\n  "locale": "default"\n}')  # JSON5, as Lab writes it
    assert language() == ("zh", REASONS[3])  # "default" is the server's language: the locale decides
    setting.write_text('{\n  // Language\n  "locale": "en_US"\n}')
    os.utime(setting, (1, 1))  # read again when it changes (by its mtime), not once per process
    assert language() == ("en", REASONS[2])  # Lab set to English outranks the kernel's locale
    monkeypatch.delitem(sys.modules, "ipykernel")
    assert language() == ("zh", REASONS[3])  # a terminal (the CLI) has no page: the locale
    monkeypatch.setitem(sys.modules, "ipykernel", ipykernel)
    set_page_language("zh-CN")
    try:
        assert language() == ("zh", REASONS[1])  # what the page is shown in outranks its setting
        monkeypatch.setenv("COGVIDEO_LANG", "en")
        assert language() == ("en", REASONS[0])
        set_overrides(language="zh")  # %config CogVideoMagics.language
        assert language() == ("zh", REASONS[0])
        assert language("en") == ("en", REASONS[0])  # an argument outranks everything
    finally:
        set_page_language(None)
        set_overrides(language=None)
    # a bad language cannot be said in itself: it is said in the one it falls back to, the
    # page's, Lab's or (here) the kernel's locale's
    setting.unlink()
    with pytest.raises(cogvideo_nb.ConfigError, match="必须是 en 或 zh"):
        language("fr")
    monkeypatch.setenv("LANG", "C.UTF-8")
    with pytest.raises(cogvideo_nb.ConfigError, match="en or zh"):
        language("fr")


def test_the_form_joins_chinese_parts_the_chinese_way() -> None:
    parts = {"subject": "一只柴犬", "motion": "在草地上奔跑。", "scene": "公园草坪，",
             "light": "阳光明媚，蓝天", "style": "慢镜头，电影感"}  # fmt: skip
    assert assemble(parts) == "一只柴犬，在草地上奔跑，公园草坪，阳光明媚，蓝天，慢镜头，电影感。"
    assert assemble({"subject": "a red fox.", "motion": "trots"}) == "A red fox, trots."
    assert assemble({"subject": "一只柴犬", "style": "cinematic"}) == "一只柴犬，cinematic."
    assert assemble({}) == ""


def test_the_form_speaks_the_language_in_force(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    form = PromptForm()
    assert [f.description for f in form.fields.values()] == ["主体", "动作", "场景", "光线/氛围", "风格"]
    assert form.submit.description == "生成" and form.prompt.description == "提示词"
    assert form.counter.value.endswith("0 / 512 字</small>")
    assert "运行这个单元格" in saved_form(form.lang)["text/plain"]
    assert PromptForm(language="en").submit.description == "Generate"


def test_page_words_come_from_the_catalogue_not_from_literals() -> None:
    """Page code shows no word of its own: every text, title and placeholder goes through T()."""
    modules = sorted((PACKAGE / "widgets").glob("*.js"))
    assert {"_card.js", "_grid.js", "_gallery.js"} <= {p.name for p in modules}
    for path in modules:
        source = path.read_text("utf-8")
        literal = re.findall(r"""(?:textContent|title|placeholder)\s*[+]?=\s*["'`][A-Za-z]""", source)
        as_text = re.findall(r'cvnbNode\("[a-z]+", "?[^",]*"?, "[A-Za-z]', source)
        assert literal == [] and as_text == [], (path.name, literal, as_text)
        assert all(t(m, "zh") != m for m in messages_in(source)), path.name


def test_english_stays_english() -> None:
    assert all(t(m, "en") == m for m in used_messages())


def test_a_card_and_a_grid_carry_their_words_in_the_language_in_force(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    jobs = [engine.submit("一只柴犬在草地上奔跑，阳光明媚，蓝天"), engine.submit("一只柴犬在雪地上奔跑")]
    card = JobCard(jobs[0], engine)
    card_js = (PACKAGE / "widgets" / "_card.js").read_text("utf-8")
    assert set(messages_in(card_js)) | set(STATUS_WORDS) == set(card.text)  # every word it shows
    assert card.text["Stop waiting"] == "停止等待" and card.text["stopped waiting"] == "已停止等待"
    grid = CompareGrid(jobs, engine)
    assert grid.controls.text["Play all"] == "全部播放" and grid.title == "2 个对比"
    assert all(j.wait_done(30) for j in jobs)


def test_a_view_tells_the_kernel_its_pages_language(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A card or grid view reports <html lang> (JupyterLab in Chinese: "zh-CN"): the view's words
    turn Chinese, and so does what the kernel says next, over its locale but under a choice."""
    from cogvideo_nb.widgets._bridge import BRIDGE

    monkeypatch.delenv("COGVIDEO_LANG", raising=False)
    jobs = [engine.submit("a red fox"), engine.submit("a grey fox")]
    card, grid = JobCard(jobs[0], engine), CompareGrid(jobs, engine)
    assert card.text["Stop waiting"] == "Stop waiting"
    try:
        card._handle_custom_msg({"page_language": "zh-CN"}, [])  # what the page's comm delivers
        BRIDGE.flush()
        assert card.text["Stop waiting"] == "停止等待" and language()[0] == "zh"
        assert t("{n} to compare", n=2) == "2 个对比"  # the kernel's next words
        set_page_language(None)
        grid.controls._handle_custom_msg({"page_language": "en"}, [])
        BRIDGE.flush()
        assert grid.controls.text["Play all"] == "Play all" and language() == ("en", REASONS[1])
        monkeypatch.setenv("COGVIDEO_LANG", "zh")  # a choice outranks the page
        card._handle_custom_msg({"page_language": "en-US"}, [])
        BRIDGE.flush()
        assert card.text["Stop waiting"] == "停止等待"
    finally:
        set_page_language(None)
    assert all(j.wait_done(30) for j in jobs)


def test_config_says_which_language_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("COGVIDEO_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    assert "language: en (the default)" in config_text()
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    said = config_text()
    assert "界面语言：zh（已指定" in said and "平台：" in said and "API Key：未设置" in said


def test_a_saved_card_and_grid_are_written_in_the_language_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cogvideo_nb._html import grid_html, job_html

    from .test_html import _done

    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    card = job_html(_done(tmp_path / "a"))
    assert "已完成" in card and "保存在" in card and "模拟" not in card  # not emulated: no badge
    grid = grid_html([_done(tmp_path / "b"), _done(tmp_path / "c", prompt="一只柴犬")], title="2 个对比")
    assert "全部播放" in grid and "Play all" not in grid
    monkeypatch.setenv("COGVIDEO_LANG", "en")
    assert "succeeded" in job_html(_done(tmp_path / "d")) and "saved at" in job_html(_done(tmp_path / "d"))


def test_the_command_line_speaks_chinese_when_asked(tmp_path: Path) -> None:
    """`python -m cogvideo_nb "一只柴犬在草地上奔跑"` and `cogvideo batch` under COGVIDEO_LANG=zh."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COGVIDEO_LANG": "zh", "COGVIDEO_EMULATOR_SECONDS": "0.3"}
    env = {k: v for k, v in env.items() if not k.startswith(("ZHIPUAI_", "ZAI_"))}
    run = [sys.executable, "-m", "cogvideo_nb"]
    one = subprocess.run(
        [*run, "一只柴犬在草地上奔跑"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert one.returncode == 0, one.stderr
    assert "内置模拟器" in one.stderr and one.stdout.startswith("视频：") and "[模拟]" in one.stdout
    (tmp_path / "prompts.txt").write_text("一只柴犬在雪地上奔跑\n", "utf-8")
    batch = subprocess.run(
        [*run, "batch", "prompts.txt"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert batch.returncode == 0, batch.stderr
    assert "1 已完成，用时" in batch.stderr and "（模拟：未设置 API Key）" in batch.stderr
    assert batch.stdout.startswith("完成")


def test_the_magic_says_its_errors_and_notes_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "cogvideo_nb")
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    with pytest.raises(UsageError, match="单元格是空的"):
        shell.run_cell_magic("cogvideo", "", "   ")
    with pytest.raises(UsageError, match="请给出任务编号"):
        shell.run_line_magic("cogvideo", "stop")
    with capture_output() as out:
        shell.run_line_magic("cogvideo", "config")
    assert "界面语言：zh" in out.stdout


def test_the_cost_guard_asks_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    from cogvideo_nb import build_request
    from cogvideo_nb._cost import PaidJobsError, check_cost

    paid = [build_request("一只柴犬", model="cogvideox-3")] * 2
    with pytest.raises(PaidJobsError, match=r"this would start 2 paid jobs \(2 x cogvideox-3"):
        check_cost(paid, yes=False, how="add --yes")
    with pytest.raises(PaidJobsError, match=r"this would start 1 paid job \(1 x"):
        check_cost(paid[:1], yes=False, how="add --yes")
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    with pytest.raises(
        PaidJobsError, match="这将启动 2 个付费任务（2 x cogvideox-3；每个视频约 1 元）；如确认，请加上 --yes"
    ):
        check_cost(paid, yes=False, how="add --yes")


def test_command_line_help_and_usage_errors_speak_chinese(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cogvideo --help`, `cogvideo batch` without its file and the emulator's help, under zh."""
    from cogvideo_nb.__main__ import main
    from cogvideo_nb.emulator.__main__ import main as emulator_main

    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith("用法：cogvideo [-h]")
    for message in ("one or more prompts (each becomes one video)", "show this help message and exit"):
        assert t(message, "zh") in out
    assert t("frames per second", "zh") + "；可选值（因模型而异）：30, 60" in out  # an option's values
    assert "位置参数" in out and "options" not in out and "prompts (each" not in out
    with pytest.raises(SystemExit) as done:
        main(["batch"])
    err = capsys.readouterr().err
    said = t("the following arguments are required: {names}", "zh", names="file")
    assert done.value.code == 2 and err.endswith(f"cogvideo batch：错误：{said}\n") and "用法：" in err
    with pytest.raises(SystemExit):
        emulator_main(["--help"])
    out = capsys.readouterr().out
    assert "CogVideoX 异步视频 API 的本地模拟器" in out and t("0 picks a free port (default)", "zh") in out
    monkeypatch.setenv("COGVIDEO_LANG", "fr")  # a bad choice of language is said once, not a traceback
    assert main(["--help"]) == 2
    assert capsys.readouterr().err.startswith("error: bad value 'fr' for $COGVIDEO_LANG")


def test_a_bad_batch_file_is_said_in_chinese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cogvideo_nb.__main__ import main

    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    monkeypatch.chdir(tmp_path)
    Path("p.txt").write_text('一只柴犬在雪地上奔跑\n{"prompt": "一只猫", "colour": "red"}\n', "utf-8")
    assert main(["batch", "p.txt"]) == 1
    err = capsys.readouterr().err
    options = t("unknown option {name}; options: {options}", "zh", name="'colour'", options="prompt, ")
    assert err.startswith(t("error: {error}", "zh", error=f"p.txt:2: {options}"))
    assert err.startswith("错误：p.txt:2: 未知选项 'colour'；可用选项：prompt, ")
    Path("p.txt").write_bytes(b"a fox\n\xff\n")
    assert main(["batch", "p.txt"]) == 1
    assert "p.txt:2：不是有效的 UTF-8（第 1 列的字节 0xff）" in capsys.readouterr().err
    assert main(["batch", "none.txt"]) == 1
    assert capsys.readouterr().err.startswith("错误：无法读取 none.txt：")
    assert not (tmp_path / "cogvideo_outputs").exists()  # nothing was sent, no engine was made


def test_argparse_words_it_does_not_know_stay_as_argparse_said_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from cogvideo_nb._i18n_argparse import Lazy, argparse_message

    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    assert argparse_message("not allowed with argument --x") == "not allowed with argument --x"
    assert argparse_message("argument --n: invalid int value: 'x'") == "参数 --n：无效的 int 值：'x'"
    said = Lazy("{help}; one of: {values} (per model)", help=Lazy("frames per second"), values="30, 60")
    assert said == "frames per second; one of: 30, 60 (per model)"  # English until it is said
    assert said.now() == "帧率（每秒帧数）；可选值（因模型而异）：30, 60"


def test_a_refused_request_says_why_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    from cogvideo_nb import ValidationError, build_request

    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    with pytest.raises(ValidationError) as refused:
        build_request(model="cogvideox-3", prompt="一只柴犬", fps=24)
    said = refused.value.message
    assert said == t(
        "{name} {value} is not allowed for {model}; choose one of: {choices}",
        "zh", name="fps", value="24", model="cogvideox-3", choices="30, 60",
    )  # fmt: skip
    assert said == "cogvideox-3 不支持 fps 24；可选值：30, 60" and refused.value.field == "fps"
    with pytest.raises(ValidationError, match="viduq1-image 需要一张首帧图片"):
        build_request("一只柴犬", model="viduq1-image")
    with pytest.raises(ValidationError, match="提示词有 600 个字符；cogvideox-flash 最多接受 512 个"):
        cogvideo_nb.Client().submit("狗" * 600)  # refused before anything is sent or started
    monkeypatch.setenv("COGVIDEO_LANG", "en")
    with pytest.raises(
        ValidationError, match=r"fps 24 is not allowed for cogvideox-3; choose one of: 30, 60"
    ):
        build_request(model="cogvideox-3", prompt="a fox", fps=24)


def test_a_bad_setting_is_refused_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    from cogvideo_nb._config import resolve_settings

    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    with pytest.raises(cogvideo_nb.ConfigError) as refused:
        resolve_settings(concurrency="many")
    reason = t("must be a whole number", "zh")
    assert refused.value.message == f"concurrency 的值 'many' 无效：{reason}" and reason == "必须是整数"
    monkeypatch.setenv("COGVIDEO_CONCURRENCY", "0")
    with pytest.raises(cogvideo_nb.ConfigError, match=r"\$COGVIDEO_CONCURRENCY 的值 '0' 无效：至少为 1"):
        resolve_settings()
    with pytest.raises(cogvideo_nb.ConfigError, match="api_key 中含有空白或控制字符（不显示 Key 本身）"):
        resolve_settings(api_key="sk one\ttwo", concurrency=2)
    with pytest.raises(cogvideo_nb.ConfigError, match="未知设置：colour"):
        resolve_settings(colour="red")
    monkeypatch.setenv("COGVIDEO_LANG", "en")
    with pytest.raises(
        cogvideo_nb.ConfigError, match=r"bad value '0' for \$COGVIDEO_CONCURRENCY: must be at least 1"
    ):
        resolve_settings()


def test_download_and_ledger_errors_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from cogvideo_nb import DownloadError, ValidationError
    from cogvideo_nb._files import accept
    from cogvideo_nb._ledger import Ledger

    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    with pytest.raises(DownloadError, match=r"结果地址被拒绝（HTTP 410）；可能已过期"):
        accept(httpx.Response(410), "video", 1 << 20)
    kind = {"content-type": "text/html"}
    with pytest.raises(DownloadError, match="应为视频文件，但服务端发送的是 'text/html'"):
        accept(httpx.Response(200, headers=kind), "video", 1 << 20)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        with pytest.raises(ValidationError, match="任务账本中没有任务 'cvnb-nope'"):
            ledger.rate("cvnb-nope", 3)
        monkeypatch.setenv("COGVIDEO_LANG", "en")
        with pytest.raises(ValidationError, match="no job 'cvnb-nope' in the ledger"):
            ledger.rate("cvnb-nope", 3)
    finally:
        ledger.close()


def test_the_study_report_is_written_in_the_language_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cogvideo_nb import Job, JobStatus, build_request
    from cogvideo_nb._report import enhance_html, write_report

    jobs = [
        Job(request=build_request("一只柴犬在草地上奔跑"), status=JobStatus.FAILED, error="服务端拒绝"),
        Job(request=build_request("一只柴犬在雪地上奔跑"), status=JobStatus.DETACHED, rating=4),
    ]
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    text = write_report(jobs, tmp_path / "zh.html").read_text("utf-8")
    assert '<html lang="zh">' in text and "<title>提示词研究</title>" in text
    for heading in ("提示词", "生成次数", "平均评分"):
        assert f"<th>{heading}</th>" in text
    assert t("not rated", "zh") in text and "已停止等待" in text and "2 次生成 · 写于" in text
    assert "高亮的词是各提示词之间不同的地方" in text and "Prompt study" not in text
    assert "<title>我的研究</title>" in write_report(jobs, tmp_path / "own.html", title="我的研究").read_text(
        "utf-8"
    )
    assert "你的提示词" in enhance_html("一只柴犬", "一只柴犬在草地上奔跑")
    monkeypatch.setenv("COGVIDEO_LANG", "en")
    text = write_report(jobs, tmp_path / "en.html").read_text("utf-8")
    assert "<title>Prompt study</title>" in text and "<th>mean rating</th>" in text and "not rated" in text
    assert "2 runs · written" in text and "提示词研究" not in text


_WORDS = re.compile(r"[A-Za-z]{2,}")
_SAID_BY = ("print", "write", "warn", "exit")  # and every exception: what a person reads
_CODE_ERRORS = ("TypeError", "AttributeError", "NotImplementedError")  # Python API misuse: code
_SAID_AS = ("help", "description", "epilog", "usage", "message")


def _worded(node: ast.expr) -> bool:
    """A literal (or an f-string's literal parts) with words in it: text written in English."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(_WORDS.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_worded(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):
        return _worded(node.left) or _worded(node.right)
    return False


def test_no_user_facing_string_bypasses_the_catalogue() -> None:
    """Every error, printed line and option help the toolkit says is a t()/tn()/N_() message or
    built from them: a literal sentence handed straight to an exception, print() or help= would
    stay English whatever the language. Numbers, ids and paths in f-strings with no words pass."""
    bypassed = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            said = [k.value for k in node.keywords if k.arg in _SAID_AS]
            if (name.endswith(("Error", "Exception")) and name not in _CODE_ERRORS) or name in _SAID_BY:
                said += node.args[:1]
            bypassed += [
                f"{path.relative_to(PACKAGE)}:{node.lineno} {ast.unparse(s)[:80]}" for s in said if _worded(s)
            ]
    assert bypassed == [], "\n".join(bypassed)


def test_a_note_the_code_reads_is_said_where_it_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resumed job's note stays the catalogue's English in the job (the scheduler reads it) and
    is said in the language in force on the card and the saved card; a note of other text is
    shown as written."""
    from cogvideo_nb import Job, JobStatus, build_request
    from cogvideo_nb._html import job_html
    from cogvideo_nb._scheduler import RESUMED

    job = Job(request=build_request("一只柴犬"), status=JobStatus.RUNNING, note=RESUMED)
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    assert job.note == "resumed" and t(RESUMED, "zh") in job_html(job) and ">resumed<" not in job_html(job)
    assert JobCard._light(job)["note"] == t(RESUMED, "zh")
    job.note = "封面无法获取"
    assert JobCard._light(job)["note"] == "封面无法获取"
