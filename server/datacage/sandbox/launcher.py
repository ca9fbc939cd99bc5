"""The worker's side of the sandbox launcher (:mod:`.spawner`): start it, ask it, restart it.

One launcher per worker process, started on first use (or by :func:`start_launcher` when
the worker starts) from a thread that lives as long as the process. That thread is the
parent of the launcher, and so of every bwrap it starts (CLONE_PARENT), and bwrap's
``--die-with-parent`` watches the parent *thread*: a short-lived job thread as parent would
take the sandboxes with it when it ended.

If the launcher is gone (killed, crashed), the next launch starts a new one. If it dies during
a launch before it made the child, the go socket ends with nothing on it and the launch is
tried once more on a fresh launcher; after, the child (whose pid it told us itself, first
thing) carries on without it. If no launcher can be started, the run is refused
(:class:`LauncherError`): a run is never started any other way.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .interpreter import host_interpreter
from .launch import Bind, rlimits
from .libraries import sdk_libraries
from .model import SandboxLimits

SPAWNER = Path(__file__).with_name("spawner.py")
#: The descriptor numbers the sandbox's bwrap gets (0 is /dev/null; 1 and 2 the log).
STATUS_FD, SECCOMP_FD, INFO_FD = 3, 4, 5
_START_TIMEOUT_S = 30.0  # a cold interpreter on a loaded host
_REPLY_TIMEOUT_S = 60.0  # the child's mounts and bwrap's exec, on a loaded host
_MAX_REPLY = 64 << 10


class LauncherError(RuntimeError):
    """No launcher could start the run; nothing was run."""


@dataclass
class Launched:
    """A started bwrap: a child of this process (waited for with ``os.wait4``)."""

    pid: int
    returncode: int | None = None


@dataclass(frozen=True)
class LaunchPlan:
    """What the launcher's child does before ``exec bwrap`` (see :func:`.launch.preexec`)."""

    argv: Sequence[str]
    stage: str
    binds: Sequence[Bind]
    limits: SandboxLimits
    uid: int
    gid: int
    log_fd: int  # stdout and stderr
    status_fd: int  # becomes STATUS_FD
    seccomp_fd: int  # becomes SECCOMP_FD
    info_fd: int  # becomes INFO_FD
    filesystems: Sequence[tuple[int, str]] = ()  # (detached mount descriptor, name)


class _Parent:
    """A thread that only starts launchers, so that it outlives every sandbox."""

    def __init__(self) -> None:
        self._asks: queue.Queue = queue.Queue()
        threading.Thread(target=self._serve, name="sandbox-launcher-parent", daemon=True).start()

    def _serve(self) -> None:
        while True:
            argv, pass_fds, answer = self._asks.get()
            try:
                answer.put(
                    subprocess.Popen(  # noqa: S603 - our interpreter and our file
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        pass_fds=pass_fds,
                        env={},
                        start_new_session=True,  # not in the worker's group: no stray signals
                    )
                )
            except BaseException as error:  # handed to the asker
                answer.put(error)

    def spawn(self, argv: list[str], pass_fds: tuple[int, ...]) -> subprocess.Popen:
        answer: queue.Queue = queue.Queue()
        self._asks.put((argv, pass_fds, answer))
        result = answer.get()
        if isinstance(result, BaseException):
            raise result
        return result


