"""Reading what comes out of the sandbox without letting it decide how much memory that takes.

Two pipes: the algorithm's log (stdout and stderr together) of which only the tail is kept,
and the bootstrap's status lines (progress, and how the call ended), each line bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading

_CHUNK = 64 << 10
_STATUS_LINE = 8192  # longer status lines are not the bootstrap's: dropped


class LogTail:
    """Keeps the last ``limit`` bytes of a pipe, read on a thread until end of file."""

    def __init__(self, fd: int, limit: int):
        self._fd, self._limit = fd, limit
        self._buffer = bytearray()
        self.total = 0
        self._thread = threading.Thread(target=self._read, name="sandbox-log", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while chunk := os.read(self._fd, _CHUNK):
                self.total += len(chunk)
                self._buffer += chunk
                if len(self._buffer) > 2 * self._limit:  # trim now and then, not per chunk
                    del self._buffer[: len(self._buffer) - self._limit]
        finally:
            os.close(self._fd)

    def text(self, timeout: float) -> str:
        self._thread.join(timeout)
        kept = bytes(self._buffer[-self._limit :]) if self._limit else b""
        text = kept.decode("utf-8", errors="replace")
        if self.total > len(kept):
            cut = self.total - len(kept)
            note = f"[log cut: the first {cut} bytes were dropped, the last {len(kept)} kept]"
            return note + "\n" + text
        return text


class SandboxInfo:
    """The host pid of the sandbox's pid 1, from ``bwrap --info-fd``, held as a pidfd.

    The wall clock kills that process first: the outer bwrap then reaps it and exits. Killing
    the outer bwrap first would orphan it, and an orphan is only reaped if the host's pid 1
    reaps (on this machine it does not, and a zombie counts against RLIMIT_NPROC).
    """

    def __init__(self, fd: int, *, holds: list[int] | None = None):
        """``holds``: where to add a descriptor of the sandbox's mount namespace (see
        :func:`hold_namespace`), for the caller to let go of later."""
        self._fd = fd
        self.pidfd: int | None = None
        self._holds = holds
        self._thread = threading.Thread(target=self._read, name="sandbox-info", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        data = b""
        try:
            while len(data) < _STATUS_LINE and (chunk := os.read(self._fd, _STATUS_LINE)):
                data += chunk
                try:
                    pid = json.loads(data)["child-pid"]
                except (ValueError, KeyError, TypeError):
                    continue
                if isinstance(pid, int) and pid > 1:
                    self.pidfd = os.pidfd_open(pid)
                    if self._holds is not None:
                        hold_namespace(pid, self._holds)
                return
        except OSError:
            return  # it ended before it could be watched; the process group is killed instead
        finally:
            os.close(self._fd)

    def close(self) -> None:
        self._thread.join(1.0)
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class StatusReader:
    """Progress and the end of the call, as told by the bootstrap (or forged by the algorithm,
    which can only misreport its own run: the exit status is checked too)."""

    def __init__(self, fd: int):
        self._fd = fd
        self.progress = 0.0
        self.done = False
        self.error: dict[str, str] | None = None
        self._thread = threading.Thread(target=self._read, name="sandbox-status", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        pending = b""
        try:
            while chunk := os.read(self._fd, _CHUNK):
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                if len(pending) > _STATUS_LINE:
                    pending = b""
                for line in lines:
                    if len(line) <= _STATUS_LINE:
                        self._take(line)
        finally:
            os.close(self._fd)

    def _take(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        progress = message.get("progress")
        if isinstance(progress, int | float) and 0.0 <= progress <= 1.0:
            self.progress = float(progress)
        if message.get("done") is True:
            self.done = True
        error = message.get("error")
        if isinstance(error, dict):
            self.error = {
                "type": str(error.get("type", "Exception"))[:200],
                "message": str(error.get("message", ""))[:2000],
            }

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def hold_namespace(pid: int, holds: list[int]) -> None:
    """Keep the mount namespace of ``pid`` (a descriptor added to ``holds``).

    Tearing a mount namespace down waits for an RCU grace period (about 8 ms here), and the
    kernel does it in the exit of its last process, before the parent can reap it: a sandbox
    has two (bubblewrap's staging one and the sandbox's), so a run would end 16 ms after it
    ended. Held, they go when the holder closes them (:func:`let_go`, off the run's time);
    nothing can enter them, and no process of the run is kept."""
    with contextlib.suppress(OSError):  # it ended already: nothing to gain
        holds.append(os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC))


def let_go(holds: list[int]) -> None:
    """Close held namespaces on a thread of their own (each close may wait a grace period)."""
    held, holds[:] = list(holds), []
    if held:
        threading.Thread(target=_close_all, args=(held,), name="sandbox-let-go").start()


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)
