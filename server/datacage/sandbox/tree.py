"""Walking and removing folder trees without recursion, and with caps.

Python 3.11's ``os.walk`` and ``shutil.rmtree`` recurse: about a thousand nested folders
raise ``RecursionError``, which is not an ``OSError``, so ``ignore_errors`` does not catch it
and the caller's clean-up stops half-way. Everything here keeps its own stack, works relative
to open folder descriptors (so no path grows past ``PATH_MAX``) and never follows a link.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: Folders held open at once while removing; deeper ones are first moved up to the top.
_OPEN_FOLDERS = 32


class TreeTooLarge(ValueError):
    """The tree is deeper or has more entries than the caller allows."""


def walk(root: Path, *, max_depth: int, max_entries: int) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry under ``root`` as (path relative to root, lstat), breadth first.

    Raises :class:`TreeTooLarge` past ``max_depth`` levels or ``max_entries`` entries.
    """
    pending: list[tuple[str, int]] = [("", 0)]
    seen = 0
    while pending:
        relative, depth = pending.pop()
        folder = os.path.join(root, relative) if relative else str(root)
        with os.scandir(folder) as entries:
            for entry in entries:
                seen += 1
                if seen > max_entries:
                    raise TreeTooLarge(f"{root} holds more than {max_entries} entries.")
                info = entry.stat(follow_symlinks=False)
                path = os.path.join(relative, entry.name) if relative else entry.name
                yield path, info
                if stat.S_ISDIR(info.st_mode):
                    if depth + 1 >= max_depth:
                        raise TreeTooLarge(f"{root} is more than {max_depth} folders deep.")
                    pending.append((path, depth + 1))


def remove(path: Path) -> None:
    """Remove ``path`` and everything under it, however deep; a missing path is fine."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return
    root = os.open(path, _DIR_FLAGS)
    try:
        _empty_folder(root)
    finally:
        os.close(root)
    os.rmdir(path)


def empty(path: Path) -> None:
    """Remove everything under the folder ``path``, keeping the folder."""
    root = os.open(path, _DIR_FLAGS)
    try:
        _empty_folder(root)
    finally:
        os.close(root)


def _empty_folder(root: int) -> None:
    # A stack of open folders (descriptor, its name in the one below). A folder found deeper
    # than _OPEN_FOLDERS is renamed to the top first, so the stack, and the descriptors held,
    # stay small however deep the tree is.
    stack: list[tuple[int, str]] = [(root, "")]
    try:
        while stack:
            fd = stack[-1][0]
            child = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.name, dir_fd=fd)
            if child is None:
                if len(stack) == 1:
                    return
                _, name = stack.pop()
                os.close(fd)
                os.rmdir(name, dir_fd=stack[-1][0])
            elif len(stack) >= _OPEN_FOLDERS:
                os.rename(child, f".up-{secrets.token_hex(8)}", src_dir_fd=fd, dst_dir_fd=root)
            else:
                stack.append((os.open(child, _DIR_FLAGS, dir_fd=fd), child))
    finally:
        for fd, _ in stack[1:]:
            os.close(fd)
