"""The gate's own sandbox: the checks of ``.checker`` run in a process with no network.

The output shape is the code provider's, and pySHACL runs what it says: a SPARQL ``SERVICE``
goes out over the network, a backtracking ``sh:pattern`` holds the interpreter for hours. So the
checks run the way an algorithm runs, built from the algorithm sandbox's parts
(``server.datacage.sandbox``): bubblewrap in fresh namespaces (no network, no other processes),
as a host uid of its own, leased for the check from the pool runs lease from (``sandbox.ids``),
with the seccomp filter that refuses every socket, rlimits on CPU, memory and file size, a
wall clock that kills the whole sandbox, on a read-only root that holds only the interpreter,
the standard library and the few packages the checks import. The request goes in on stdin and
the answer comes out on stdout: no file of the server is visible inside.

One process per result. It starts with ``python -I -S -B`` and imports rdflib and pySHACL
once; the server parses the output itself only after the sandbox said it parsed (so a
pathological file costs the sandbox its wall clock, never the server), while the sandbox goes
on validating.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from server.datacage.sandbox.command import bwrap_path, sealed
from server.datacage.sandbox.ids import IdPool, SandboxIds, default_pool
from server.datacage.sandbox.interpreter import _linked_libraries, host_interpreter
from server.datacage.sandbox.launch import Bind, preexec, staging_point
from server.datacage.sandbox.model import SandboxLimits
from server.datacage.sandbox.seccomp import filter_bpf
from server.datacage.sandbox.streams import LogTail, SandboxInfo
from server.datacage.sandbox.workspace import INSIDE_ID

from .checker.__main__ import OUT_OF_MEMORY
from .checker.refusal import GateRefusal

#: Inside the sandbox: the checks' packages, each bound read-only on its own.
GATE_PATH = "/usr/lib/datacage/gate"
CHECKER = Path(__file__).with_name("checker")
# What ``checker`` imports, found where this server imports them from (optional imports of
# rdflib such as orjson or pyoxigraph are left out: rdflib does without them).
PACKAGES = (
    "rdflib", "pyparsing", "pyshacl", "owlrl", "prettytable", "wcwidth", "packaging",
    "importlib_metadata", "zipp", "lazy_importer", "re2", "vocab",
)  # fmt: skip
# Distributions whose metadata is read at import (rdflib reads its own version): their
# .dist-info folders are bound beside the packages.
DISTRIBUTIONS = ("rdflib", "pyshacl", "owlrl", "prettytable", "importlib-metadata")
PROGRAM = (
    f"import sys; sys.path.insert(0, {GATE_PATH!r}); from gatecheck.__main__ import main; main()"
)
_ANSWER_LINE = 1 << 20
_GRACE_S = 1.0


@dataclass(frozen=True)
class GateLimits:
    """Ceilings for one gate check; the wall clock is the backstop for everything else."""

    wall_seconds: float = 120.0  # a 4 MB result takes ~20 s on an idle core
    memory_bytes: int = 3 << 30  # RLIMIT_AS: pySHACL on a 4 MB result needs about 1 GiB
    cpu_seconds: int = 125  # after the wall clock, so a slow check reads as a timeout


@dataclass(frozen=True)
class CheckerEnd:
    refusals: list[GateRefusal] | None  # None: the sandbox gave no verdict (see ``failure``)
    failure: GateRefusal | None


class CheckerProcess:
    """One sandboxed check: started at once, given its one request by :meth:`send` (at once,
    or once the output exists: see :func:`prepare`), answered through :meth:`parsed` and
    :meth:`end`. It never takes a second request."""

    def __init__(
        self,
        request: bytes | None,
        limits: GateLimits,
        program: str = PROGRAM,
        *,
        ids: IdPool | None = None,
    ):
        self.limits = limits
        self.started = time.monotonic()
        self._lines: list[dict] = []
        self._parsed = threading.Event()
        self._ready = threading.Event()
        self._closed = threading.Event()
        self._stdin: int | None = None
        self.sent = False
        self.process: subprocess.Popen | None = None
        self.killed = False
        # A uid of its own, from the pool runs lease from: the host's shared ``nobody`` would
        # own the sandbox's user namespace, and any process of it could read the output.
        self._lease = contextlib.ExitStack()
        try:
            leased = self._lease.enter_context((ids or default_pool()).lease())
            self._start(program, leased)
        except (OSError, RuntimeError, ValueError, subprocess.SubprocessError):
            self.process = None  # no bubblewrap, not root, no free uid: never check unisolated
            self._lease.close()
        if request is not None:
            self.send(request)

    def send(self, request: bytes) -> None:
        """The output to check; the wall clock starts now (not while it waited for it)."""
        if self.sent:
            raise RuntimeError("A gate sandbox checks one output only.")
        self.sent = True
        self.started = time.monotonic()
        stdin, self._stdin = self._stdin, None
        if stdin is not None:
            threading.Thread(target=_feed, args=(stdin, request), daemon=True).start()

    def ready(self, timeout: float) -> bool:
        """Whether the sandbox has imported what it checks with and waits for its request."""
        return self._ready.wait(timeout)

    def _start(self, program: str, ids: SandboxIds) -> None:
        interpreter = host_interpreter()
        staged = _binds()
        stage = staging_point()
        seccomp_fd = os.memfd_create("datacage-gate-seccomp", 0)
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        info_r, info_w = os.pipe()
        child_ends = [seccomp_fd, stdin_r, out_w, err_w, info_w]
        try:
            os.write(seccomp_fd, filter_bpf())
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
            argv = _command(interpreter, staged, stage, seccomp_fd, info_w, program)
            sandbox_limits = SandboxLimits(
                cpu_seconds=self.limits.cpu_seconds,
                memory_bytes=self.limits.memory_bytes,
                file_size_bytes=1 << 20,
                processes=64,
            )
            self.process = subprocess.Popen(  # noqa: S603 - a fixed program, arguments built here
                argv,
                stdin=stdin_r,
                stdout=out_w,
                stderr=err_w,
                pass_fds=(seccomp_fd, info_w),
                env={},
                start_new_session=True,
                preexec_fn=preexec(stage, staged, sandbox_limits, uid=ids.uid, gid=ids.gid),
            )
        except BaseException:
            for fd in (stdin_w, out_r, err_r, info_r):
                os.close(fd)
            raise
        finally:
            for fd in child_ends:
                os.close(fd)
        self._info = SandboxInfo(info_r)
        self._log = LogTail(err_r, 16 << 10)  # for the server's own log, never the verdict
        self._stdin = stdin_w
        threading.Thread(target=self._read, args=(out_r,), daemon=True).start()

    def _read(self, fd: int) -> None:
        pending = b""
        try:
            while chunk := os.read(fd, 64 << 10):
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                if len(pending) > _ANSWER_LINE:
                    break  # not what the checker says: the verdict will be "crashed"
                for line in lines:
                    self._take(line)
        finally:
            os.close(fd)
            self._closed.set()
            self._parsed.set()
            self._ready.set()

    def _take(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return
        if isinstance(message, dict):
            self._lines.append(message)
            if message.get("parsed") is True:
                self._parsed.set()
            if message.get("ready") is True:
                self._ready.set()

    @property
    def deadline(self) -> float:
        return self.started + self.limits.wall_seconds

    def parsed(self) -> bool:
        """Waits until the sandbox parsed the output (True) or ended or ran out of time."""
        if self.process is None or not self.sent:
            return False
        self._parsed.wait(max(0.0, self.deadline - time.monotonic()))
        return any(m.get("parsed") is True for m in self._lines)

    def end(self, shape_paths: frozenset[str]) -> CheckerEnd:
        """Waits for the sandbox to end (killing it on the wall clock) and reads its answer."""
        if self.process is None:
            return CheckerEnd(None, GateRefusal("gate/unavailable"))
        if not self.sent:
            self.stop()
            return CheckerEnd(None, GateRefusal("gate/crashed"))
        exit_code = self._wait()
        self._closed.wait(_GRACE_S)
        if self.killed:
            return CheckerEnd(
                None, GateRefusal("gate/timeout", limit=math.ceil(self.limits.wall_seconds))
            )
        if exit_code == OUT_OF_MEMORY:
            return CheckerEnd(None, GateRefusal("gate/memory"))
        answers = [m["refusals"] for m in self._lines if isinstance(m.get("refusals"), list)]
        if exit_code != 0 or len(answers) != 1:
            return CheckerEnd(None, GateRefusal("gate/crashed"))
        return CheckerEnd([GateRefusal.from_json(r, shape_paths) for r in answers[0]], None)

    def log(self) -> str:
        return self._log.text(_GRACE_S) if self.process is not None else ""

    def stop(self) -> None:
        """Kill it now (the server found enough to refuse without its answer, or the run
        that it was started for produced nothing to check); a no-op once it has ended."""
        if self._stdin is not None:
            os.close(self._stdin)
            self._stdin = None
        if self.process is not None and self.process.returncode is None:
            self._kill()
            self._wait(now=True)

    def _wait(self, *, now: bool = False) -> int:
        """Waits for the end (killing it on the wall clock), reaps it, gives its uid back."""
        assert self.process is not None
        if self.process.returncode is not None:
            return self.process.returncode  # reaped before: stopped, or ended
        pidfd = os.pidfd_open(self.process.pid)
        try:
            remaining = 0.0 if now else self.deadline - time.monotonic()
            if remaining <= 0 or not select.select([pidfd], [], [], remaining)[0]:
                self.killed = self.process.poll() is None
                if self.killed:
                    self._kill()
            try:
                code = self.process.wait(timeout=_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                code = self.process.wait()
        finally:
            os.close(pidfd)
            self._info.close()
            self._lease.close()  # the uid goes back only once the sandbox is reaped
        return code

    def _kill(self) -> None:
        """Kill the sandbox's pid 1 so bwrap reaps it (as the algorithm sandbox does)."""
        assert self.process is not None
        if self._info.pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._info.pidfd, signal.SIGKILL)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


