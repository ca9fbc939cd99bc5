"""The bubblewrap command line: the whole file system the algorithm can see, and nothing more.

Inside: the interpreter and its libraries at their own paths (read-only), /bundle, /input and
/runtime (read-only), /output (read-write), a size-limited private /tmp, a fresh /proc of the
sandbox's own pid namespace, a minimal /dev. The root itself is an empty tmpfs made read-only,
so there is no host /tmp, /run, /home, /etc, /var, nor the datacage's data folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .interpreter import Interpreter
from .launch import Bind
from .libraries import sdk_libraries
from .model import SandboxLimits
from .workspace import SANDBOX_GID, SANDBOX_UID

TMP = "/tmp"  # noqa: S108 - the sandbox's own private tmpfs, not the host's

SEALED = (
    "--unshare-all",  # net, ipc, pid, uts, cgroup (and user, below): nothing shared with the host
    "--unshare-user",
    "--disable-userns",  # and no user namespace of its own inside
    "--uid",
    str(SANDBOX_UID),
    "--gid",
    str(SANDBOX_GID),
    "--cap-drop",
    "ALL",
    "--die-with-parent",
    "--new-session",  # no TIOCSTI into a terminal it does not own
    "--as-pid-1",  # bwrap's own init would be left a zombie when the run ends
    "--clearenv",
    "--hostname",
    "sandbox",
)


def bwrap_path() -> str:
    found = shutil.which("bwrap", path="/usr/bin:/usr/local/bin:/bin")
    if found is None:
        raise RuntimeError("bubblewrap (bwrap) is not installed; the sandbox cannot run.")
    return found


def binds(interpreter: Interpreter, run_dirs: dict[str, Path]) -> list[Bind]:
    """Every host path the sandbox sees, named for the staging folder (see :mod:`.launch`)."""
    sdk = sdk_libraries()
    extra = [f for f in sdk.linked_folders if f not in interpreter.read_only]
    host = [interpreter.executable, interpreter.stdlib, *interpreter.read_only, *extra]
    staged = [Bind(path, f"host{i}", path.is_dir(), str(path)) for i, path in enumerate(host)]
    for name, path in run_dirs.items():
        staged.append(Bind(path, name, True, f"/{name}", writable=name == "output"))
    # The SDK and its dependencies, read-only (see .libraries); bwrap makes the mount points.
    for i, library in enumerate(sdk.packages):
        staged.append(Bind(library.source, f"sdk{i}", library.is_dir, library.target))
    return staged


def command(
    interpreter: Interpreter,
    staged: list[Bind],
    stage: str,
    limits: SandboxLimits,
    seccomp_fd: int,
    info_fd: int,
) -> list[str]:
    argv = [bwrap_path(), *SEALED]
    for bind in staged:
        argv += ["--bind" if bind.writable else "--ro-bind", bind.staged(stage), bind.target]
    # The interpreter's own site-packages is not the algorithm's: hide it under an empty tmpfs.
    argv += ["--size", "4096", "--tmpfs", str(interpreter.site_packages)]
    argv += ["--remount-ro", str(interpreter.site_packages)]
    for link, target in interpreter.links:
        argv += ["--symlink", target, link]
    argv += ["--size", str(limits.tmp_bytes), "--perms", "0700", "--tmpfs", TMP]
    argv += ["--proc", "/proc", "--dev", "/dev", "--chdir", TMP]
    argv += ["--setenv", "HOME", TMP, "--setenv", "LANG", "C.UTF-8"]
    argv += ["--remount-ro", "/", "--seccomp", str(seccomp_fd), "--info-fd", str(info_fd)]
    argv += ["--", str(interpreter.executable), "-I", "-S", "-B", "/runtime/bootstrap.py"]
    return argv
