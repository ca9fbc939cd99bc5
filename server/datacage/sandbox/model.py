"""What a caller gives the sandbox (limits) and what it gets back (a run and its outcome)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxLimits:
    """Ceilings for one run; every one of them is enforced by the kernel or by the watcher."""

    cpu_seconds: int = 60  # RLIMIT_CPU, per process
    memory_bytes: int = 1 << 30  # RLIMIT_AS, per process
    file_size_bytes: int = 64 << 20  # RLIMIT_FSIZE: the largest file it may write
    processes: int = 64  # RLIMIT_NPROC of the sandbox user (see docs/algorithm-runtime.md)
    wall_seconds: float = 120.0  # then the whole sandbox is killed
    output_bytes: int = 16 << 20  # all of /output together
    log_bytes: int = 256 << 10  # the tail of stdout + stderr + ctx.log that is kept
    tmp_bytes: int = 64 << 20  # the private tmpfs at /tmp and /dev/shm inside the sandbox
    output_files: int = 10_000  # entries in /output (a flood of tiny files costs inodes)
    tmp_files: int = 10_000  # inodes in /tmp and /dev/shm together (each costs kernel memory)


class Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the algorithm raised, or exited non-zero
    TIMED_OUT = "timed out"  # wall-clock limit
    CPU_LIMIT = "cpu limit"
    MEMORY_LIMIT = "memory limit"
    OUTPUT_TOO_LARGE = "output too large"
    OUTPUT_REFUSED = "output refused"  # /output held a folder, a link, a pipe...: not kept
    REFUSED = "refused"  # never started, e.g. the bundle is not the approved one


@dataclass(frozen=True)
class SandboxRun:
    outcome: Outcome
    reason: str  # plain words for the code provider; never a traceback
    exit_code: int | None
    duration_s: float
    log: str  # the algorithm's own output, its tail if it was too long (and it says so)
    progress: float  # the last fraction it reported, 0..1
