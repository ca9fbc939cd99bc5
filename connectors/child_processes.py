"""Local servers we start as child processes (CSS, `oxigraph serve`, ...): none may outlive us.

Each child leads its own session (`start_new_session=True`), so its pid is its process group
id and stopping the group also stops whatever it spawned; on Linux the kernel also signals it
when the thread that forked it dies, so a killed test run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent_hook() -> Callable[[], None] | None:
    """A `preexec_fn` asking Linux to SIGTERM the child when this process dies.

    `prctl` is looked up here, in the parent, so the forked child only makes one system call.
    The death signal fires when the *thread* that forked exits: start the server from a thread
    that lives as long as the server (the main thread, in pytest).
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()
    death_signal = ctypes.c_ulong(signal.SIGTERM)

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, death_signal)
        if os.getppid() != parent:  # we died between fork and prctl: nobody will signal
            os._exit(1)

    return hook


def terminate_group(process: subprocess.Popen[bytes], grace: float = 5) -> None:
    """SIGTERM the child's process group, SIGKILL it after `grace` seconds, and reap it."""
    # Linux does not reuse a group id while any member lives, so the final SIGKILL can only
    # reach our own leftovers.
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()
    _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