class Launcher:
    """The worker's launcher; thread-safe (one launch at a time, each takes ~1 ms)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parent: _Parent | None = None
        self._process: subprocess.Popen | None = None
        self._socket: socket.socket | None = None

    @property
    def pid(self) -> int | None:
        """The running launcher's pid (for tests and operators), or None."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        with self._lock:
            self._ensure()

    def launch(self, plan: LaunchPlan) -> Launched:
        """Start bwrap as the plan says; raises LauncherError (nothing runs) if it cannot."""
        payload, fds = _request(plan)
        with self._lock:
            for _ in range(2):
                go, child_go = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    if not self._send(payload, [child_go.fileno(), *fds]):
                        continue  # it was dead already: once more, on a fresh one
                    child_go.close()  # now only the launcher and its child hold that end
                    pid, said = self._hear(go)
                finally:
                    go.close()
                    child_go.close()
                if pid is not None and not said:
                    return Launched(pid)
                if pid is not None:
                    _reap(pid)  # it failed before exec, and said why
                if said:
                    raise LauncherError(said)
                self._drop()  # the launcher died before it made a child: once more
        raise LauncherError("the sandbox launcher stopped twice while starting the run")

    def stop(self) -> None:
        with self._lock:
            self._drop()

    def _send(self, payload: bytes, fds: list[int]) -> bool:
        sock = self._ensure()
        try:
            socket.send_fds(sock, [payload], fds)
        except OSError:
            self._drop()
            return False
        return True

    def _hear(self, go: socket.socket) -> tuple[int | None, str]:
        """What comes on the go socket until it ends: the child's pid (None: no child was
        made) and, if it did not exec bwrap, why (from the child or the launcher)."""
        go.settimeout(_REPLY_TIMEOUT_S)
        said = b""
        try:
            while len(said) < _MAX_REPLY and (chunk := go.recv(_MAX_REPLY)):
                said += chunk
        except OSError:  # a timeout: a hung launcher or child is not waited for any longer
            self._drop()
            pid = _pid_in(said)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _reap(pid)
            raise LauncherError("the sandbox launcher did not answer in time") from None
        pid = _pid_in(said)
        if pid is not None:
            said = said.split(b"\n", 1)[1]
        return pid, said.decode(errors="replace").strip()

    def _ensure(self) -> socket.socket:
        if self._socket is not None and self._process is not None:
            if self._process.poll() is None:
                return self._socket
            self._drop()  # it died between runs: a new one
        if self._parent is None:
            self._parent = _Parent()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            argv = [str(host_interpreter().executable), "-I", "-S", "-B", str(SPAWNER)]
            argv.append(str(theirs.fileno()))
            self._process = self._parent.spawn(argv, (theirs.fileno(),))
            theirs.close()
            ours.settimeout(_START_TIMEOUT_S)
            hello = ours.recv(_MAX_REPLY)
            ours.settimeout(_REPLY_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as error:
            theirs.close()
            ours.close()
            self._drop()
            raise LauncherError(f"the sandbox launcher could not start ({error})") from None
        self._socket = ours
        if hello != b"ready":
            self._drop()
            said = hello.decode(errors="replace") or "it ended at once"
            raise LauncherError(f"the sandbox launcher could not start ({said})")
        return ours

    def _drop(self) -> None:
        """Let the launcher go: close its socket (it exits), kill it if it does not."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            process.wait()


def _request(plan: LaunchPlan) -> tuple[bytes, list[int]]:
    """The JSON request and its descriptors; descriptor 0 is the go socket (added by launch)."""
    fds = [plan.log_fd, plan.status_fd, plan.seccomp_fd, plan.info_fd]
    numbers = [[1, 1], [1, 2], [2, STATUS_FD], [3, SECCOMP_FD], [4, INFO_FD]]
    attach = []
    for fd, name in plan.filesystems:
        attach.append([len(fds) + 1, f"{plan.stage}/{name}"])
        fds.append(fd)
    request = {
        "argv": list(plan.argv),
        "stage": plan.stage,
        "attach": attach,
        "binds": [[str(b.source), b.staged(plan.stage), b.is_dir] for b in plan.binds if b.source],
        "rlimits": [[which, soft, hard] for which, (soft, hard) in rlimits(plan.limits)],
        "uid": plan.uid,
        "gid": plan.gid,
        "go": 0,
        "fds": numbers,
    }
    return json.dumps(request).encode(), fds


def _pid_in(said: bytes) -> int | None:
    """The pid the child wrote first thing, if a child was made."""
    first, newline, _ = said.partition(b"\n")
    return int(first) if newline and first.isdigit() else None


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


_launcher = Launcher()


def default_launcher() -> Launcher:
    """This process's launcher."""
    return _launcher


def start_launcher() -> None:
    """Start the launcher now (a worker's start-up), not on the first run, and find what the
    sandbox binds (the interpreter's and the SDK's libraries) while at it."""
    sdk_libraries()
    _launcher.start()


def _after_fork_in_child() -> None:
    # A forked copy of the worker gets a launcher of its own if it runs sandboxes, and lets go
    # of its copy of the parent's socket (the parent's launcher is not its child to stop).
    global _launcher
    inherited, _launcher = _launcher, Launcher()
    if inherited._socket is not None:
        inherited._socket.close()


os.register_at_fork(after_in_child=_after_fork_in_child)
