"""What the sandbox costs per run, against the same bootstrap run by plain ``python -I -S``.

A trivial algorithm (it reads the input index of two people and returns one line of Turtle) is
run through `server.datacage.sandbox.run_algorithm` exactly as the worker runs it (digest
check, a uid leased, the run's three tmpfs file systems made and filled, the launch request to
the worker's launcher process, its child's private mount namespace, rlimits and uid, then
bubblewrap, seccomp, the watcher, the output copied out) and, in the same process, by the
same bootstrap with the same base interpreter and no isolation at all. This process imports
the worker's module first, so it is as large as a worker (`rss_mb`), which is what a fork
from it costs. Rounds alternate A-B-B-A so drift on a shared machine hits both alike; one
warm-up run of each is not counted (it starts the launcher and finds the libraries).

Two spans, both medians: the whole run (`*_run_ms_median`; their difference is the last
line, `sandbox_overhead_ms`), and from the call to the algorithm's first line, read from
the host's monotonic clock inside (`*_to_first_line_ms_median`, `first_line_overhead_ms`;
the sandbox has no time namespace).

Where the time goes: the parent's own steps are timed alone (`lease_ms`, `filesystems_ms`),
and bubblewrap is started with ``python -I -S -c pass`` as the command (no bootstrap, no
watcher), by the launcher as the worker does it, with its whole command line and then
without each group of options (`bwrap_*_ms`), so each group's cost is the difference; and
once more forked from this process with the steps in a ``preexec_fn``, as it was before
the launcher (`bwrap_all_forked_ms`).

    python bench/sandbox_start.py [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import server.datacage.worker  # noqa: F401 - this process as big as a worker, as forks go
from server.algorithms import build_bundle, read_bundle
from server.datacage.sandbox import Outcome, SandboxLimits, run_algorithm, staging
from server.datacage.sandbox.command import command, run_binds
from server.datacage.sandbox.ids import IdPool
from server.datacage.sandbox.interpreter import host_interpreter
from server.datacage.sandbox.launch import preexec, staging_point
from server.datacage.sandbox.launcher import INFO_FD, SECCOMP_FD, LaunchPlan, default_launcher
from server.datacage.sandbox.seccomp import filter_bpf
from server.datacage.sandbox.workspace import BOOTSTRAP, INSIDE_ID

MANIFEST = """[algorithm]
name = "bench-trivial"
version = "1.0.0"
description = "Reads the index and says how many people there are."
entry_point = "trivial:run"
events = ["BENCH"]
output_shape = "shapes/out.ttl"
"""
SHAPE = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <https://example.org/bench#> .
ex:S a sh:NodeShape ; sh:targetClass ex:Report .
"""
ALGORITHM = """import time


def run(ctx):
    ctx.log(f"first-line {time.monotonic()}")  # the host's clock: no time namespace inside
    ctx.progress(1.0)
    return f"<https://example.org/bench#r> <https://example.org/bench#people> {len(ctx.people)} ."
"""


def make_bundle(root: Path):
    (root / "shapes").mkdir(parents=True)
    (root / "manifest.toml").write_text(MANIFEST)
    (root / "shapes" / "out.ttl").write_text(SHAPE)
    (root / "trivial.py").write_text(ALGORITHM)
    return read_bundle(build_bundle(root))


def stage(inputs: Path) -> None:
    inputs.mkdir(mode=0o700)
    people = []
    for n in (1, 2):
        (inputs / f"person-{n}").mkdir(mode=0o700)
        (inputs / f"person-{n}" / "1").write_text("order,amount\n1,2\n")
        resource = {"file": f"person-{n}/1", "name": "orders.csv", "content_type": "text/csv"}
        people.append({"id": f"person-{n}", "resources": [resource]})
    (inputs / "index.json").write_text(json.dumps({"people": people}))


def first_line(log: str, started: float) -> float:
    """Seconds from ``started`` (time.monotonic) to the algorithm's first line."""
    line = next(line for line in log.splitlines() if line.startswith("first-line "))
    return float(line.split()[1]) - started


