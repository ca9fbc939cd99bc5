"""A host uid and gid of its own for every run, leased from a reserved range and given back.

A shared sandbox user (the host's ``nobody``) would let one run, or any ``nobody`` service on
the host, reach another run: the kernel lets a process open ``/proc/<pid>/root`` of any
process of its own uid. With a fresh uid per run, a process of another run (or one left over
from an earlier run) is another user, and the kernel refuses. RLIMIT_NPROC, counted per
uid, then counts one run's processes only.

A uid is only leased if it is not named in ``/etc/passwd`` (nor the gid in ``/etc/group``),
no running process holds it (as its effective id: see ``_running_ids``), and no other lease
holds it: in this process (a set) or in another worker on the host (an exclusive ``flock``
on a file named for the uid, which the kernel releases if the holder dies).

The range comes from ``DATACAGE_SANDBOX_IDS`` ("FIRST-LAST", default 2000000000-2099999999):
high enough that no distribution hands such ids out, below 2**31 for tools that read ids
as signed. The lock files live in ``DATACAGE_SANDBOX_ID_LOCKS``, by default
/run/datacage/sandbox-ids, or, where /run is read-only (the datacage's container), a folder
in the temporary directory; every worker on one host must use the same one.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import secrets
import stat
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_RANGE = (2_000_000_000, 2_099_999_999)
RANGE_VARIABLE, LOCKS_VARIABLE = "DATACAGE_SANDBOX_IDS", "DATACAGE_SANDBOX_ID_LOCKS"
#: Ids below this belong to people and system services on every distribution.
_LOWEST = 1000
DEFAULT_LOCK_DIR = Path("/run/datacage/sandbox-ids")
_FALLBACK_LOCK_DIR = "datacage-sandbox-ids"  # in the temporary directory
_TRIES = 64


class NoFreeId(RuntimeError):
    """Every id tried was in use; the run is not started."""


@dataclass(frozen=True)
class SandboxIds:
    uid: int
    gid: int


class IdPool:
    """Leases of fresh ids from ``first..last`` (inclusive)."""

    def __init__(
        self,
        first: int = DEFAULT_RANGE[0],
        last: int = DEFAULT_RANGE[1],
        *,
        lock_dir: Path | None = None,
    ):
        if not _LOWEST <= first <= last < 2**32 - 1:
            raise ValueError(f"The sandbox id range {first}-{last} is not usable.")
        self.first, self.last = first, last
        self.lock_dir = Path(lock_dir) if lock_dir else None
        self._held: set[int] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IdPool:
        """The pool ``DATACAGE_SANDBOX_IDS`` and ``DATACAGE_SANDBOX_ID_LOCKS`` describe (declared
        with the worker's options in server/config.py); raises ValueError naming the variable."""
        environ = os.environ if environ is None else environ
        first, last = parse_range(environ.get(RANGE_VARIABLE, ""))
        return cls(first, last, lock_dir=parse_lock_dir(environ.get(LOCKS_VARIABLE, "")))

    @contextlib.contextmanager
    def lease(self) -> Iterator[SandboxIds]:
        """A uid (= gid) nobody else has, for the length of the ``with`` block."""
        uid, lock_fd, lock_path = self._take()
        try:
            yield SandboxIds(uid, uid)
        finally:
            self._give_back(uid, lock_fd, lock_path)

    def _locks(self) -> Path:
        if self.lock_dir is None:
            try:
                self.lock_dir = _private_folder(DEFAULT_LOCK_DIR)
            except OSError:  # a read-only /run
                self.lock_dir = _private_folder(Path(tempfile.gettempdir()) / _FALLBACK_LOCK_DIR)
            return self.lock_dir
        return _private_folder(self.lock_dir)

    def _take(self) -> tuple[int, int, Path]:
        lock_dir = self._locks()
        named = _named_ids()
        running = _running_ids()
        for _ in range(_TRIES):
            uid = self.first + secrets.randbelow(self.last - self.first + 1)
            if uid in named or uid in running:
                continue
            with self._lock:
                if uid in self._held:
                    continue
                lock_path = lock_dir / str(uid)
                lock_fd = _flock(lock_path)
                if lock_fd is None:
                    continue
                self._held.add(uid)
                return uid, lock_fd, lock_path
        raise NoFreeId(f"No free sandbox id was found in {self.first}-{self.last}.")

    def _give_back(self, uid: int, lock_fd: int, lock_path: Path) -> None:
        with self._lock:
            self._held.discard(uid)
            # Unlinked while still locked: a waiter that opened the old file sees another inode.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock_path)
            os.close(lock_fd)


@functools.lru_cache(maxsize=1)
def default_pool() -> IdPool:
    """The worker's pool, for algorithm runs and output-gate checks alike (one set of leases
    in this process, so the two never hold the same uid)."""
    return IdPool.from_env()


def parse_range(spelled: str) -> tuple[int, int]:
    """``FIRST-LAST`` as two ids; empty: the default range. Raises ValueError in words that
    name the variable and say what would work."""
    if not spelled.strip():
        return DEFAULT_RANGE
    first, dash, last = spelled.strip().partition("-")
    if not (dash and first.strip().isdigit() and last.strip().isdigit()):
        raise ValueError(
            f"{RANGE_VARIABLE} must be FIRST-LAST, two whole numbers such as "
            f"{DEFAULT_RANGE[0]}-{DEFAULT_RANGE[1]}, not {spelled!r}."
        )
    first_id, last_id = int(first), int(last)
    if first_id > last_id:
        raise ValueError(f"{RANGE_VARIABLE}: the first id must not be above the last ({spelled}).")
    if first_id < _LOWEST or last_id >= 2**31:
        raise ValueError(
            f"{RANGE_VARIABLE} must lie between {_LOWEST} (ids below belong to people and "
            f"system services) and {2**31 - 1} (tools read ids as signed), not {spelled!r}."
        )
    return first_id, last_id


def parse_lock_dir(spelled: str) -> Path | None:
    """An absolute folder for the lock files; empty: None (the default)."""
    if not spelled.strip():
        return None
    if not os.path.isabs(spelled) or "\0" in spelled:
        raise ValueError(
            f"{LOCKS_VARIABLE} must be an absolute folder path (every worker on the host "
            f"uses the same one), not {spelled!r}."
        )
    return Path(spelled)


def _private_folder(path: Path) -> Path:
    """``path`` as a folder of this user's, 0700, not a link: in a shared temporary
    directory someone else could have made it first."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise PermissionError(f"{path} is not a private folder of this user's.")
    if not os.access(path, os.W_OK):  # e.g. on a read-only file system
        raise PermissionError(f"{path} is not writable.")
    return path


def _flock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino != os.stat(path).st_ino:  # released and unlinked meanwhile
            raise BlockingIOError
    except (BlockingIOError, FileNotFoundError):
        os.close(fd)
        return None
    return fd


def _named_ids() -> set[int]:
    """Every uid in /etc/passwd and gid in /etc/group (the sandbox uses uid = gid)."""
    found: set[int] = set()
    for table, column in (("/etc/passwd", 2), ("/etc/group", 2)):
        try:
            lines = Path(table).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            fields = line.split(":")
            if len(fields) > column and fields[column].isdigit():
                found.add(int(fields[column]))
    return found


def _running_ids() -> set[int]:
    """Every effective uid and gid of a running process: the owner of its /proc folder.

    One ``stat`` per process (reading each ``status`` file took 30-60 ms on a busy host, for
    every run). A process that is not dumpable shows as root there, and a real or saved id
    that differs from the effective one is not seen: the range is reserved for sandboxes,
    which run with all their ids equal and dumpable, so what this must find is our own.
    """
    found: set[int] = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            info = entry.stat()
        except OSError:
            continue  # it ended while we looked
        found.update((info.st_uid, info.st_gid))
    return found


def in_use(uid: int) -> bool:
    """Whether a running process holds ``uid`` (for tests and the docs' claims)."""
    return uid in _running_ids()
