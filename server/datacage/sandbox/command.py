"""The bubblewrap command line: the whole file system the algorithm can see, and nothing more.

Inside: the interpreter and its libraries at their own paths (read-only), /bundle, /input and
/runtime (read-only), /output (read-write), a size-limited private /tmp, a fresh /proc of the
sandbox's own pid namespace with the host-wide files masked, and a /dev of our own: a
read-only tmpfs holding only null, zero, full, random and urandom (bubblewrap's ``--dev`` is a
writable tmpfs with no size limit) and, for a run, a /dev/shm that shares /tmp's limits. The
root itself is an empty tmpfs made read-only, so there is no host /tmp, /run, /home, /etc,
/var, nor the datacage's data folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .interpreter import Interpreter
from .launch import Bind
from .libraries import SDK_PATH, sdk_libraries
from .model import SandboxLimits
from .workspace import SANDBOX_GID, SANDBOX_UID

TMP = "/tmp"  # noqa: S108 - the sandbox's own private tmpfs, not the host's
SHM = "/dev/shm"  # noqa: S108 - the same: the sandbox's own, sharing /tmp's limits

DEVICES = ("null", "zero", "full", "random", "urandom")
_DEV_LINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)


def sealed(inside_id: int = SANDBOX_UID) -> tuple[str, ...]:
    """The namespace and privilege options; ``inside_id``: the uid and gid seen inside."""
    return (
        "--unshare-all",  # net, ipc, pid, uts, cgroup (and user, below): nothing shared
        "--unshare-user",
        "--disable-userns",  # and no user namespace of its own inside
        "--uid",
        str(inside_id),
        "--gid",
        str(inside_id),
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",  # no TIOCSTI into a terminal it does not own
        "--as-pid-1",  # bwrap's own init would be left a zombie when the run ends
        "--clearenv",
        "--hostname",
        "sandbox",
    )


SEALED = sealed(SANDBOX_GID)


def bwrap_path() -> str:
    found = shutil.which("bwrap", path="/usr/bin:/usr/local/bin:/bin")
    if found is None:
        raise RuntimeError("bubblewrap (bwrap) is not installed; the sandbox cannot run.")
    return found


def host_binds(interpreter: Interpreter) -> list[Bind]:
    """The interpreter, its libraries and the SDK's, each at its path inside (read-only)."""
    sdk = sdk_libraries()
    extra = [f for f in sdk.linked_folders if f not in interpreter.read_only]
    host = [interpreter.executable, interpreter.stdlib, *interpreter.read_only, *extra]
    staged = [Bind(path, f"host{i}", path.is_dir(), str(path)) for i, path in enumerate(host)]
    # The SDK and its dependencies, read-only (see .libraries), staged side by side in one
    # folder that bwrap binds whole: one bind for bwrap instead of one per package, each of
    # which costs it another read of the mount table.
    staged.append(Bind(None, "sdk", True, SDK_PATH))
    for library in sdk.packages:
        name = f"sdk/{Path(library.target).name}"
        staged.append(Bind(library.source, name, library.is_dir, library.target, by_bwrap=False))
    return staged


def binds(interpreter: Interpreter, run_dirs: dict[str, Path]) -> list[Bind]:
    """Every host path the sandbox sees, named for the staging folder (see :mod:`.launch`);
    ``run_dirs``: host folders bound at ``/<name>`` (``output`` writable)."""
    staged = host_binds(interpreter)
    for name, path in run_dirs.items():
        staged.append(Bind(path, name, True, f"/{name}", writable=name == "output"))
    return staged


def run_binds(interpreter: Interpreter, proc_masks: tuple[str, ...] = ()) -> list[Bind]:
    """The binds of a run whose folders are its own tmpfs file systems (see .staging)."""
    staged = host_binds(interpreter)
    for name in ("bundle", "input", "runtime"):
        staged.append(Bind(None, f"in/{name}", True, f"/{name}"))
    staged.append(Bind(None, "out", True, "/output", writable=True))
    staged.append(Bind(None, "scratch/tmp", True, TMP, writable=True))
    staged.append(Bind(None, "scratch/shm", True, SHM, writable=True))
    for name in proc_masks:
        staged.append(Bind(None, f"in/proc/{name}", False, f"/proc/{name}"))
    return staged


def command(
    interpreter: Interpreter,
    staged: list[Bind],
    stage: str,
    limits: SandboxLimits,
    seccomp_fd: int,
    info_fd: int,
    *,
    inside_id: int = SANDBOX_UID,
) -> list[str]:
    """bwrap's arguments. Binds under /dev and /proc are made after those are mounted; a bind
    at /tmp replaces the private tmpfs there."""
    argv = [bwrap_path(), *sealed(inside_id)]
    late = [b for b in staged if b.target.startswith(("/dev/", "/proc/"))]
    for bind in [b for b in staged if b not in late and b.by_bwrap]:
        argv += _bind(bind, stage)
    # The interpreter's own site-packages is not the algorithm's: hide it under an empty tmpfs.
    argv += ["--size", "4096", "--tmpfs", str(interpreter.site_packages)]
    argv += ["--remount-ro", str(interpreter.site_packages)]
    for link, target in interpreter.links:
        argv += ["--symlink", target, link]
    if not any(bind.target == TMP for bind in staged):
        argv += ["--size", str(limits.tmp_bytes), "--perms", "0700", "--tmpfs", TMP]
    argv += ["--size", "65536", "--tmpfs", "/dev"]
    for device in DEVICES:
        argv += ["--dev-bind", f"/dev/{device}", f"/dev/{device}"]
    for target, link in _DEV_LINKS:
        argv += ["--symlink", target, link]
    for bind in [b for b in late if b.target.startswith("/dev/")]:
        argv += _bind(bind, stage)
    argv += ["--remount-ro", "/dev", "--proc", "/proc"]
    for bind in [b for b in late if b.target.startswith("/proc/")]:
        argv += _bind(bind, stage)
    argv += ["--chdir", TMP, "--setenv", "HOME", TMP, "--setenv", "LANG", "C.UTF-8"]
    argv += ["--remount-ro", "/", "--seccomp", str(seccomp_fd), "--info-fd", str(info_fd)]
    argv += ["--", str(interpreter.executable), "-I", "-S", "-B", "/runtime/bootstrap.py"]
    return argv


def _bind(bind: Bind, stage: str) -> list[str]:
    return ["--bind" if bind.writable else "--ro-bind", bind.staged(stage), bind.target]
