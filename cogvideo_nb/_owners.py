"""Who owns a ledger row, and whether that process still lives.

Kept apart from the ledger because the same process check also tells a ``.part`` file left by a
killed download (its name carries the writer's pid) from one still being written.
"""

from __future__ import annotations

import os
import secrets
import socket

__all__ = ["HOST", "LIVE_OWNERS", "new_owner", "owner_alive", "pid_alive"]

HOST = socket.gethostname()
LIVE_OWNERS: set[str] = set()  # this process's open ledgers (a closed one owns nothing)


def new_owner() -> str:
    """``host:pid:random``: unique per open ledger, so one process's two ledgers differ too."""
    return f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_alive(owner: str | None) -> bool:
    """False when ``owner`` is a process on this host that no longer exists, or a ledger of
    this process that has been closed."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != HOST or not pid.isdigit():
        return True  # another machine: only its lease can tell
    if int(pid) == os.getpid():
        return owner in LIVE_OWNERS
    return pid_alive(int(pid))


def pid_alive(pid: int) -> bool:
    """Whether a process of this host with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
