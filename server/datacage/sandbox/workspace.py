"""The run's files: the bundle written out, the runtime, and who owns what.

``run_algorithm`` writes the bundle and the runtime into the run's own detached tmpfs
(:mod:`.mounts`), owned by root and readable to the sandbox, so nothing of the run is on the
host's disk and nothing on the host is ever owned by the run's uid. The helpers that hand a
host folder to a sandbox user and back (``hand_over``) stay for callers that bind host
folders themselves; every walk here is iterative and capped (:mod:`.tree`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from . import tree

#: The old shared sandbox user; ``run_algorithm`` leases a fresh uid per run instead (.ids).
SANDBOX_UID = SANDBOX_GID = 65534
#: The uid and gid the algorithm sees for itself inside (its host uid is the leased one).
INSIDE_ID = 1000
#: Caps for walking a tree the datacage staged itself (inputs): far beyond any real layout.
MAX_DEPTH, MAX_ENTRIES = 64, 1_000_000
_Owner = tuple[int, int] | None
BOOTSTRAP = Path(__file__).with_name("bootstrap.py")


def make_run_dir(work_dir: Path) -> Path:
    run_dir = Path(work_dir) / f"sandbox-{secrets.token_hex(8)}"
    run_dir.mkdir(mode=0o700, parents=True)
    return run_dir


def write_bundle(
    files: Mapping[str, bytes], target: Path, *, owner: _Owner = (SANDBOX_UID, SANDBOX_GID)
) -> None:
    """Write the bundle files (paths already checked by the digest) read-only for the run;
    ``owner=None``: folders stay the writer's, 0755 (in a tmpfs only the run can reach)."""
    _sandbox_dir(target, owner)
    for path, data in files.items():
        destination = target.joinpath(*path.split("/"))
        for folder in reversed(destination.relative_to(target).parents[:-1]):
            if not (target / folder).exists():
                _sandbox_dir(target / folder, owner)
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(destination, 0o444)  # the umask may have taken bits away


def write_runtime(
    target: Path,
    entry_point: str,
    parameters: Mapping[str, object],
    status_fd: int,
    *,
    owner: _Owner = (SANDBOX_UID, SANDBOX_GID),
) -> None:
    """The bootstrap and what it needs to know: entry point, parameters (JSON), status pipe."""
    _sandbox_dir(target, owner)
    run = {"entry_point": entry_point, "parameters": dict(parameters), "status_fd": status_fd}
    for name, data in (
        ("bootstrap.py", BOOTSTRAP.read_bytes()),
        ("run.json", json.dumps(run).encode()),
    ):
        (target / name).write_bytes(data)
        os.chmod(target / name, 0o444)


def prepare_output(output_dir: Path) -> None:
    output_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if any(output_dir.iterdir()):
        raise ValueError(f"The output folder {output_dir} must be empty before a run.")
    output_dir.chmod(0o700)


def hand_over(tree_root: Path, uid: int, gid: int) -> None:
    """Give every entry of ``tree_root`` to ``uid:gid`` without following links out of it."""
    os.lchown(tree_root, uid, gid)
    for relative, _ in tree.walk(tree_root, max_depth=MAX_DEPTH, max_entries=MAX_ENTRIES):
        os.lchown(os.path.join(tree_root, relative), uid, gid)


def output_size(output_dir: Path, max_entries: int) -> tuple[int, int]:
    """(bytes, entries) in a host output folder: each entry counted by the larger of its
    size and the blocks it holds (``fallocate`` reserves blocks without changing the size)."""
    total = entries = 0
    try:
        for _, info in tree.walk(output_dir, max_depth=MAX_DEPTH, max_entries=max_entries):
            entries += 1
            total += max(info.st_size, info.st_blocks * 512)
    except tree.TreeTooLarge:
        return total, max_entries + 1
    return total, entries


def empty(folder: Path) -> None:
    tree.empty(folder)


def wipe(path: Path) -> None:
    """Remove a run's folder; safe to call more than once, on a half-made or deep folder."""
    # As shutil.rmtree(ignore_errors=True) did; whatever is left, the worker's sweep takes.
    with contextlib.suppress(OSError):
        tree.remove(path)


def _sandbox_dir(path: Path, owner: _Owner = (SANDBOX_UID, SANDBOX_GID)) -> None:
    # 0700 and owned by the sandbox user: readable to the run, to no one else but root. With
    # no owner, the folder is in the run's own tmpfs and must be readable to the run's uid.
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700 if owner else 0o755)
    if owner:
        os.chown(path, *owner)
