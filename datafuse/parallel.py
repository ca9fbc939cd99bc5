"""Blinding on every core: big contiguous chunks, one forked child per extra core.

``multiprocessing`` would need POSIX semaphores (``/dev/shm``), which the algorithm sandbox
does not have, and pickles its arguments; a plain ``fork`` needs neither. The children get the
inputs and the key by copy-on-write, send back fixed-size elements on a pipe and exit with
``os._exit``. Where forking is refused (a process limit), the work is done in this process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

#: Below this, starting a child costs more than it saves.
MIN_PARALLEL = 2000


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def parallel_map(
    work: Callable[[Sequence], list[bytes]], items: Sequence, size: int, workers: int
) -> list[bytes]:
    """``work(items)`` computed in ``workers`` chunks; each result element is ``size`` bytes."""
    if workers <= 1 or len(items) < MIN_PARALLEL:
        return work(items)
    step = -(-len(items) // workers)
    chunks = [items[i : i + step] for i in range(0, len(items), step)]
    children: list[tuple[int, int]] = []
    try:
        for chunk in chunks[1:]:
            children.append(_spawn(work, chunk))
    except OSError:  # e.g. EAGAIN under RLIMIT_NPROC: do the rest here
        pass
    done = len(children)
    results = [work(chunks[0])]
    results += [_collect(pid, fd, len(chunks[i + 1]), size) for i, (pid, fd) in enumerate(children)]
    for chunk in chunks[1 + done :]:
        results.append(work(chunk))
    return [element for part in results for element in part]


def _spawn(work: Callable[[Sequence], list[bytes]], chunk: Sequence) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without running any of the parent's cleanup
        code = 1
        try:
            os.close(read_end)
            data = memoryview(b"".join(work(chunk)))
            while data:
                data = data[os.write(write_end, data) :]
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _collect(pid: int, fd: int, count: int, size: int) -> list[bytes]:
    length, parts, received = count * size, [], 0
    try:
        while True:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            parts.append(block)
            received += len(block)
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or received != length:
        raise RuntimeError("a blinding worker process failed; nothing was matched")
    data = b"".join(parts)
    return [data[i : i + size] for i in range(0, length, size)]
