"""Blinding on every core: forked workers taking chunks from a queue until none are left.

``multiprocessing`` would need POSIX semaphores (``/dev/shm``), which the algorithm sandbox
does not have, and would pickle its inputs; a plain ``fork`` needs neither. The workers get
the inputs and the key by copy-on-write, take chunk numbers from a shared pipe (so a worker
slowed by a busy machine simply takes fewer chunks), and send back fixed-size elements on a
pipe of their own; the parent only collects. Where forking is refused (a process limit), the
work is done in this process.
"""

from __future__ import annotations

import os
import select
import struct
from collections.abc import Callable, Sequence

#: Below this, starting workers costs more than it saves.
MIN_PARALLEL = 2000
_CHUNKS_PER_WORKER = 8
#: At most this many workers: their chunk numbers must fit the task pipe's buffer at once.
MAX_WORKERS = 64
_TASK = struct.Struct("<I")
_HEADER = struct.Struct("<II")  # chunk number, bytes that follow


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def parallel_map(
    work: Callable[[Sequence], list[bytes]], items: Sequence, size: int, workers: int
) -> list[bytes]:
    """``work(items)`` computed in chunks by ``workers`` processes; results are ``size`` bytes."""
    if workers <= 1 or len(items) < MIN_PARALLEL:
        return work(items)
    workers = min(workers, MAX_WORKERS)
    step = -(-len(items) // (workers * _CHUNKS_PER_WORKER))
    chunks = [items[i : i + step] for i in range(0, len(items), step)]
    tasks_r, tasks_w = os.pipe()
    os.write(tasks_w, b"".join(_TASK.pack(n) for n in range(len(chunks))))  # < the pipe's 64 KiB
    os.close(tasks_w)
    children: dict[int, int] = {}  # result pipe -> pid
    try:
        for _ in range(workers):
            try:
                read_end, pid = _spawn(work, chunks, tasks_r, size)
            except OSError:  # e.g. EAGAIN under RLIMIT_NPROC: the others take the chunks
                break
            children[read_end] = pid
        if not children:
            return work(items)
        parts = _collect(children, size)
    finally:
        os.close(tasks_r)
    if sorted(parts) != list(range(len(chunks))):
        raise RuntimeError("a blinding worker process failed; nothing was matched")
    data = b"".join(parts[n] for n in range(len(chunks)))
    return [data[i : i + size] for i in range(0, len(data), size)]


def _spawn(work, chunks: list[Sequence], tasks_r: int, size: int) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker: take chunks until the queue is empty, then leave without cleanup
        code = 1
        try:
            os.close(read_end)
            while len(task := os.read(tasks_r, _TASK.size)) == _TASK.size:
                (number,) = _TASK.unpack(task)
                data = b"".join(work(chunks[number]))
                if len(data) != len(chunks[number]) * size:
                    break
                _write_all(write_end, _HEADER.pack(number, len(data)) + data)
            else:
                code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return read_end, pid


def _collect(children: dict[int, int], size: int) -> dict[int, bytes]:
    """Read every worker's results as they come (a full pipe would stall it), then reap."""
    buffers = {fd: bytearray() for fd in children}
    open_fds = set(children)
    failed = False
    try:
        while open_fds:
            ready, _, _ = select.select(list(open_fds), [], [])
            for fd in ready:
                block = os.read(fd, 1 << 20)
                if block:
                    buffers[fd] += block
                else:
                    open_fds.discard(fd)
    finally:
        for fd, pid in children.items():
            os.close(fd)
            _, status = os.waitpid(pid, 0)
            failed |= os.waitstatus_to_exitcode(status) != 0
    if failed:
        raise RuntimeError("a blinding worker process failed; nothing was matched")
    parts: dict[int, bytes] = {}
    for buffer in buffers.values():
        view, offset = memoryview(buffer), 0
        while offset < len(view):
            number, length = _HEADER.unpack_from(view, offset)
            offset += _HEADER.size
            parts[number] = bytes(view[offset : offset + length])
            offset += length
    return parts


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