def sandboxed(bundle, root: Path) -> tuple[float, float]:
    """The whole run, and the time to the algorithm's first line, in seconds."""
    output = root / "out-sandbox"
    started, clock = time.perf_counter(), time.monotonic()
    ran = run_algorithm(bundle.files, bundle.digest, root / "input", output, {}, work_dir=root)
    elapsed = time.perf_counter() - started
    if ran.outcome is not Outcome.SUCCEEDED:
        raise SystemExit(f"the sandboxed run failed: {ran.reason}\n{ran.log}")
    shutil.rmtree(output)
    return elapsed, first_line(ran.log, clock)


def plain(bundle, root: Path) -> tuple[float, float]:
    """The same bootstrap on the same files, by plain ``python -I -S -B``: no isolation."""
    source, output, runtime = root / "plain-bundle", root / "out-plain", root / "plain-runtime"
    started, clock = time.perf_counter(), time.monotonic()
    for path, data in bundle.files.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_bytes(data)
    output.mkdir()
    runtime.mkdir()
    reader, writer = os.pipe()
    paths = {"bundle": str(source), "input": str(root / "input"), "output": str(output)}
    run = {"entry_point": "trivial:run", "parameters": {}, "status_fd": writer, "paths": paths}
    (runtime / "run.json").write_text(json.dumps(run))
    executable = str(host_interpreter().executable)
    argv = [executable, "-I", "-S", "-B", str(BOOTSTRAP), str(runtime / "run.json")]
    process = subprocess.run(argv, pass_fds=(writer,), capture_output=True, check=False)
    os.close(writer)
    with os.fdopen(reader, "rb") as status:
        done = b'"done": true' in status.read()
    elapsed = time.perf_counter() - started
    if process.returncode or not done or not (output / "result.ttl").exists():
        raise SystemExit(f"the plain run failed: {process.stderr.decode()}")
    for folder in (source, output, runtime):
        shutil.rmtree(folder)
    return elapsed, first_line(process.stderr.decode(), clock)


