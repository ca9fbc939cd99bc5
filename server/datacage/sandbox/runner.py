"""``run_algorithm``: check the bundle is the approved one, run it sealed, watch it, report."""

from __future__ import annotations

import contextlib
import hmac
import os
import select
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from server.algorithms.digest import bundle_digest
from server.algorithms.errors import BundleError
from server.algorithms.manifest import parse_manifest
from server.algorithms.paths import MANIFEST_PATH

from . import staging, workspace
from .command import command, run_binds
from .ids import IdPool, SandboxIds, default_pool
from .interpreter import host_interpreter
from .launch import staging_point
from .launcher import INFO_FD, SECCOMP_FD, STATUS_FD, Launched, LaunchPlan, default_launcher
from .model import Outcome, SandboxLimits, SandboxRun
from .mounts import Tmpfs
from .output import OutputRefused, OutputTooLarge, copy_out, over_limits
from .seccomp import filter_bpf
from .streams import LogTail, SandboxInfo, StatusReader, hold_namespace, let_go
from .verdict import Observed, classify, too_large

_OUTPUT_CHECK_S = 0.25
_PROGRESS_S = 0.05  # how often progress the algorithm reports is passed on
_DRAIN_S = 2.0  # for the readers to see end of file once the sandbox is gone
_GRACE_S = 1.0  # for bwrap to reap the killed sandbox before its own group is killed


def run_algorithm(
    bundle_files: Mapping[str, bytes],
    approved_digest: str,
    inputs_dir: Path,
    output_dir: Path,
    parameters: Mapping[str, object],
    *,
    limits: SandboxLimits = SandboxLimits(),  # noqa: B008 - frozen, so sharing it is safe
    work_dir: Path,
    on_progress: Callable[[float], None] | None = None,
    ids: IdPool | None = None,
) -> SandboxRun:
    """Run the approved bundle on the staged inputs; see docs/algorithm-runtime.md.

    ``work_dir`` is kept for callers; nothing of the run is written there any more (its
    files live in the run's own tmpfs). ``ids``: where the run's uid is leased from.
    """
    started = time.monotonic()
    refusal, entry_point = _refusal(bundle_files, approved_digest)
    if refusal or entry_point is None:
        return SandboxRun(Outcome.REFUSED, refusal or "", None, 0.0, "", 0.0)
    workspace.prepare_output(Path(output_dir))  # a caller's mistake: raises ValueError
    with contextlib.ExitStack() as stack:
        try:
            leased = stack.enter_context((ids or default_pool()).lease())
        except (OSError, RuntimeError, ValueError) as error:
            reason = f"The sandbox could not start, so nothing was run ({error})."
            return SandboxRun(Outcome.REFUSED, reason, None, time.monotonic() - started, "", 0.0)
        # The uid is given back only here, after the whole sandbox has been reaped.
        return _run(
            bundle_files, entry_point, Path(inputs_dir), Path(output_dir), parameters,
            limits, leased, on_progress, started,
        )  # fmt: skip


def _refusal(files: Mapping[str, bytes], approved: str) -> tuple[str | None, str | None]:
    try:
        actual = bundle_digest(files)
    except ValueError as error:
        return f"The bundle was not run: {error}.", None
    if not hmac.compare_digest(actual.encode(), str(approved).encode()):
        return (
            f"The bundle was not run: its digest is {actual}, but the approved digest is "
            f"{approved}. The code changed after it was approved."
        ), None
    try:
        return None, parse_manifest(files[MANIFEST_PATH]).entry_point
    except (KeyError, BundleError) as error:
        return f"The bundle was not run: its manifest cannot be read ({error}).", None


def _run(
    files: Mapping[str, bytes],
    entry_point: str,
    inputs_dir: Path,
    output_dir: Path,
    parameters: Mapping[str, object],
    limits: SandboxLimits,
    ids: SandboxIds,
    on_progress: Callable[[float], None] | None,
    started: float,
) -> SandboxRun:
    status_r, status_w = os.pipe()
    log_r, log_w = os.pipe()
    info_r, info_w = os.pipe()
    seccomp_fd = os.memfd_create("datacage-seccomp", 0)
    parent_ends = [status_r, log_r, info_r]
    child_ends = [status_w, log_w, info_w, seccomp_fd]
    filesystems: staging.RunFilesystems | None = None
    held: list[int] = []  # mount namespaces, let go after the run (see streams.hold_namespace)
    try:
        try:
            os.write(seccomp_fd, filter_bpf())
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
            # The sandbox sees the status pipe at STATUS_FD whatever its number here.
            filesystems = staging.build(
                files, entry_point, parameters, STATUS_FD, inputs_dir, limits, ids
            )
            interpreter = host_interpreter()
            stage = staging_point()
            staged = run_binds(interpreter, filesystems.proc_masks)
            argv = command(
                interpreter, staged, stage, limits, SECCOMP_FD, INFO_FD,
                inside_id=workspace.INSIDE_ID,
            )  # fmt: skip
            # Started by the worker's small launcher process, not forked from this big one
            # (see .launcher): the child is still ours to wait for and to kill.
            process = default_launcher().launch(
                LaunchPlan(
                    argv, stage, staged, limits, ids.uid, ids.gid,
                    log_fd=log_w, status_fd=status_w, seccomp_fd=seccomp_fd, info_fd=info_w,
                    filesystems=filesystems.attachments(),
                )
            )  # fmt: skip
            # The wall clock is the algorithm's: it starts with the sandbox, not with our
            # set-up (the first run in a process spends a while finding the libraries).
            launched = time.monotonic()
        except (OSError, RuntimeError, ValueError) as error:
            # Not running as root, no bubblewrap, no staging folder, no launcher: never run
            # unisolated.
            reason = f"The sandbox could not start, so nothing was run ({error})."
            return SandboxRun(Outcome.REFUSED, reason, None, time.monotonic() - started, "", 0.0)
        for fd in child_ends:
            os.close(fd)
        child_ends = []
        hold_namespace(process.pid, held)  # bwrap's staging namespace
        log, status = LogTail(log_r, limits.log_bytes), StatusReader(status_r)
        info = SandboxInfo(info_r, holds=held)  # and the sandbox's
        parent_ends = []  # the reader threads close them
        try:
            seen = _watch(process, info, status, filesystems.output, limits, on_progress,
                          launched, log)  # fmt: skip
        finally:
            _end(process, info)  # whatever went wrong in the watcher: nothing keeps running
        outcome, reason = classify(seen, status, limits)
        if outcome is Outcome.SUCCEEDED:
            outcome, reason = _keep_output(filesystems.output, output_dir, limits)
        return SandboxRun(
            outcome,
            reason,
            seen.exit_code,
            round(time.monotonic() - started, 3),
            seen.log,
            status.progress,
        )
    finally:
        for fd in parent_ends + child_ends:
            os.close(fd)
        let_go(held)
        if filesystems is not None:
            filesystems.close()  # the run's files, inputs and output go with it


