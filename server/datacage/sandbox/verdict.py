"""From what was observed of a run to its :class:`Outcome`, in words a code provider understands."""

from __future__ import annotations

import signal
from dataclasses import dataclass

from .model import Outcome, SandboxLimits
from .streams import StatusReader

_MIB = 1 << 20


@dataclass(frozen=True)
class Observed:
    exit_code: int  # as os.waitstatus_to_exitcode: negative for a signal
    cpu_seconds: float
    killed_for: str | None  # "wall" or "output" when the watcher stopped it
    output_too_large: bool
    log: str


def classify(seen: Observed, status: StatusReader, limits: SandboxLimits) -> tuple[Outcome, str]:
    if seen.killed_for == "wall":
        return Outcome.TIMED_OUT, (
            f"The algorithm was stopped after {limits.wall_seconds:g} s (wall-clock limit)."
        )
    if seen.killed_for == "output" or seen.output_too_large:
        return Outcome.OUTPUT_TOO_LARGE, too_large(limits)
    signal_number = _signal(seen.exit_code)
    if signal_number == signal.SIGXCPU or (
        signal_number == signal.SIGKILL and seen.cpu_seconds >= limits.cpu_seconds
    ):
        return Outcome.CPU_LIMIT, (
            f"The algorithm used up its {limits.cpu_seconds} s of CPU time (CPU limit) "
            "and was stopped."
        )
    error = status.error
    if (error and error["type"] == "MemoryError") or (
        seen.exit_code != 0 and "MemoryError" in seen.log[-4096:]
    ):
        return Outcome.MEMORY_LIMIT, (
            f"The algorithm ran out of memory (limit {_size(limits.memory_bytes)} of address "
            "space per process)."
        )
    if error:
        return Outcome.FAILED, _raised(error, limits)
    if signal_number is not None:
        name = signal.Signals(signal_number).name
        return Outcome.FAILED, f"The algorithm was ended by signal {name}."
    if seen.exit_code != 0:
        return Outcome.FAILED, _no_start(seen) or (
            f"The algorithm ended with exit status {seen.exit_code}."
        )
    if not status.done:
        return Outcome.FAILED, "The algorithm's process ended before the function returned."
    return Outcome.SUCCEEDED, "The algorithm finished."


def too_large(limits: SandboxLimits) -> str:
    return (
        f"The algorithm wrote more than {_size(limits.output_bytes)} or more than "
        f"{limits.output_files} files to its output folder (output limit); the output "
        "was deleted."
    )


def _raised(error: dict[str, str], limits: SandboxLimits) -> str:
    reason = f"The algorithm raised {error['type']}: {error['message']}".rstrip(": ")
    if error["type"] == "BlockingIOError" and "Resource temporarily unavailable" in reason:
        reason += f" (it reached the limit of {limits.processes} processes)"
    if error["type"] == "PermissionError":
        reason += " (the sandbox does not allow this)"
    return reason + ("" if reason.endswith(".") else ".")


def _signal(exit_code: int) -> int | None:
    # bwrap passes a signalled child on as 128 + the signal number; bwrap itself may be signalled.
    if exit_code < 0:
        return -exit_code
    if 128 < exit_code < 128 + 65:
        return exit_code - 128
    return None


def _no_start(seen: Observed) -> str | None:
    for line in seen.log.splitlines():
        if line.startswith("bwrap:"):
            return f"The sandbox could not start the algorithm ({line})."
    return None


def _size(value: int) -> str:
    return f"{value / _MIB:g} MiB" if value >= _MIB else f"{value} bytes"
