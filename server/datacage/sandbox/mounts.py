"""Detached tmpfs file systems for one run, made with the kernel's new mount API.

Each of the run's folders that the sandbox reads or writes (its inputs, its output, its
scratch space) is a tmpfs of its own, limited in bytes *and* in inodes. tmpfs counts pages as
they are allocated, so ``fallocate`` (even with ``FALLOC_FL_KEEP_SIZE``) and sparse tricks
cannot reserve more than the limit, and a flood of empty files stops at the inode limit.

The file systems are *detached* (``fsopen`` / ``fsmount``): they are in no mount table, not
the host's nor the worker's, and reachable only through the descriptor the worker holds. The
worker fills and reads them through ``/proc/self/fd/N``; the forked child clones them into
its private mount namespace (``open_tree`` + ``move_mount``) just before bubblewrap binds them.
Because each is the root of its own file system, ``/proc/self/mountinfo`` inside shows
``/input`` or ``/`` as the mount's root, never the host path of the run's folder. When the
worker closes the descriptor (or dies) the memory is freed: nothing is left on any disk.

The system call numbers are the same on every architecture (they were added after the tables
were unified, Linux 5.2).
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

_OPEN_TREE, _MOVE_MOUNT, _FSOPEN, _FSCONFIG, _FSMOUNT = 428, 429, 430, 431, 432
_FSOPEN_CLOEXEC = _FSMOUNT_CLOEXEC = 1
_FSCONFIG_SET_STRING, _FSCONFIG_CMD_CREATE = 1, 6
_MOUNT_ATTR_NOSUID, _MOUNT_ATTR_NODEV, _MOUNT_ATTR_NOEXEC = 0x2, 0x4, 0x8
_OPEN_TREE_CLONE, _OPEN_TREE_CLOEXEC, _AT_EMPTY_PATH = 1, 0o2000000, 0x1000
_MOVE_MOUNT_F_EMPTY_PATH, _AT_FDCWD = 0x4, -100

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")
    return result


@dataclass
class Tmpfs:
    """One detached tmpfs, held by its mount descriptor."""

    fd: int
    size_bytes: int
    inodes: int

    @property
    def path(self) -> str:
        """Its root, for this process only."""
        return f"/proc/self/fd/{self.fd}"

    def used(self) -> tuple[int, int]:
        """(bytes allocated, inodes in use): what the kernel counts, not what ``st_size`` says."""
        info = os.fstatvfs(self.fd)
        return (info.f_blocks - info.f_bfree) * info.f_frsize, info.f_files - info.f_ffree

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def detached_tmpfs(
    size_bytes: int, inodes: int, *, mode: int = 0o755, uid: int = 0, gid: int = 0
) -> Tmpfs:
    """A new tmpfs of at most ``size_bytes`` (rounded up to pages) and ``inodes`` inodes
    (its root folder is one), mounted nowhere; nosuid, nodev, noexec."""
    fs = _check(_syscall(_FSOPEN, b"tmpfs", _FSOPEN_CLOEXEC), "fsopen(tmpfs)")
    try:
        options = {
            "size": str(max(size_bytes, 4096)),
            "nr_inodes": str(max(inodes, 1)),
            "mode": f"{mode:o}",
            "uid": str(uid),
            "gid": str(gid),
        }
        for key, value in options.items():
            _check(
                _syscall(_FSCONFIG, fs, _FSCONFIG_SET_STRING, key.encode(), value.encode(), 0),
                f"tmpfs option {key}",
            )
        _check(_syscall(_FSCONFIG, fs, _FSCONFIG_CMD_CREATE, None, None, 0), "tmpfs create")
        attributes = _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV | _MOUNT_ATTR_NOEXEC
        fd = _check(_syscall(_FSMOUNT, fs, _FSMOUNT_CLOEXEC, attributes), "fsmount")
    finally:
        os.close(fs)
    return Tmpfs(fd, size_bytes, inodes)


def attacher():
    """A function for the forked child: attach a clone of a detached mount at a path.

    Made before the fork, so the child only makes the two system calls.
    """
    syscall, get_errno = _syscall, ctypes.get_errno
    clone_flags = _OPEN_TREE_CLONE | _OPEN_TREE_CLOEXEC | _AT_EMPTY_PATH

    def attach(fd: int, target: bytes) -> None:
        tree = syscall(_OPEN_TREE, fd, b"", clone_flags)
        if tree < 0:
            number = get_errno()
            raise OSError(number, f"open_tree: {os.strerror(number)}")
        try:
            if syscall(_MOVE_MOUNT, tree, b"", _AT_FDCWD, target, _MOVE_MOUNT_F_EMPTY_PATH) < 0:
                number = get_errno()
                raise OSError(number, f"move_mount: {os.strerror(number)}")
        finally:
            os.close(tree)

    return attach