def _median_ms(action, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def parts(bundle, root: Path, rounds: int) -> dict[str, float]:
    """The parent's steps alone, and bwrap (running ``python -c pass``) without each group,
    started as the worker starts it (by its launcher) and, for comparison, forked from this
    process as it was before the launcher (``bwrap_all_forked_ms``)."""
    pool, limits = IdPool(), SandboxLimits()

    def lease() -> None:
        with pool.lease():
            pass

    def filesystems(ids):
        return staging.build(bundle.files, "trivial:run", {}, 3, root / "input", limits, ids)

    figures = {"lease_ms": _median_ms(lease, rounds)}
    interpreter, stage = host_interpreter(), staging_point()
    seccomp = os.memfd_create("bench-seccomp", 0)
    os.write(seccomp, filter_bpf())
    with pool.lease() as ids:
        figures["filesystems_ms"] = _median_ms(lambda: filesystems(ids).close(), rounds)
        built = filesystems(ids)
        try:
            full = run_binds(interpreter, built.proc_masks)
            variants = {
                "bwrap_all": full,
                "bwrap_without_sdk": [
                    b for b in full if not b.target.startswith("/usr/lib/datacage")
                ],
                "bwrap_without_proc_masks": [b for b in full if not b.target.startswith("/proc/")],
            }
            for name, staged in variants.items():
                figures[f"{name}_ms"] = _median_ms(
                    lambda s=staged: _launched(interpreter, s, stage, limits, seccomp, ids, built),
                    rounds,
                )
            launch = preexec(
                stage, full, limits, uid=ids.uid, gid=ids.gid, filesystems=built.attachments()
            )
            figures["bwrap_all_forked_ms"] = _median_ms(
                lambda: _forked(interpreter, full, stage, limits, seccomp, launch), rounds
            )
        finally:
            built.close()
            os.close(seccomp)
    return figures


def _pass_argv(interpreter, staged, stage, limits, seccomp_fd, info_fd) -> list[str]:
    argv = command(interpreter, staged, stage, limits, seccomp_fd, info_fd, inside_id=INSIDE_ID)
    return [*argv[: argv.index("--") + 1], str(interpreter.executable), "-I", "-S", "-c", "pass"]


def _launched(interpreter, staged, stage, limits, seccomp, ids, built) -> None:
    """As the worker does it: by the launcher, and waited for as the worker's own child."""
    os.lseek(seccomp, 0, os.SEEK_SET)
    reader, writer = os.pipe()
    try:
        argv = _pass_argv(interpreter, staged, stage, limits, SECCOMP_FD, INFO_FD)
        plan = LaunchPlan(
            argv, stage, staged, limits, ids.uid, ids.gid, log_fd=writer, status_fd=writer,
            seccomp_fd=seccomp, info_fd=writer, filesystems=built.attachments(),
        )  # fmt: skip
        pid = default_launcher().launch(plan).pid
        _, status = os.waitpid(pid, 0)
        if status:
            raise SystemExit(f"bwrap ended with status {status}")
    finally:
        os.close(reader)
        os.close(writer)


def _forked(interpreter, staged, stage, limits, seccomp, launch) -> None:
    """As before the launcher: forked from this (big) process, the steps in preexec_fn."""
    os.lseek(seccomp, 0, os.SEEK_SET)
    reader, writer = os.pipe()
    argv = _pass_argv(interpreter, staged, stage, limits, seccomp, writer)
    subprocess.run(argv, pass_fds=(seccomp, writer), preexec_fn=launch, env={}, check=True)
    os.close(reader)
    os.close(writer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as name:
        root = Path(name)
        bundle = make_bundle(root / "src")
        stage(root / "input")
        first_sandbox, first_plain = sandboxed(bundle, root)[0], plain(bundle, root)[0]  # warm-up
        times: dict[str, list[float]] = {"sandbox": [], "plain": []}
        to_first_line: dict[str, list[float]] = {"sandbox": [], "plain": []}
        for index in range(rounds):
            order = ("sandbox", "plain") if index % 2 == 0 else ("plain", "sandbox")
            for which in order:
                run = sandboxed if which == "sandbox" else plain
                elapsed, first = run(bundle, root)
                times[which].append(elapsed)
                to_first_line[which].append(first)
        breakdown = parts(bundle, root, rounds)
    sandbox_ms = statistics.median(times["sandbox"]) * 1000
    plain_ms = statistics.median(times["plain"]) * 1000
    sandbox_first_ms = statistics.median(to_first_line["sandbox"]) * 1000
    plain_first_ms = statistics.median(to_first_line["plain"]) * 1000
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"python={sys.version.split()[0]} rounds={rounds} rss_mb={rss_mb:.0f}")
    print(f"first_sandbox_run_ms={first_sandbox * 1000:.1f}")
    print(f"first_plain_run_ms={first_plain * 1000:.1f}")
    print(f"sandbox_run_ms_min={min(times['sandbox']) * 1000:.1f}")
    print(f"plain_run_ms_min={min(times['plain']) * 1000:.1f}")
    print(f"sandbox_run_ms_median={sandbox_ms:.1f}")
    print(f"plain_run_ms_median={plain_ms:.1f}")
    print(f"sandbox_to_first_line_ms_median={sandbox_first_ms:.1f}")
    print(f"plain_to_first_line_ms_median={plain_first_ms:.1f}")
    print(f"first_line_overhead_ms={sandbox_first_ms - plain_first_ms:.1f}")
    for name, value in breakdown.items():
        print(f"{name}={value:.1f}")
    print(f"sandbox_overhead_ratio={sandbox_ms / plain_ms:.2f}")
    print(f"sandbox_overhead_ms={sandbox_ms - plain_ms:.1f}")


if __name__ == "__main__":
    main()
