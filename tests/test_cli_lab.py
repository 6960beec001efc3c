"""``cogvideo lab``: the notebooks come from the installed package, user edits survive, root works;
``--lang`` (or the toolkit's language rule) picks the English or the Chinese set, and Chinese
notebooks get a Chinese toolkit (and Chinese JupyterLab menus when the language pack is there)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import httpx
import pytest

from cogvideo_nb._cli_lab import (
    NOTEBOOKS,
    ZH_UI_PACK,
    chinese_ui_settings,
    copy_notebooks,
    lab_command,
    lab_main,
)
from cogvideo_nb._i18n import t

TOKEN = "lab-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_copy_keeps_the_users_edits(lang: str, tmp_path: Path) -> None:
    import nbformat  # here, not at collection: with jsonschema it takes seconds to import

    copied, kept = copy_notebooks(tmp_path / "nbs", lang)
    assert [p.name for p in copied] == list(NOTEBOOKS) and kept == []
    for path in copied:  # real notebooks, not placeholders
        assert nbformat.read(path, as_version=4).cells
    mine = tmp_path / "nbs" / "quickstart.ipynb"
    mine.write_text("my own work")
    copied, kept = copy_notebooks(tmp_path / "nbs", "en" if lang == "zh" else "zh")  # nor by the other set
    assert copied == [] and len(kept) == len(NOTEBOOKS)
    assert mine.read_text() == "my own work"


def first_words(folder: Path) -> str:
    cell = json.loads((folder / "quickstart.ipynb").read_text("utf-8"))["cells"][0]
    return "".join(cell["source"])


def no_language(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("COGVIDEO_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)


def run_lab(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """The real `cogvideo lab` up to starting JupyterLab, which it finds missing: it has copied the
    notebooks and said so, then says how to install JupyterLab, in the language it chose."""
    monkeypatch.setitem(sys.modules, "jupyterlab", None)  # find_spec: not installed
    assert lab_main(argv) == 1
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "env", "lang"),
    [
        (["--lang", "zh"], {}, "zh"),
        ([], {"COGVIDEO_LANG": "zh"}, "zh"),  # the toolkit's language rule, no --lang
        ([], {"LANG": "zh_CN.UTF-8"}, "zh"),  # a Chinese machine
        (["--lang", "en"], {"COGVIDEO_LANG": "zh"}, "en"),  # --lang outranks everything
        ([], {}, "en"),
    ],
)
def test_lab_copies_the_notebooks_in_the_language_chosen(
    argv: list[str],
    env: dict[str, str],
    lang: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    no_language(monkeypatch)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    folder = tmp_path / "nbs"
    said = run_lab([*argv, "--dir", str(folder)], monkeypatch, capsys)
    assert sorted(p.name for p in folder.iterdir()) == sorted(NOTEBOOKS)  # same names, top level
    if lang == "zh":
        assert first_words(folder).startswith("# cogvideo_nb 快速上手")
        assert f"已复制  {folder / 'quickstart.ipynb'}" in said
        assert "错误：这里没有安装 JupyterLab；请用这个命令安装：pip install 'cogvideo_nb[lab]'" in said
    else:
        assert first_words(folder).startswith("# cogvideo_nb quick start")
        assert f"copied  {folder / 'quickstart.ipynb'}" in said
        assert "error: JupyterLab is not installed" in said


def test_lab_says_everything_in_chinese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_language(monkeypatch)
    folder = tmp_path / "nbs"
    run_lab(["--lang", "zh", "--dir", str(folder)], monkeypatch, capsys)
    said = run_lab(["--lang", "zh", "--dir", str(folder)], monkeypatch, capsys)
    assert f"已保留  {folder / 'quickstart.ipynb'}（文件已存在：你的副本保持原样）" in said
    with pytest.raises(SystemExit) as done:
        lab_main(["--lang", "zh", "--help"])
    shown = capsys.readouterr().out
    assert done.value.code == 0
    assert shown.startswith("用法：cogvideo lab") and t("show this help message and exit", "zh") in shown
    assert "笔记本放在哪个文件夹（默认 ./cogvideo_notebooks）" in shown and "--no-\n" not in shown
    columns = [
        sum(1 + (unicodedata.east_asian_width(c) in "WF") for c in line) for line in shown.splitlines()
    ]
    assert max(columns) <= 80  # argparse's default width; a Chinese character takes two columns
    monkeypatch.setenv("COGVIDEO_LANG", "zh")
    assert lab_main(["--lang", "fr"]) == 2
    assert "错误：--lang 只能是 en 或 zh，不能是“fr”" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        lab_main(["--dir"])
    assert "cogvideo lab：错误：参数 --dir：需要一个值" in capsys.readouterr().err
    monkeypatch.setenv("COGVIDEO_LANG", "fr")  # a bad setting is an error, said in English
    assert lab_main([]) == 2
    assert "error: bad value 'fr' for $COGVIDEO_LANG" in capsys.readouterr().err


def test_the_command_tells_jupyterlab_and_its_kernels_the_language(tmp_path: Path) -> None:
    base = {"PATH": "/bin", "COGVIDEO_LANG": "en"}
    cmd, env = lab_command(
        tmp_path, "quickstart.ipynb", ["--no-browser"], kernel_language="zh", app_settings_dir=tmp_path / "s",
        environ=base,
    )  # fmt: skip
    assert env == {"PATH": "/bin", "COGVIDEO_LANG": "zh"} and base["COGVIDEO_LANG"] == "en"
    assert f"--LabApp.app_settings_dir={tmp_path / 's'}" in cmd and cmd[-1] == "--no-browser"
    assert "--LabApp.default_url=/lab/tree/quickstart.ipynb" in cmd
    cmd, env = lab_command(tmp_path, "a b.ipynb", [], kernel_language=None, app_settings_dir=None, environ={})
    assert env == {} and not any("app_settings_dir" in c for c in cmd)
    assert "--LabApp.default_url=/lab/tree/a%20b.ipynb" in cmd


def test_chinese_menus_are_a_default_for_one_run_below_the_users_own_choice(tmp_path: Path) -> None:
    """Read back by jupyterlab_server itself: the copy keeps the deployment's settings, adds the
    zh_CN default, and a deployment's own language default still wins."""
    from jupyterlab_server.settings_utils import _get_overrides

    real = tmp_path / "app" / "settings"
    (real / "overrides.d").mkdir(parents=True)
    (real / "page_config.json").write_text('{"disabledExtensions": {"x": true}}')
    theme = {"@jupyterlab/apputils-extension:themes": {"theme": "Dark"}}
    (real / "overrides.d" / "theme.json").write_text(json.dumps(theme))
    (tmp_path / "app" / "static").mkdir()
    (tmp_path / "app" / "static" / "package.json").write_text('{"jupyterlab": {}}')
    into = tmp_path / "run"
    settings = chinese_ui_settings(into, real)
    assert settings == into / "settings" and (settings / "page_config.json").exists()
    assert (into / "static" / "package.json").exists()  # read from beside the settings folder
    overrides, error = _get_overrides(str(settings))
    assert error == "" and overrides == {
        **theme,
        "@jupyterlab/translation-extension:plugin": {"locale": "zh_CN"},
    }
    (real / "overrides.json").write_text('{"@jupyterlab/translation-extension:plugin": {"locale": "en"}}')
    overrides, _ = _get_overrides(str(chinese_ui_settings(into, real)))  # made anew each run
    assert overrides["@jupyterlab/translation-extension:plugin"] == {"locale": "en"}
    assert sorted(p.name for p in real.rglob("*")) == ["overrides.d", "overrides.json", "page_config.json",
                                                       "theme.json"]  # fmt: skip


