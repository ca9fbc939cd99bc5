"""Running an audit query where it can do no harm: no network, a deadline, a capped answer.

- No network: the child refuses itself `socket(2)` with a seccomp filter before it reads the
  query (`query_child.no_sockets`), and, where the system allows one, also runs in a network
  namespace of its own (`unshare --net`, or `--user --map-root-user --net` when not root),
  holding only a loopback nobody listens on. Whatever the query says (a `SERVICE` the checker
  missed), the engine has nothing to reach.
- A deadline: the child's process group is killed at `seconds`.
- A capped answer: read as it is written, and the child killed the moment it passes the cap,
  so a small query cannot make the server hold a huge answer in memory.
- Few at a time: `QuerySlots` are lock files every worker process of this server shares, so a
  burst of queries waits for nobody and is refused rather than piled up.
"""

from __future__ import annotations

import fcntl
import functools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from ..errors import DomainError, TooManyRequests

_CHUNK = 64 * 1024
_STDERR_LIMIT = 4096


class QueryRefused(DomainError):
    title = "This query cannot be run"
    problem_type = "/api/problems/sparql-query"


class Busy(TooManyRequests):
    """Every query slot of this server is taken."""


@functools.cache
def isolation_prefix() -> tuple[str, ...]:
    """The command that starts a program in a network namespace of its own, tried once."""
    candidates = [("unshare", "--net"), ("unshare", "--user", "--map-root-user", "--net")]
    if os.geteuid() != 0:
        candidates.reverse()
    for prefix in candidates:
        try:
            done = subprocess.run(  # noqa: S603 - fixed arguments
                [*prefix, sys.executable, "-I", "-S", "-c", "pass"],
                capture_output=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return prefix
    return ()


class QuerySlots:
    """At most `count` queries at once across every process using `folder` (flock'd files)."""

    def __init__(self, folder: Path, count: int):
        self.folder = folder
        self.count = max(1, count)

    @contextmanager
    def held(self) -> Iterator[None]:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for index in range(self.count):
            fd = os.open(self.folder / f"slot-{index}", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        raise Busy(
            f"{self.count} queries are running on this server already; try again in a moment.",
            retry_after=2,
        )


def run_isolated(
    argv: list[str], data: bytes, *, seconds: float, max_bytes: int
) -> tuple[str, bytes]:
    """(first line, rest) of what `argv` writes, run with no network; raise `QueryRefused`."""
    # Without namespaces (some containers) the child's seccomp filter is the wall on its own.
    prefix = isolation_prefix()
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and file, no shell
        [*prefix, *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, killed whole
    )
    timed_out = threading.Event()

    def kill(flag: threading.Event | None = None) -> None:
        if flag is not None:
            flag.set()
        with suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)

    timer = threading.Timer(seconds, kill, args=(timed_out,))
    timer.start()
    errors: list[bytes] = []
    feeders = [
        threading.Thread(target=_feed, args=(child.stdin, data), daemon=True),
        threading.Thread(target=_drain, args=(child.stderr, errors), daemon=True),
    ]
    for thread in feeders:
        thread.start()
    try:
        media, body, too_large = _read_capped(child.stdout, max_bytes)
        if too_large:
            kill()
        child.wait()
    finally:
        timer.cancel()
        kill()
        for thread in feeders:
            thread.join(5)
    if timed_out.is_set():
        raise QueryRefused(f"The query took longer than {seconds:g} seconds and was stopped.")
    if too_large:
        raise QueryRefused(f"The answer is larger than {max_bytes >> 20} MiB; narrow it.")
    if child.returncode != 0:
        reason = b"".join(errors).decode(errors="replace").strip() or "it ran out of memory"
        raise QueryRefused(f"The query could not be run: {reason[:500]}")
    return media, body


def _read_capped(stream: IO[bytes] | None, max_bytes: int) -> tuple[str, bytes, bool]:
    assert stream is not None
    media = stream.readline(256).decode(errors="replace").strip()
    chunks, size = [], 0
    while chunk := stream.read1(_CHUNK) if hasattr(stream, "read1") else stream.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            return media, b"", True
        chunks.append(chunk)
    return media, b"".join(chunks), False


def _feed(stream: IO[bytes] | None, data: bytes) -> None:
    assert stream is not None
    try:
        stream.write(data)
        stream.close()
    except (BrokenPipeError, OSError):
        pass  # the child stopped reading (killed, or refused the query early)


def _drain(stream: IO[bytes] | None, into: list[bytes]) -> None:
    assert stream is not None
    kept = 0
    while chunk := stream.read(_STDERR_LIMIT):
        if kept < _STDERR_LIMIT:
            into.append(chunk[: _STDERR_LIMIT - kept])
            kept += len(into[-1])
