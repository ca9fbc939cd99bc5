"""Hostile algorithms against the real sandbox: each is contained, and its run says why it ended.

Every test looks at the effect the attack would have had (a connection accepted, a secret in
the output or log, a file on the host, a process left running), not only at the outcome. The
bundles are in tests/fixtures/hostile/.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from server.algorithms import bundle_digest
from server.datacage.sandbox import Outcome, SandboxLimits
from tests.support.sandbox_runs import (  # noqa: F401 - the autouse check, for this module too
    FAST,
    FIXTURES,
    PEOPLE,
    bundle_from,
    leftovers,
    make_bundle,
    nothing_of_the_sandbox_survives,
    run,
    sandbox_processes,
    stage_inputs,
    tree,
)

HOSTILE = FIXTURES / "hostile"


def everything_written(ran, output: Path) -> str:
    """The log and every output file: all that could carry something out of the sandbox."""
    files = [p.read_text(errors="replace") for p in output.rglob("*") if p.is_file()]
    return ran.log + ran.reason + "".join(files)


def nothing_accepted(listener: socket.socket) -> bool:
    """A connection that reached the listener waits in its backlog even if never accepted."""
    listener.setblocking(False)
    try:
        listener.accept()
    except BlockingIOError:
        return True
    return False


def test_a_tcp_connection_to_a_real_listening_server_never_arrives(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        ran, _ = run(bundle_from(HOSTILE / "tcp_socket"), tmp_path, {"port": port})
        assert nothing_accepted(listener)
    assert ran.outcome is Outcome.FAILED
    assert ran.reason == (
        "The algorithm raised PermissionError: [Errno 1] Operation not permitted "
        "(the sandbox does not allow this)."
    )
    assert f"connecting to 127.0.0.1:{port}" in ran.log


def test_unix_sockets_under_the_hosts_tmp_and_run_are_unreachable(tmp_path):
    name = f"datacage-test-{secrets.token_hex(4)}.sock"
    paths = [f"/tmp/{name}", f"/run/{name}"]  # noqa: S108 - real sockets on the host, on purpose
    listeners = []
    try:
        for path in paths:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            os.chmod(path, 0o777)  # noqa: S103 - the file mode is not what keeps the sandbox out
            listener.listen()
            listeners.append(listener)
        ran, _ = run(bundle_from(HOSTILE / "unix_socket"), tmp_path, {"paths": ",".join(paths)})
        assert all(nothing_accepted(listener) for listener in listeners)
    finally:
        for listener in listeners:
            listener.close()
        for path in paths:
            Path(path).unlink(missing_ok=True)
    assert ran.outcome is Outcome.FAILED
    assert "PermissionError" in ran.reason
    assert "CONNECTED" not in ran.log
    for path in paths:
        assert f"{path}: PermissionError(1, 'Operation not permitted')" in ran.log


def test_the_datacages_key_file_cannot_be_read(tmp_path):
    data_dir = tmp_path / "datacage-data"  # stands in for the data dir with the enclave key
    data_dir.mkdir(mode=0o700)
    key = data_dir / f"enclave-{secrets.token_hex(4)}.key"
    secret = f"-----BEGIN PRIVATE KEY----- {secrets.token_hex(32)}"
    key.write_text(secret)
    key.chmod(0o600)
    ran, output = run(bundle_from(HOSTILE / "read_key"), tmp_path, {"key_path": str(key)})
    assert secret not in everything_written(ran, output)
    assert secret[-24:] not in everything_written(ran, output)
    assert f"looked everywhere for {key.name}: []" in ran.log  # not even its name is in reach
    assert ran.outcome is Outcome.FAILED
    assert ran.reason.startswith("The algorithm raised FileNotFoundError")
    assert key.read_text() == secret


def test_proc_1_environ_shows_none_of_the_datacages_environment(tmp_path, monkeypatch):
    secret = f"s3cr3t-{secrets.token_hex(16)}"
    monkeypatch.setenv("DATACAGE_TEST_SECRET", secret)
    ran, output = run(bundle_from(HOSTILE / "proc_environ"), tmp_path)
    seen = everything_written(ran, output)
    assert ran.outcome is Outcome.SUCCEEDED, ran
    assert secret not in seen
    assert "DATACAGE_TEST_SECRET" not in seen
    assert "1/environ: read" in seen  # it did read pid 1's environment, and it was its own
    # A pid namespace of its own: the only process it can see is itself, as pid 1.
    listed = {line.split("/")[0] for line in ran.log.splitlines() if "/environ:" in line}
    assert listed == {"1"}


def test_writes_outside_the_output_folder_change_nothing_on_the_host(tmp_path):
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    (host_dir / "existing").write_text("kept")
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    stage_inputs(work / "input", PEOPLE)
    inputs_before, host_before = tree(work / "input"), tree(host_dir)
    ran, output = run(bundle_from(HOSTILE / "write_outside"), tmp_path, {"host_dir": str(host_dir)})

    assert ran.outcome is Outcome.FAILED
    assert ran.reason == (
        "The algorithm raised PermissionError: 7 of 9 writes were refused "
        "(the sandbox does not allow this)."
    )
    assert tree(work / "input") == inputs_before
    assert tree(host_dir) == host_before
    for path in ("/planted", "/etc/planted", "/tmp/private-scratch"):  # noqa: S108
        assert not Path(path).exists()
    # Two writes "worked", both into the sandbox's own private /tmp (the host folder is under
    # the host's /tmp, so inside it was made afresh on the tmpfs) and both vanished with it.
    assert [line for line in ran.log.splitlines() if line.startswith("WROTE")] == [
        f"WROTE {host_dir}/planted",
        "WROTE /tmp/private-scratch",
    ]
    assert not (host_dir / "planted").exists()
    for target in ("/bundle/writer.py", "/input/index.json", "/planted", "/etc/planted"):
        assert f"refused {target}: OSError(30, 'Read-only file system')" in ran.log
    assert "refused chmod /input" in ran.log
    # /output is the one place it could write, and the output of a failed run is not kept.
    assert list(output.iterdir()) == []


def test_a_fork_bomb_meets_the_process_limit_and_leaves_nothing_running(tmp_path):
    seen: set[tuple[int, int]] = set()
    most = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            current = sandbox_processes()
            seen.update(current)
            most[0] = max(most[0], len(current))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    try:
        ran, _ = run(bundle_from(HOSTILE / "fork_bomb"), tmp_path)
    finally:
        done.set()
        sampler.join()
    # Bounded by the wall clock, with room for a busy machine; unbounded it would never end.
    assert time.monotonic() - started < FAST.wall_seconds + 10
    assert ran.outcome is Outcome.FAILED
    assert ran.reason == (
        "The algorithm raised BlockingIOError: [Errno 11] Resource temporarily unavailable "
        f"(it reached the limit of {FAST.processes} processes)."
    )
    forked = int(ran.log.split("forked ", 1)[1].split()[0])
    assert 0 < forked < FAST.processes
    assert most[0] <= FAST.processes  # the kernel's count, as sampled from the host
    assert seen, "the sampler saw no sandbox process: it watched nothing"
    assert sandbox_processes() == []
    for _, group in seen:  # every process group the sandbox had is gone
        with pytest.raises(ProcessLookupError):
            os.killpg(group, 0)


def test_a_memory_bomb_runs_out_of_memory_within_its_limit(tmp_path):
    ran, _ = run(bundle_from(HOSTILE / "memory_bomb"), tmp_path)
    assert ran.outcome is Outcome.MEMORY_LIMIT
    assert ran.reason == (
        "The algorithm ran out of memory (limit 256 MiB of address space per process)."
    )
    held = [int(line.split()[1]) for line in ran.log.splitlines() if line.startswith("holding")]
    assert held
    assert max(held) < 256


def test_a_busy_loop_that_ignores_sigxcpu_is_stopped_by_the_cpu_limit(tmp_path):
    limits = SandboxLimits(cpu_seconds=1, wall_seconds=4)
    ran, _ = run(bundle_from(HOSTILE / "cpu_spin"), tmp_path, limits=limits)
    assert ran.outcome is Outcome.CPU_LIMIT
    assert ran.reason == "The algorithm used up its 1 s of CPU time (CPU limit) and was stopped."
    assert ran.exit_code == 128 + 9  # the hard limit's SIGKILL, one second after the soft one
    assert ran.duration_s < limits.wall_seconds


def test_a_plain_busy_loop_gets_sigxcpu_at_the_soft_limit(tmp_path):
    bundle = make_bundle(tmp_path / "src", "def run(ctx):\n    while True:\n        pass\n")
    ran, _ = run(bundle, tmp_path, limits=SandboxLimits(cpu_seconds=1, wall_seconds=4))
    assert ran.outcome is Outcome.CPU_LIMIT
    assert ran.exit_code == 128 + 24  # SIGXCPU, handled by the bootstrap
    assert ran.duration_s < 2


def test_a_sleeper_is_stopped_by_the_wall_clock(tmp_path):
    reported: list[float] = []
    ran, _ = run(bundle_from(HOSTILE / "sleeper"), tmp_path, on_progress=reported.append)
    assert ran.outcome is Outcome.TIMED_OUT
    assert ran.reason == "The algorithm was stopped after 3 s (wall-clock limit)."
    assert FAST.wall_seconds <= ran.duration_s < FAST.wall_seconds + 10  # the sleeper never ends
    assert ran.progress == 0.25
    assert reported == [0.25]
    assert leftovers(tmp_path / "work") == []


def test_output_beyond_the_limit_is_deleted(tmp_path):
    ran, output = run(bundle_from(HOSTILE / "output_flood"), tmp_path, {"megabytes": 2})
    assert ran.outcome is Outcome.OUTPUT_TOO_LARGE
    assert ran.reason == (
        "The algorithm wrote more than 1 MiB or more than 10000 files to its output folder "
        "(output limit); the output was deleted."
    )
    assert list(output.iterdir()) == []


def test_a_bundle_changed_after_approval_is_refused_and_nothing_runs(tmp_path):
    approved = bundle_from(HOSTILE / "tampered")
    files = dict(approved.files)
    files["tampered.py"] = (
        b"def run(ctx):\n    ctx.write_result('# the changed code ran\\n', name='changed.ttl')\n"
    )
    ran, output = run(approved, tmp_path, digest=approved.digest, people=None)
    assert ran.outcome is Outcome.SUCCEEDED  # the approved bundle itself runs
    assert [p.name for p in output.iterdir()] == ["approved.ttl"]

    changed = SimpleNamespace(files=files, digest=approved.digest)  # code swapped after approval
    second = tmp_path / "second"
    second.mkdir()
    refused, refused_output = run(changed, second)
    assert refused.outcome is Outcome.REFUSED
    assert approved.digest in refused.reason
    assert bundle_digest(files) in refused.reason
    assert refused.exit_code is None
    assert refused.log == ""
    assert not refused_output.exists()  # not even its output folder was made
    assert leftovers(second / "work") == []
    # The proof that the check is what stopped it: approved under its own digest, it writes.
    changed.digest = bundle_digest(files)
    third = tmp_path / "third"
    third.mkdir()
    ran_changed, changed_output = run(changed, third)
    assert ran_changed.outcome is Outcome.SUCCEEDED
    assert [p.name for p in changed_output.iterdir()] == ["changed.ttl"]
