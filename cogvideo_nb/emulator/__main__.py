"""``python -m cogvideo_nb.emulator``: serve the emulator until killed (or the parent dies).

The first stdout line is the contract with the launcher: ``cogvideo emulator listening on URL``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from .._i18n import N_
from .._i18n_argparse import Parser
from . import Emulator
from ._config import EmulatorConfig, default_state_dir, parse_faults

__all__ = ["main"]

# The first line out, which the launcher reads (_process): a contract, never translated.
LISTENING = "cogvideo emulator listening on"


def main(argv: list[str] | None = None) -> int:
    # Help and errors in the language in force, said only when shown (Parser): serving never asks.
    parser = Parser(
        prog="python -m cogvideo_nb.emulator",
        description=N_("Local emulator of the CogVideoX async video API. "
                       "Knobs default to COGVIDEO_EMULATOR_* env vars; flags override them."),
    )  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help=N_("0 picks a free port (default)"))
    parser.add_argument("--state-dir", help=N_("task store (default: $COGVIDEO_EMULATOR_STATE "
                        "or ~/.cache/cogvideo_nb/emulator)"))  # fmt: skip
    parser.add_argument("--seconds", type=float, help=N_("fixed processing time per task"))
    parser.add_argument("--time-scale", type=float, help=N_("multiplies processing times"))
    parser.add_argument("--seed", type=int)
    parser.add_argument("--faults", help=N_("e.g. p_500=0.1,p_429=0.05,p_drop_after=0.1"))
    parser.add_argument(
        "--max-in-flight",
        type=int,
        help=N_("tasks PROCESSING per key and model (default: the catalogue's per-model limit)"),
    )
    parser.add_argument("--keys", help=N_("comma-separated accepted API keys (default: any)"))
    parser.add_argument("--parent-pid", type=int, help=N_("exit when this process is gone"))
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)

    changes: dict[str, object] = {}
    for name in ("seconds", "time_scale", "seed", "max_in_flight"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.keys is not None:
        changes["accepted_keys"] = frozenset(k.strip() for k in args.keys.split(",") if k.strip())
    try:
        if args.faults:
            changes.update(parse_faults(args.faults))
        config = EmulatorConfig.from_env().replace(**changes)
    except ValueError as exc:
        parser.error(str(exc))

    emu = Emulator(config, args.host, args.port, args.state_dir or default_state_dir()).start()
    print(f"{LISTENING} {emu.base_url}", flush=True)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # reparenting is only a death signal if the watched pid really was our parent
    direct_child = os.getppid() == args.parent_pid
    try:
        while not stop.wait(1.0):
            if args.parent_pid and not _alive(args.parent_pid, direct_child):
                break
    finally:
        emu.stop()
    return 0


def _alive(pid: int, direct_child: bool) -> bool:
    """Whether the launcher still runs; being reparented means it died even if its pid is reused."""
    if direct_child and os.getppid() != pid:
        return False
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":
    sys.exit(main())
