"""The last steps in the forked child before ``exec bwrap``: stage the binds, set limits, drop root.

bubblewrap is run as the run's own leased host uid (:mod:`.ids`), not as root, for two
reasons. As root its sandbox user would be uid 0 on the host (without capabilities, but still
the owner of every root file it could reach), and RLIMIT_NPROC is not enforced for uid 0 at
all; as a plain uid it is, and a process that got out of its namespaces would be a user that
owns nothing on the host. But that uid cannot reach paths under the datacage's private
folders (0700) or /root, where the interpreter may live, and bwrap resolves even
``--bind-fd`` sources by path. So the child first makes a *private* mount namespace (the
host's mount table never changes), mounts a small tmpfs on a world-traversable folder,
bind-mounts every host source under it and attaches clones of the run's detached file systems
(:mod:`.mounts`) there; bwrap, now unprivileged, binds from there.

Everything here runs between fork and exec (``preexec_fn``): it only makes system calls
prepared beforehand and allocates nothing of note.
"""

from __future__ import annotations

import ctypes
import os
import resource
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .model import SandboxLimits
from .mounts import attacher
from .workspace import SANDBOX_GID, SANDBOX_UID

_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18
# The staging tmpfs is mounted over one of these in the child's private mount namespace only.
_STAGE_CANDIDATES = ("/mnt", "/media", "/srv", "/opt")


@dataclass(frozen=True)
class Bind:
    source: Path | None  # on the host; None: already under the staging folder (a run's tmpfs)
    name: str  # under the staging folder
    is_dir: bool
    target: str  # inside the sandbox
    writable: bool = False
    # False: only staged (under a folder that bwrap binds as a whole), not bound by bwrap.
    by_bwrap: bool = True

    def staged(self, stage: str) -> str:
        return f"{stage}/{self.name}"


def staging_point() -> str:
    for candidate in _STAGE_CANDIDATES:
        if os.path.isdir(candidate) and not os.path.islink(candidate):
            return candidate
    raise RuntimeError(f"The sandbox needs one of {', '.join(_STAGE_CANDIDATES)} to exist.")


def rlimits(limits: SandboxLimits) -> list[tuple[int, tuple[int, int]]]:
    return [
        # The hard limit one second later: SIGXCPU first, SIGKILL if the algorithm ignores it.
        (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1)),
        (resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes)),
        (resource.RLIMIT_FSIZE, (limits.file_size_bytes, limits.file_size_bytes)),
        (resource.RLIMIT_NPROC, (limits.processes, limits.processes)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]


def preexec(
    stage: str,
    binds: Sequence[Bind],
    limits: SandboxLimits,
    *,
    uid: int = SANDBOX_UID,
    gid: int = SANDBOX_GID,
    filesystems: Sequence[tuple[int, str]] = (),
) -> Callable[[], None]:
    """The function to run in the child before ``exec bwrap``, which then runs as ``uid``;
    ``filesystems``: (detached mount descriptor, name) to attach under the staging folder."""
    libc = ctypes.CDLL(None, use_errno=True)
    unshare, mount = libc.unshare, libc.mount
    stage_b = stage.encode()
    plan = [(str(b.source).encode(), b.staged(stage), b.is_dir) for b in binds if b.source]
    attach = attacher()
    attached = [(fd, f"{stage}/{name}") for fd, name in filesystems]
    settings = rlimits(limits)

    def check(result: int, what: str) -> None:
        if result != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"{what}: {os.strerror(number)}")

    def child() -> None:
        check(unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        check(mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "make mounts private")
        options = b"mode=0755,size=1m"
        check(mount(b"sandbox", stage_b, b"tmpfs", _MS_NOSUID | _MS_NODEV, options), "tmpfs")
        for fd, target in attached:
            os.mkdir(target, 0o755)
            attach(fd, target.encode())
        for source, target, is_dir in plan:
            os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            if is_dir:
                os.mkdir(target, 0o755)
            else:
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o444))
            check(mount(source, target.encode(), None, _MS_BIND | _MS_REC, None), "bind")
        for which, value in settings:
            resource.setrlimit(which, value)
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)

    return child
