"""The run's three file systems, made and filled before the sandbox starts (see :mod:`.mounts`).

- ``in``: the bundle, the runtime, a copy of the staged inputs and the /proc stand-ins,
  owned by root and readable to the run, sized to what it holds; bound read-only.
- ``out``: /output, owned by the run's uid, ``output_bytes`` (plus one page, so that a byte
  over the limit shows) and ``output_files`` inodes.
- ``scratch``: /tmp and /dev/shm together, owned by the run's uid, ``tmp_bytes`` and
  ``tmp_files`` inodes.

The inputs are copied, not bound: a bind would show the host path of the run's folder in
/proc/self/mountinfo, and a copy in memory is gone when the run is. It costs their size in
memory for the length of the run.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import tree, workspace
from .ids import SandboxIds
from .model import SandboxLimits
from .mounts import Tmpfs, detached_tmpfs
from .procfs import masks

_PAGE = 4096
_SLACK_BYTES, _SLACK_INODES = 256 << 10, 64


@dataclass
class RunFilesystems:
    inputs: Tmpfs
    output: Tmpfs
    scratch: Tmpfs
    proc_masks: tuple[str, ...]

    def attachments(self) -> list[tuple[int, str]]:
        """(mount descriptor, name under the staging folder) for the launcher."""
        return [(self.inputs.fd, "in"), (self.output.fd, "out"), (self.scratch.fd, "scratch")]

    def close(self) -> None:
        """Let the file systems go. Releasing a detached mount waits for an RCU grace period
        (about 8 ms each here), so that happens on a thread of its own, not in the run's time:
        nothing can reach them any more, and their memory is freed a moment later."""
        held = [self.inputs, self.output, self.scratch]
        fds = [fs.fd for fs in held]
        for fs in held:
            fs.fd = -1
        threading.Thread(target=_close_all, args=(fds,), name="sandbox-unmount").start()


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


def build(
    files: Mapping[str, bytes],
    entry_point: str,
    parameters: Mapping[str, object],
    status_fd: int,
    inputs_dir: Path,
    limits: SandboxLimits,
    ids: SandboxIds,
) -> RunFilesystems:
    entries = list(tree.walk(inputs_dir, max_depth=workspace.MAX_DEPTH,
                             max_entries=workspace.MAX_ENTRIES))  # fmt: skip
    proc = masks(limits)
    size = sum(_pages(len(data)) for data in files.values())
    size += sum(_pages(info.st_size) for _, info in entries) + _SLACK_BYTES
    size += sum(_pages(len(data)) for data in proc.values())
    inodes = len(files) * 2 + len(entries) + len(proc) + _SLACK_INODES
    opened: list[Tmpfs] = []
    try:
        inputs = detached_tmpfs(size, inodes)
        opened.append(inputs)
        root = Path(inputs.path)
        workspace.write_bundle(files, root / "bundle", owner=None)
        workspace.write_runtime(root / "runtime", entry_point, parameters, status_fd, owner=None)
        _copy_inputs(inputs_dir, entries, root / "input")
        (root / "proc").mkdir(mode=0o755)
        for name, data in proc.items():
            (root / "proc" / name).write_bytes(data)
            os.chmod(root / "proc" / name, 0o444)
        output = detached_tmpfs(limits.output_bytes + _PAGE, limits.output_files + 1,
                                mode=0o700, uid=ids.uid, gid=ids.gid)  # fmt: skip
        opened.append(output)
        # The worker must be able to read what the run leaves (root reading a folder of the
        # run's uid needs CAP_DAC_OVERRIDE): find out now, not after the run.
        os.close(os.open(output.path, os.O_RDONLY | os.O_DIRECTORY))
        scratch = detached_tmpfs(limits.tmp_bytes, limits.tmp_files + 3)
        opened.append(scratch)
        for name in ("tmp", "shm"):
            folder = Path(scratch.path) / name
            folder.mkdir(mode=0o700)
            os.chown(folder, ids.uid, ids.gid)
    except BaseException:
        for fs in opened:
            fs.close()
        raise
    return RunFilesystems(inputs, output, scratch, tuple(proc))


def _copy_inputs(source: Path, entries: list[tuple[str, os.stat_result]], target: Path) -> None:
    """The staged inputs, folders 0755 and files 0444; links and odd files are left out."""
    target.mkdir(mode=0o755)
    target.chmod(0o755)
    for relative, info in entries:  # breadth first: a folder comes before what it holds
        destination = target / relative
        if stat.S_ISDIR(info.st_mode):
            destination.mkdir(mode=0o755)
            destination.chmod(0o755)
        elif stat.S_ISREG(info.st_mode):
            _copy_file(source / relative, destination)


def _copy_file(source: Path, destination: Path) -> None:
    reader = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        writer = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
        try:
            left = os.fstat(reader).st_size
            while left > 0:
                sent = os.sendfile(writer, reader, None, min(left, 1 << 30))
                if sent == 0:
                    break
                left -= sent
            os.fchmod(writer, 0o444)
        finally:
            os.close(writer)
    finally:
        os.close(reader)


def _pages(size: int) -> int:
    return -(-size // _PAGE) * _PAGE + _PAGE
