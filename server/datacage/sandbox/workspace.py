"""The run's folders on the host: the bundle written out, the runtime, and who owns what.

The sandbox runs as the host's ``nobody`` (uid 65534), so for the length of a run the folders
it reads or writes are handed to that uid; afterwards they are handed back, so nothing that
runs as ``nobody`` elsewhere on the host can touch an output the gate has yet to read. The
run's own folder (bundle and runtime) is removed on every path out of ``run_algorithm``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path

SANDBOX_UID = SANDBOX_GID = 65534
BOOTSTRAP = Path(__file__).with_name("bootstrap.py")


def make_run_dir(work_dir: Path) -> Path:
    run_dir = Path(work_dir) / f"sandbox-{secrets.token_hex(8)}"
    run_dir.mkdir(mode=0o700, parents=True)
    return run_dir


def write_bundle(files: Mapping[str, bytes], target: Path) -> None:
    """Write the bundle files (paths already checked by the digest) read-only for the run."""
    _sandbox_dir(target)
    for path, data in files.items():
        destination = target.joinpath(*path.split("/"))
        for folder in reversed(destination.relative_to(target).parents[:-1]):
            if not (target / folder).exists():
                _sandbox_dir(target / folder)
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(destination, 0o444)  # the umask may have taken bits away


def write_runtime(
    target: Path, entry_point: str, parameters: Mapping[str, object], status_fd: int
) -> None:
    """The bootstrap and what it needs to know: entry point, parameters (JSON), status pipe."""
    _sandbox_dir(target)
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


def hand_over(tree: Path, uid: int, gid: int) -> None:
    """Give every entry of ``tree`` to ``uid:gid`` without following links out of it."""
    os.lchown(tree, uid, gid)
    for folder, subfolders, names in os.walk(tree):
        for name in subfolders + names:
            os.lchown(os.path.join(folder, name), uid, gid)


def output_size(output_dir: Path, max_entries: int) -> tuple[int, int]:
    """(bytes, entries) in the output, counting links and odd files by their own size."""
    total = entries = 0
    for folder, subfolders, names in os.walk(output_dir):
        for name in subfolders + names:
            entries += 1
            total += os.lstat(os.path.join(folder, name)).st_size
            if entries > max_entries:
                return total, entries
    return total, entries


def empty(folder: Path) -> None:
    for entry in list(folder.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def wipe(path: Path) -> None:
    """Remove a run's folder; safe to call more than once and on a half-made folder."""
    shutil.rmtree(path, ignore_errors=True)


def _sandbox_dir(path: Path) -> None:
    # 0700 and owned by the sandbox user: readable to the run, to no one else but root.
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    os.chown(path, SANDBOX_UID, SANDBOX_GID)
