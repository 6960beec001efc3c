"""Fixtures for the browser tests: one JupyterLab server, Debian's chromium, one notebook per test.

The server runs on a free loopback port with its own config, data (user level only: the system
data dir sys.prefix/share/jupyter, where the widget and anywidget lab extensions live, stays on
the path), runtime and IPython folders, a token, and the bundled emulator (no API key in its
environment; emulator state in a temp dir, fast fixed task times). Each test gets a notebook
in its own folder (so its own ``cogvideo_outputs/ledger.sqlite``), opened in a fresh workspace
so JupyterLab does not reopen other tests' tabs.

The server is session-scoped (one per pytest process: under xdist, one per worker that runs
browser tests; starting one costs seconds of CPU). The browser is module-scoped, not
session-scoped: while Playwright's sync API is open it keeps an event loop on the main thread,
which would break the pytest-asyncio tests that run after this folder in the same session.

Under xdist the browser modules run as two groups of about two minutes each (BROWSER_1 and
BROWSER_2), so two chromium + JupyterLab stacks run at a time, not five on two cores.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
VIEWPORT = {"width": 1400, "height": 1000}

# xdist groups: each runs on one worker, its modules one after another on that worker's server.
BROWSER_1 = pytest.mark.xdist_group("browser-1")  # test_lab, test_media, test_report, test_theme, test_voila,
# test_every_path; then tests/test_chaos.py, which must not run beside two browser stacks
BROWSER_2 = pytest.mark.xdist_group("browser-2")  # test_saved, test_study_ui, test_form, test_nb7,
# test_symlinked_root

# Settings that would point the kernel at the real service or another output folder.
_DROP_PREFIXES = ("ZHIPUAI_", "ZAI_", "COGVIDEO_")
_DROP_VARS = (
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_CONFIG_PATH",
    "JUPYTER_DATA_DIR",
    "JUPYTER_RUNTIME_DIR",
    "JUPYTER_TOKEN",
    "JUPYTER_PLATFORM_DIRS",
    "JUPYTERLAB_SETTINGS_DIR",
    "IPYTHONDIR",
)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so fixtures can tell a failed test at teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text("utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Lab:
    """A running JupyterLab server."""

    proc: subprocess.Popen[bytes]
    port: int
    token: str
    root: Path
    base: Path
    log: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, nb_path: str, workspace: str) -> str:
        # A new workspace plus ?reset: JupyterLab would otherwise reopen the last tabs.
        return f"{self.origin}/lab/workspaces/{workspace}/tree/{nb_path}?reset&token={self.token}"

    def api(self, method: str, path: str) -> Any:
        req = urllib.request.Request(
            f"{self.origin}/api/{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def close_sessions(self, nb_path: str) -> None:
        """Shut down the kernel of one notebook (frees CPU for the next test)."""
        try:
            for session in self.api("GET", "sessions"):
                if session.get("path") == nb_path:
                    self.api("DELETE", f"sessions/{session['id']}")
        except (OSError, urllib.error.URLError, ValueError):
            pass


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; never a browser downloaded by ``playwright install``."""
    if not Path(CHROMIUM).exists():
        msg = (
            f"{CHROMIUM} is missing: the browser tests drive Debian's chromium "
            "(apt-get install chromium), never a browser downloaded by playwright"
        )
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return CHROMIUM


@pytest.fixture(scope="session")
def lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with serve_lab(tmp_path_factory.mktemp("jupyterlab")) as server:
        yield server


