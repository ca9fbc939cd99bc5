"""Neutral stand-ins for the few /proc files that describe the host rather than the run.

A fresh procfs shows the sandbox's own processes, but ``/proc/meminfo``, ``/proc/stat``,
``/proc/loadavg`` and ``/proc/uptime`` are the host's: its memory, its CPU counters, its load
and how long it has been up, which let a run learn about (and signal to) whatever else runs on
the machine. Each is replaced, read-only, by a file that describes the run's own limits.
``/proc/stat`` keeps one ``cpuN`` line per CPU the run may use, because glibc counts them
there for ``os.cpu_count()`` when /sys is absent (as it is).
"""

from __future__ import annotations

import os

from .model import SandboxLimits


def masks(limits: SandboxLimits) -> dict[str, bytes]:
    """File name under /proc -> the content the run reads there instead."""
    kib = limits.memory_bytes // 1024
    meminfo = "".join(
        f"{name + ':':<16}{value:>8} kB\n"
        for name, value in (
            ("MemTotal", kib),
            ("MemFree", kib),
            ("MemAvailable", kib),
            ("Buffers", 0),
            ("Cached", 0),
            ("SwapCached", 0),
            ("SwapTotal", 0),
            ("SwapFree", 0),
        )
    )
    cpus = len(os.sched_getaffinity(0))
    zeros = " 0" * 10
    stat = f"cpu {zeros}\n" + "".join(f"cpu{n}{zeros}\n" for n in range(cpus))
    stat += "intr 0\nctxt 0\nbtime 0\nprocesses 1\nprocs_running 1\nprocs_blocked 0\nsoftirq 0\n"
    return {
        "meminfo": meminfo.encode(),
        "stat": stat.encode(),
        "loadavg": b"0.00 0.00 0.00 1/1 1\n",
        "uptime": b"0.00 0.00\n",
    }
