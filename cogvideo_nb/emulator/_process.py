"""Run the emulator as a child process that cannot outlive its parent.

A subprocess rather than threads in the kernel: rendering stays off the kernel's GIL, and the
emulator's state dir survives a kernel restart while the process itself is reaped with the
kernel (atexit here, plus the child's own watch on ``--parent-pid`` for hard kills).
"""

from __future__ import annotations

import atexit
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from .._i18n import t
from ._config import ENV_PREFIX, EmulatorConfig, default_state_dir

__all__ = ["BackgroundEmulator", "ensure_background", "prestart_background", "start_background"]

STATE_ENV = ENV_PREFIX + "STATE"
_URL_RE = re.compile(r"listening on (http://\S+)")
_shared: BackgroundEmulator | None = None
_pending: tuple[subprocess.Popen[str], Path] | None = None  # spawned by prestart_background
_shared_lock = threading.Lock()


class BackgroundEmulator:
    """Handle on a child emulator: its URL, and a :meth:`stop` that is safe to call twice."""

    def __init__(self, proc: subprocess.Popen[str], base_url: str, state_dir: Path) -> None:
        self.proc = proc
        self.base_url = base_url
        self.state_dir = state_dir

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __repr__(self) -> str:
        state = "running" if self.alive() else f"exited {self.proc.returncode}"
        return f"<BackgroundEmulator pid={self.pid} {self.base_url} {state}>"


def start_background(
    state_dir: str | Path | None = None,
    *,
    config: EmulatorConfig | None = None,
    timeout: float = 20.0,
) -> BackgroundEmulator:
    """Spawn ``python -m cogvideo_nb.emulator --port 0`` and wait for the URL it prints.

    The child takes its knobs from this process's ``COGVIDEO_EMULATOR_*`` env vars, overridden
    by ``config`` if given. Its stderr goes to ``<state_dir>/emulator.log``.
    """
    proc, state = _spawn(state_dir, config)
    return _connect(proc, state, timeout)


def _spawn(state_dir: str | Path | None, config: EmulatorConfig | None) -> tuple[subprocess.Popen[str], Path]:
    """Fork and exec the child; returns at once (it prints its URL when it listens)."""
    state = Path(state_dir).expanduser() if state_dir else default_state_dir()
    state.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if config is not None:  # authoritative: no stray parent knob may leak past it
        env = {k: v for k, v in env.items() if not k.startswith(ENV_PREFIX) or k == STATE_ENV}
        env.update(config.to_env())
    # the child must import this same package even from an uninstalled checkout
    pkg_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH")) if p)
    cmd = [
        sys.executable, "-m", "cogvideo_nb.emulator", "--host", "127.0.0.1", "--port", "0",
        "--state-dir", str(state), "--parent-pid", str(os.getpid()),
    ]  # fmt: skip
    with open(state / "emulator.log", "a", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file, env=env,
            text=True, encoding="utf-8", start_new_session=os.name == "posix",
        )  # fmt: skip
    return proc, state


def _connect(proc: subprocess.Popen[str], state: Path, timeout: float) -> BackgroundEmulator:
    """Wait for the child's URL line; a child that never says it is stopped and reported."""
    line = _first_line(proc.stdout, timeout) if proc.stdout else None
    match = _URL_RE.search(line or "")
    if match is None:
        handle = BackgroundEmulator(proc, "", state)
        handle.stop()
        tail = _tail(state / "emulator.log")
        seconds = f"{timeout:g}"
        said = t("the emulator did not start within {seconds} s: {line}", seconds=seconds, line=repr(line))
        raise RuntimeError(f"{said}\n{tail}")
    handle = BackgroundEmulator(proc, match[1], state)
    atexit.register(handle.stop)
    return handle


def prestart_background() -> None:
    """Spawn the shared emulator now, in the caller's thread, without waiting for it to listen.

    Forking a large process (a kernel) holds the GIL for tens of ms: an engine calls this when
    it is made, so that cost never lands on its loop while jobs run; the wait for the child's
    URL happens later, in :func:`ensure_background`, blocked on a pipe (GIL released).
    """
    global _pending
    with _shared_lock:
        if (_shared is None or not _shared.alive()) and _pending is None:
            _pending = _spawn(None, None)
            atexit.register(_stop_pending)


def _stop_pending() -> None:
    """At exit: a child spawned early but never used goes with us (it also watches our pid)."""
    pending = _pending
    if pending is not None:
        proc, state = pending
        BackgroundEmulator(proc, "", state).stop()


def ensure_background() -> str:
    """Base URL of this interpreter's one shared background emulator, started on first use."""
    global _shared, _pending
    with _shared_lock:
        if _shared is None or not _shared.alive():
            pending, _pending = _pending, None
            if pending is not None and pending[0].poll() is None:
                _shared = _connect(*pending, timeout=20.0)
            else:
                _shared = start_background()
        return _shared.base_url


def _first_line(stream: IO[str], timeout: float) -> str | None:
    # readline() cannot time out on a pipe portably, so a daemon thread does the blocking read
    box: queue.Queue[str] = queue.Queue(maxsize=1)
    threading.Thread(target=lambda: box.put(stream.readline()), daemon=True).start()
    try:
        return box.get(timeout=timeout)
    except queue.Empty:
        return None


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text("utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