@contextlib.contextmanager
def serve_lab(base: Path, *, link_root: bool = False) -> Iterator[Lab]:
    """A JupyterLab server of its own in ``base`` (a module that needs a fresh one overrides
    ``lab`` with this: a first page of another kind, a theme setting nobody else should see).
    ``link_root``: the server's root is a symlink to the real folder."""
    root, config, data, runtime, ipython, emulator = (
        base / n for n in ("root", "config", "data", "runtime", "ipython", "emulator-state")
    )
    for d in (config, data, runtime, ipython, emulator):
        d.mkdir()
    if link_root:
        (base / "real-root").mkdir()
        root.symlink_to(base / "real-root", target_is_directory=True)
    else:
        root.mkdir()
    # No news toast over the notebook, no update checks (nothing here should reach the network).
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}), "utf-8"
    )

    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES) and k not in _DROP_VARS}
    env.update(
        JUPYTER_CONFIG_DIR=str(config),
        # Only the user-level data dir moves; sys.prefix/share/jupyter (lab extensions,
        # kernelspecs) is still on jupyter's path.
        JUPYTER_DATA_DIR=str(data),
        JUPYTER_RUNTIME_DIR=str(runtime),
        IPYTHONDIR=str(ipython),
        COGVIDEO_EMULATOR_STATE=str(emulator),
        COGVIDEO_EMULATOR_SECONDS="4",
        COGVIDEO_EMULATOR_RENDER_FPS="8",
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    )
    port = _free_port()
    token = uuid.uuid4().hex
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LanguageServerManager.autodetect=False",
    ]  # fmt: skip
    log = base / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    server = Lab(proc=proc, port=port, token=token, root=root, base=base, log=log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{_tail(log)}", pytrace=False)
            try:
                server.api("GET", "status")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer within 90 s:\n{_tail(log)}", pytrace=False)
                time.sleep(0.25)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()  # jupyter_server shuts its kernels down on SIGTERM
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        # Under xdist two workers have a server each: name the logs by worker.
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        prefix = f"browser-{worker}-" if worker else "browser-"
        for name in ("server.log", "emulator-state/emulator.log"):
            if (base / name).exists():
                ARTIFACTS.mkdir(exist_ok=True)
                shutil.copy(base / name, ARTIFACTS / f"{prefix}{Path(name).name}")


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# -- one notebook in one page --------------------------------------------------------------------

_PROMPT_JS = """([i]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const p = cell && cell.querySelector('.jp-InputPrompt');
  return p ? p.textContent.trim() : null;
}"""
_KERNEL_JS = """() => {
  const e = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
  return e ? e.dataset.status : null;
}"""
_READY_JS = """() => {  // (Lab in English or, with its language pack, in Chinese)
  const e = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const bar = Array.from(document.querySelectorAll('.jp-StatusBar-TextItem')).map((n) => n.textContent);
  return !!e && e.dataset.status === 'idle' && bar.some((t) => /\\|\\s*(Idle|空闲)\\s*$/.test(t));
}"""
_RAN_JS = """([i]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  const p = cell && cell.querySelector('.jp-InputPrompt');
  const e = document.querySelector('.jp-Notebook-ExecutionIndicator');
  return !!p && /^\\[\\d+\\]:$/.test(p.textContent.trim()) && !!e && e.dataset.status === 'idle';
}"""


@dataclass
class Notebook:
    """A notebook written into the server's root and open in its own page."""

    lab: Lab
    page: Any
    scenario: str
    path: str = ""
    console: list[str] = field(default_factory=list)

    def open(self, *sources: str) -> Notebook:
        import nbformat  # here, not at collection: with jsonschema it takes seconds to import

        nb = nbformat.v4.new_notebook()
        # A kernelspec, so JupyterLab starts python3 at once instead of asking which kernel.
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        nb.metadata["language_info"] = {"name": "python"}
        nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
        folder = self.lab.root / self.scenario
        folder.mkdir(exist_ok=True)
        nbformat.write(nb, folder / f"{self.scenario}.ipynb")
        self.path = f"{self.scenario}/{self.scenario}.ipynb"
        self.page.goto(self.lab.url(self.path, f"{self.scenario}-{uuid.uuid4().hex[:8]}"))
        self.page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        self.wait_kernel_ready()
        return self

    def wait_kernel_ready(self, timeout: float = 60) -> None:
        self.page.wait_for_function(_READY_JS, timeout=timeout * 1000, polling=100)

    def cell(self, i: int) -> Any:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(i)

    def prompt(self, i: int) -> str | None:
        result: str | None = self.page.evaluate(_PROMPT_JS, [i])
        return result

    def kernel_status(self) -> str | None:
        result: str | None = self.page.evaluate(_KERNEL_JS)
        return result

    def run(self, i: int) -> None:
        """Select cell ``i`` (command mode, by its prompt) and press Shift+Enter, as a user would."""
        self.cell(i).locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Shift+Enter")

    def wait_ran(self, i: int, timeout: float = 30) -> str:
        """Until cell ``i`` shows an execution count and the kernel is idle; returns the prompt."""
        self.page.wait_for_function(_RAN_JS, arg=[i], timeout=timeout * 1000, polling=100)
        return self.prompt(i) or ""

    def shot(self, name: str | None = None) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name or self.scenario}.png"
        self.page.screenshot(path=str(path))
        return path

    def console_text(self) -> str:
        return "\n".join(self.console[-60:])


@pytest.fixture
def notebook(request: pytest.FixtureRequest, browser: Any, lab: Lab) -> Iterator[Notebook]:
    scenario = re.sub(r"^test_", "", request.node.name)
    scenario = re.sub(r"[^A-Za-z0-9_.-]+", "-", scenario)
    ARTIFACTS.mkdir(exist_ok=True)
    for stale in (ARTIFACTS / f"{scenario}.png", ARTIFACTS / f"{scenario}.console.txt"):
        stale.unlink(missing_ok=True)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    nb = Notebook(lab=lab, page=page, scenario=scenario)
    page.on("console", lambda m: nb.console.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: nb.console.append(f"[pageerror] {e}"))
    try:
        yield nb
    finally:
        try:
            # The scenario's final state (the test scrolls what matters into view); on a
            # failure this is the evidence, with the page's console next to it.
            nb.shot()
        except Exception as exc:  # a dead page must not hide the test's own error
            nb.console.append(f"[screenshot failed] {exc}")
        report = getattr(request.node, "rep_call", None)
        if report is None or report.failed:
            (ARTIFACTS / f"{scenario}.console.txt").write_text("\n".join(nb.console), "utf-8")
        context.close()
        if nb.path:
            lab.close_sessions(nb.path)