def _keep_output(output: Tmpfs, output_dir: Path, limits: SandboxLimits) -> tuple[Outcome, str]:
    try:
        copy_out(output, output_dir, limits)
    except OutputRefused as refused:
        return Outcome.OUTPUT_REFUSED, str(refused)
    except OutputTooLarge:
        return Outcome.OUTPUT_TOO_LARGE, too_large(limits)
    except OSError as error:  # the datacage's side (a full disk): not the algorithm's doing
        workspace.empty(output_dir)
        return Outcome.FAILED, f"The output could not be kept by the datacage ({error.strerror})."
    return Outcome.SUCCEEDED, "The algorithm finished."


def _end(process: Launched, info: SandboxInfo) -> None:
    """Kill whatever is left of the sandbox and reap bwrap (a no-op after a normal end).

    The sandbox's pid 1 first, so that bwrap reaps it and exits; bwrap's group only if it
    has not within a second (killed first, bwrap would leave pid 1 an unreaped orphan)."""
    try:
        if process.returncode is None:
            _kill_sandbox(process, info)
            deadline = time.monotonic() + _GRACE_S
            while time.monotonic() < deadline:
                if os.waitpid(process.pid, os.WNOHANG)[0]:
                    break
                time.sleep(0.005)
            else:
                _kill_group(process)
                os.waitpid(process.pid, 0)
            process.returncode = -signal.SIGKILL
    except ChildProcessError:
        pass
    finally:
        info.close()


def _watch(
    process: Launched,
    info: SandboxInfo,
    status: StatusReader,
    output: Tmpfs,
    limits: SandboxLimits,
    on_progress: Callable[[float], None] | None,
    launched: float,
    log: LogTail,
) -> Observed:
    """Wait for the sandbox to end, killing it on the wall clock or an overflowing output."""
    deadline = launched + limits.wall_seconds
    next_output_check = time.monotonic() + _OUTPUT_CHECK_S
    killed_for: str | None = None
    killed_at = 0.0
    reported = 0.0
    # Woken the moment bwrap ends (its pidfd turns readable), not at the next poll: a short
    # run would otherwise wait up to a polling interval for nothing.
    ended = os.pidfd_open(process.pid)
    try:
        while True:
            pid, wait_status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            now = time.monotonic()
            if killed_for is None and now >= deadline:
                killed_for, killed_at = "wall", _kill_sandbox(process, info)
            elif killed_for is None and now >= next_output_check:
                next_output_check = now + _OUTPUT_CHECK_S
                if over_limits(output, limits):
                    killed_for, killed_at = "output", _kill_sandbox(process, info)
            elif killed_for is not None and now >= killed_at + _GRACE_S:
                _kill_group(process)  # bwrap did not end with its child: end it too
            reported = _report(status.progress, reported, on_progress)
            wake = min(deadline, next_output_check) if killed_for is None else killed_at + _GRACE_S
            select.select([ended], [], [], min(max(wake - now, 0.001), _PROGRESS_S))
    finally:
        os.close(ended)
    exit_code = os.waitstatus_to_exitcode(wait_status)
    process.returncode = exit_code  # reaped here, with its resource usage
    _kill_group(process)  # nothing of the group may outlive the run
    status.join(_DRAIN_S)
    _report(status.progress, reported, on_progress)
    return Observed(
        exit_code=exit_code,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        killed_for=killed_for,
        output_too_large=over_limits(output, limits),
        log=log.text(_DRAIN_S),
    )


def _kill_sandbox(process: Launched, info: SandboxInfo) -> float:
    """Kill the sandbox's pid 1 (the kernel then kills everything in its pid namespace), so
    that bwrap reaps it and exits; without its pid yet, kill bwrap's process group."""
    if info.pidfd is None:
        _kill_group(process)
    else:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(info.pidfd, signal.SIGKILL)
    return time.monotonic()


def _kill_group(process: Launched) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _report(progress: float, reported: float, on_progress: Callable[[float], None] | None) -> float:
    if on_progress is not None and progress != reported:
        on_progress(progress)
    return progress
