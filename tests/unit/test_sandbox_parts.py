"""The sandbox's host-side parts on their own: iterative walks and removal, leased ids, the
detached tmpfs and the flat copy-out. The whole sandbox is in tests/integration/test_sandbox*.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.datacage.sandbox import tree
from server.datacage.sandbox.ids import IdPool, NoFreeId, _named_ids
from server.datacage.sandbox.model import SandboxLimits
from server.datacage.sandbox.mounts import detached_tmpfs
from server.datacage.sandbox.output import OutputRefused, OutputTooLarge, copy_out

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture(autouse=True)
def _no_deep_tree_left(tmp_path):
    """pytest's own clean-up of old temporary folders recurses: never leave a deep tree."""
    yield
    for entry in tmp_path.iterdir():
        tree.remove(entry)


def _deep(folder: Path, depth: int) -> None:
    fd = os.open(folder, os.O_RDONLY)
    for n in range(depth):
        os.mkdir("d", dir_fd=fd)
        if n % 100 == 0:
            os.close(os.open("file", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd))
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.symlink("/etc", "link", dir_fd=fd)
    os.close(fd)


def test_a_tree_deeper_than_the_recursion_limit_is_removed_without_following_links(tmp_path):
    (tmp_path / "top").mkdir()
    _deep(tmp_path / "top", sys.getrecursionlimit() + 200)
    tree.remove(tmp_path / "top")
    assert not (tmp_path / "top").exists()
    assert Path("/etc/passwd").exists()  # the link's target was not touched


def test_emptying_keeps_the_folder_and_removing_a_missing_path_is_fine(tmp_path):
    (tmp_path / "keep").mkdir()
    _deep(tmp_path / "keep", 50)
    tree.empty(tmp_path / "keep")
    assert list((tmp_path / "keep").iterdir()) == []
    tree.remove(tmp_path / "not-there")


def test_walking_stops_at_its_caps_instead_of_recursing(tmp_path):
    (tmp_path / "top").mkdir()
    _deep(tmp_path / "top", 1500)
    with pytest.raises(tree.TreeTooLarge, match="deep"):
        list(tree.walk(tmp_path / "top", max_depth=64, max_entries=10**6))
    with pytest.raises(tree.TreeTooLarge, match="entries"):
        list(tree.walk(tmp_path / "top", max_depth=10**4, max_entries=100))
    found = list(tree.walk(tmp_path / "top", max_depth=10**4, max_entries=10**6))
    assert len(found) == 1500 + 15 + 1  # folders, a file every 100, the link
    tree.remove(tmp_path / "top")


def test_leases_are_fresh_ids_no_one_holds_and_are_given_back(tmp_path):
    pool = IdPool(2_000_000_000, 2_000_000_003, lock_dir=tmp_path / "locks")
    with pool.lease() as first, pool.lease() as second:
        assert first.uid != second.uid
        assert first.uid == first.gid
        assert not {first.uid, second.uid} & _named_ids()
        # Another worker process on the host sees the same uids as taken (flock).
        held = subprocess.run(
            [sys.executable, "-c", _OTHER_WORKER, str(tmp_path / "locks"), str(first.uid)],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert held == "held"
    assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == []  # given back


_OTHER_WORKER = """
import fcntl, os, sys
fd = os.open(os.path.join(sys.argv[1], sys.argv[2]), os.O_RDWR | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free")
except BlockingIOError:
    print("held")
"""


@root_only
def test_an_id_a_running_process_holds_is_never_leased(tmp_path):
    uid = 2_000_000_123  # a leftover of some earlier run, still running
    holder = subprocess.Popen(
        ["/bin/sleep", "30"], preexec_fn=lambda: (os.setgid(uid), os.setuid(uid))
    )
    try:
        pool = IdPool(uid, uid, lock_dir=tmp_path / "locks")
        with pytest.raises(NoFreeId), pool.lease():
            pass
    finally:
        holder.kill()
        holder.wait()
    with pool.lease() as leased:  # once it has ended, the id is free again
        assert leased.uid == uid


def test_an_unusable_range_or_a_shared_lock_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not usable"):
        IdPool(0, 10)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(PermissionError, match="private"), IdPool(lock_dir=shared).lease():
        pass


@root_only
def test_a_detached_tmpfs_counts_allocated_blocks_and_inodes():
    fs = detached_tmpfs(64 << 10, 4)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
        fd = os.open(f"{fs.path}/a", os.O_CREAT | os.O_WRONLY, 0o600)
        assert libc.fallocate(fd, 1, 0, 1 << 20) == -1  # KEEP_SIZE, past the size
        assert ctypes.get_errno() == 28  # ENOSPC
        assert libc.fallocate(fd, 1, 0, 32 << 10) == 0
        os.close(fd)
        assert fs.used() == (32 << 10, 2)
        os.close(os.open(f"{fs.path}/b", os.O_CREAT, 0o600))
        os.close(os.open(f"{fs.path}/c", os.O_CREAT, 0o600))
        with pytest.raises(OSError, match="No space"):
            os.close(os.open(f"{fs.path}/d", os.O_CREAT, 0o600))
    finally:
        fs.close()


@root_only
@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda root: os.mkdir(f"{root}/sub"), "a folder"),
        (lambda root: os.symlink("/etc/passwd", f"{root}/x.ttl"), "a symbolic link"),
        (lambda root: os.mkfifo(f"{root}/x.ttl"), "a named pipe"),
        (lambda root: os.link(f"{root}/ok.ttl", f"{root}/x.ttl"), "a hard link"),
        (lambda root: Path(f"{root}/.hidden").write_text("x"), "hidden"),
        (lambda root: Path(f"{root}/a\nb").write_text("x"), "control characters"),
    ],
)
def test_only_flat_plain_files_are_copied_out_and_a_refusal_keeps_nothing(tmp_path, make, problem):
    fs = detached_tmpfs(1 << 20, 100)
    try:
        Path(f"{fs.path}/ok.ttl").write_text("# fine\n")
        make(fs.path)
        with pytest.raises(OutputRefused, match=problem):
            copy_out(fs, tmp_path, SandboxLimits())
        assert list(tmp_path.iterdir()) == []
    finally:
        fs.close()


@root_only
def test_a_sparse_file_or_too_many_files_are_too_large(tmp_path):
    fs = detached_tmpfs(1 << 20, 100)
    try:
        with open(f"{fs.path}/sparse.ttl", "wb") as out:
            out.truncate(8 << 20)
        with pytest.raises(OutputTooLarge):
            copy_out(fs, tmp_path, SandboxLimits(output_bytes=1 << 20))
        os.unlink(f"{fs.path}/sparse.ttl")
        for n in range(5):
            Path(f"{fs.path}/{n}.ttl").write_text("x")
        with pytest.raises(OutputTooLarge):
            copy_out(fs, tmp_path, SandboxLimits(output_files=4))
        assert copy_out(fs, tmp_path, SandboxLimits()) == [f"{n}.ttl" for n in range(5)]
        assert (tmp_path / "3.ttl").read_text() == "x"
        assert (tmp_path / "3.ttl").stat().st_mode & 0o777 == 0o600
    finally:
        fs.close()
