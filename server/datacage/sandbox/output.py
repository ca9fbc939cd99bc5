"""The output, copied from the run's tmpfs to the caller's folder: flat, plain files, capped.

The algorithm writes /output on a tmpfs of its own (:mod:`.mounts`); only after the sandbox
has ended does the worker look at it, and it copies out only what is plainly a result: regular
files with one name, directly in /output, within the limits. Anything else refuses the whole
output, with the reason in plain words: a folder (the output is flat), a symbolic link (on the
host ``result.ttl -> ../input/person-1/1`` would hand the gate a person's raw data), a hard
link, a named pipe (the gate would block reading it), a socket or a device node. Nothing is
followed, nothing is read twice, and the copy stops at the byte limit whatever a file claims.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .model import SandboxLimits
from .mounts import Tmpfs

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20
_NAME_SHOWN = 60


class OutputRefused(Exception):
    """The output is not flat plain files; ``str()`` is the reason for the code provider."""


class OutputTooLarge(Exception):
    """More bytes or entries than the limits allow."""


def over_limits(output: Tmpfs, limits: SandboxLimits) -> bool:
    """Whether the output's tmpfs holds more than the limits, by the kernel's own count."""
    used, inodes = output.used()
    return used > limits.output_bytes or inodes - 1 > limits.output_files


def copy_out(output: Tmpfs, target: Path, limits: SandboxLimits) -> list[str]:
    """Copy the output's plain files into the empty folder ``target``; their names.

    Raises :class:`OutputRefused` or :class:`OutputTooLarge`, having removed whatever it had
    copied: an output is kept whole or not at all.
    """
    if over_limits(output, limits):
        raise OutputTooLarge
    root = os.open(output.path, _DIR_FLAGS)
    copied: list[str] = []
    try:
        names = _plain_files(root, limits)
        for name in names:
            _copy(root, name, target)
            copied.append(name)
    except BaseException:
        for name in copied:
            (target / name).unlink(missing_ok=True)
        raise
    finally:
        os.close(root)
    return copied


def _plain_files(root: int, limits: SandboxLimits) -> list[str]:
    names: list[str] = []
    total = 0
    with os.scandir(root) as entries:
        for entry in entries:
            if len(names) >= limits.output_files:
                raise OutputTooLarge
            info = entry.stat(follow_symlinks=False)
            problem = _problem(entry.name, info)
            if problem:
                raise OutputRefused(
                    f"The algorithm's output was refused: /output must hold plain files only, "
                    f"and {_shown(entry.name)} is {problem}. Nothing of the output was kept."
                )
            total += info.st_size  # a sparse file claims bytes it never wrote: count them
            if total > limits.output_bytes:
                raise OutputTooLarge
            names.append(entry.name)
    return sorted(names)


def _problem(name: str, info: os.stat_result) -> str | None:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return "a folder (the output must be flat: no subfolders)"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device node"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if info.st_nlink != 1:
        return "a file with more than one name (a hard link)"
    if not name.isprintable() or name.startswith("."):
        return "a file whose name is hidden or holds control characters"
    return None


def _copy(root: int, name: str, target: Path) -> None:
    source = os.open(name, _READ_FLAGS, dir_fd=root)
    try:
        info = os.fstat(source)
        if not stat.S_ISREG(info.st_mode):  # nothing runs any more, but check what was opened
            raise OutputRefused(f"{_shown(name)} changed while it was read.")
        left = info.st_size
        destination = os.open(target / name, _WRITE_FLAGS, 0o600)
        try:
            while left > 0 and (chunk := os.read(source, min(_CHUNK, left))):
                left -= len(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(destination, view) :]
        finally:
            os.close(destination)
    finally:
        os.close(source)


def _shown(name: str) -> str:
    return repr(name if len(name) <= _NAME_SHOWN else name[:_NAME_SHOWN] + "...")