def _feed(fd: int, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(data)
    except OSError:
        pass  # it ended early; its verdict says why


@lru_cache(maxsize=1)
def _libraries() -> tuple[tuple[Path, str], ...]:
    import importlib.metadata
    import importlib.util

    found = [(CHECKER, f"{GATE_PATH}/gatecheck")]
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"The gate needs the package {name!r}, which is not installed.")
        origin = Path(spec.origin).resolve()
        source = origin.parent if spec.submodule_search_locations else origin
        found.append((source, f"{GATE_PATH}/{source.name}"))
    for name in DISTRIBUTIONS:
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise RuntimeError(f"The gate needs {name!r}, which is not installed.") from None
        metadata = next(f for f in distribution.files or () if f.name == "METADATA")
        info = Path(str(distribution.locate_file(metadata))).resolve().parent
        found.append((info, f"{GATE_PATH}/{info.name}"))
    return tuple(found)


@lru_cache(maxsize=1)
def _binds() -> tuple[Bind, ...]:
    interpreter = host_interpreter()
    libraries = _libraries()
    extensions = [p for source, _ in libraries if source.is_dir() for p in source.rglob("*.so")]
    _, folders = _linked_libraries(extensions) if extensions else (set(), set())
    host = [interpreter.executable, interpreter.stdlib, *interpreter.read_only]
    host += sorted(f for f in folders if f not in host)
    staged = [Bind(path, f"host{i}", path.is_dir(), str(path)) for i, path in enumerate(host)]
    for i, (source, target) in enumerate(libraries):
        staged.append(Bind(source, f"lib{i}", source.is_dir(), target))
    return tuple(staged)


def _command(interpreter, staged, stage: str, seccomp_fd: int, info_fd: int, program: str):
    argv = [bwrap_path(), *sealed(INSIDE_ID)]
    for bind in staged:
        argv += ["--ro-bind", bind.staged(stage), bind.target]
    argv += ["--size", "4096", "--tmpfs", str(interpreter.site_packages)]
    argv += ["--remount-ro", str(interpreter.site_packages)]
    for link, target in interpreter.links:
        argv += ["--symlink", target, link]
    argv += ["--size", str(1 << 20), "--perms", "0700", "--tmpfs", "/tmp", "--chdir", "/tmp"]  # noqa: S108
    argv += ["--setenv", "LANG", "C.UTF-8"]
    argv += ["--remount-ro", "/", "--seccomp", str(seccomp_fd), "--info-fd", str(info_fd)]
    argv += ["--", str(interpreter.executable), "-I", "-S", "-B", "-c", program]
    return argv