def start_lab(
    folder: Path, tmp_path: Path, *args: str, **env_vars: str
) -> tuple[subprocess.Popen[str], int, Path]:
    """Run the real command; a recording 'browser' tells which page JupyterLab opened, and which
    COGVIDEO_LANG the server (and so its kernels) got."""
    port = free_port()
    opened = tmp_path / f"opened-{port}.txt"
    recorder = tmp_path / "browser.py"
    recorder.write_text(
        "import os, sys\n"
        f"open({str(opened)!r}, 'a').write(sys.argv[1] + '\\n')\n"
        f"open({str(opened)!r} + '.lang', 'w').write(os.environ.get('COGVIDEO_LANG', '-'))\n"
    )
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
        **env_vars,
    }
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "cogvideo_nb", "lab", *args, "--dir", str(folder), "--port", str(port),
            f"--IdentityProvider.token={TOKEN}", "--ServerApp.use_redirect_file=False",
            f"--ServerApp.browser={sys.executable} {recorder} %s",
        ],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return proc, port, opened


def wait_for(check: object, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if callable(check) and check():
            return
        time.sleep(0.25)
    raise AssertionError("timed out")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_lab_opens_the_copied_quickstart_and_keeps_edits_across_runs(tmp_path: Path) -> None:
    """CI runs as root: JupyterLab refuses root unless the command adds --allow-root."""
    import nbformat

    folder = tmp_path / "my notebooks"
    for run in (1, 2):
        proc, port, opened = start_lab(folder, tmp_path)
        try:
            wait_for(lambda: opened.exists() and opened.read_text().strip())  # noqa: B023
            url = opened.read_text().strip()
            assert url.startswith(f"http://localhost:{port}/lab/tree/quickstart.ipynb"), url
            r = httpx.get(
                f"http://127.0.0.1:{port}/api/contents/quickstart.ipynb", params={"token": TOKEN}, timeout=10
            )
            r.raise_for_status()
            served = r.json()["content"]
            if run == 1:
                assert served["cells"][0]["source"].startswith("# ")  # the shipped quickstart
                nb = nbformat.read(folder / "quickstart.ipynb", as_version=4)
                nb.cells.insert(0, nbformat.v4.new_markdown_cell("my note, keep me"))
                nbformat.write(nb, folder / "quickstart.ipynb")
            else:
                assert served["cells"][0]["source"] == "my note, keep me"
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
        assert ("kept" in out) is (run == 2), out


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_lab_in_chinese_starts_jupyterlab_speaking_chinese(tmp_path: Path) -> None:
    """`cogvideo lab --lang zh`: the Chinese quickstart is served, the server's environment (which
    its kernels inherit) says COGVIDEO_LANG=zh, and with the language pack importable (a stand-in
    here: JupyterLab finds real packs by entry point, so the stand-in changes nothing else)
    JupyterLab's translation setting defaults to zh_CN for this run."""
    pack = tmp_path / "pack"
    (pack / ZH_UI_PACK).mkdir(parents=True)
    (pack / ZH_UI_PACK / "__init__.py").write_text("")
    folder = tmp_path / "nbs"
    proc, port, opened = start_lab(folder, tmp_path, "--lang", "zh", PYTHONPATH=str(pack))
    try:
        wait_for(lambda: opened.exists() and opened.read_text().strip())
        assert Path(f"{opened}.lang").read_text() == "zh"
        server = f"http://127.0.0.1:{port}"
        r = httpx.get(f"{server}/api/contents/quickstart.ipynb", params={"token": TOKEN}, timeout=10)
        assert r.json()["content"]["cells"][0]["source"].startswith("# cogvideo_nb 快速上手")
        plugin = "@jupyterlab/translation-extension:plugin"
        r = httpx.get(f"{server}/lab/api/settings/{plugin}", params={"token": TOKEN}, timeout=10)
        assert r.json()["schema"]["properties"]["locale"]["default"] == "zh_CN"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "已复制" in out and "JupyterLab 自身的菜单也是中文" in out and "正在启动 JupyterLab" in out, out
