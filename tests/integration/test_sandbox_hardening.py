"""A dishonest code provider against the real sandbox's file systems, ids and /proc.

Each test runs a hostile bundle from tests/fixtures/hostile/ through the real bubblewrap
sandbox and looks at the effect the attack would have had: a folder tree that breaks the
watcher, space reserved past the limit, a writable /dev, host paths in /proc, one run reaching
another through /proc/<pid>/root, a flood of inodes, and links, pipes or devices in /output.
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time
from pathlib import Path

import pytest

from server.datacage.sandbox import Outcome
from tests.support.sandbox_runs import (  # noqa: F401 - the autouse check, for this module too
    FAST,
    FIXTURES,
    PEOPLE,
    bundle_from,
    is_sandbox_uid,
    leftovers,
    nothing_of_the_sandbox_survives,
    run,
    stage_inputs,
)

HOSTILE = FIXTURES / "hostile"
TMP = "/tmp"  # noqa: S108 - the sandbox's private /tmp, not the host's


def test_a_deep_folder_tree_in_output_is_refused_and_the_sandbox_is_not_left_running(tmp_path):
    ran, output = run(bundle_from(HOSTILE / "deep_tree"), tmp_path, {"depth": 1500})
    assert "made 1500 nested folders in /output" in ran.log
    assert ran.outcome is not Outcome.SUCCEEDED
    assert ran.outcome is Outcome.OUTPUT_REFUSED
    assert ran.reason == (
        "The algorithm's output was refused: /output must hold plain files only, and 'd' is "
        "a folder (the output must be flat: no subfolders). Nothing of the output was kept."
    )
    assert list(output.iterdir()) == []
    assert leftovers(tmp_path / "work") == []


def test_a_deep_folder_tree_in_tmp_costs_nothing_outside(tmp_path):
    ran, output = run(bundle_from(HOSTILE / "deep_tree"), tmp_path, {"folder": TMP})
    assert ran.outcome is Outcome.SUCCEEDED, ran
    assert [p.name for p in output.iterdir()] == ["result.ttl"]


def test_fallocate_keep_size_cannot_reserve_past_the_output_limit(tmp_path):
    ran, output = run(bundle_from(HOSTILE / "fallocate_keep_size"), tmp_path, {"megabytes": 64})
    assert "fallocate refused: No space left on device" in ran.log, ran.log
    allocated = int(re.search(r"allocated=(\d+)", ran.log)[1])
    assert allocated <= FAST.output_bytes
    assert ran.outcome is Outcome.SUCCEEDED  # what it did write is within the limit
    assert (output / "result.ttl").read_text() == "# looks small\n"


def test_dev_is_read_only_and_dev_shm_shares_the_tmp_limit(tmp_path):
    ran, _ = run(bundle_from(HOSTILE / "dev_write"), tmp_path, {"megabytes": 16})
    assert ran.outcome is Outcome.SUCCEEDED, ran
    listed = eval(ran.log.split("/dev holds ", 1)[1].splitlines()[0])  # noqa: S307 - our print
    assert set(listed) == {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout",
                           "stderr", "shm"}  # fmt: skip
    assert "refused /dev/big after 0 MiB: Read-only file system" in ran.log
    shm = re.search(r"refused /dev/shm/big after (\d+) MiB: No space left on device", ran.log)
    assert shm, ran.log
    assert int(shm[1]) <= FAST.tmp_bytes >> 20


def test_proc_shows_no_host_path_and_no_host_wide_counters(tmp_path):
    ran, _ = run(bundle_from(HOSTILE / "proc_view"), tmp_path)
    assert ran.outcome is Outcome.SUCCEEDED, ran
    mountinfo = ran.log.split("=== /proc/self/mountinfo\n", 1)[1].split("===", 1)[0]
    assert str(tmp_path) not in ran.log  # the run's folder on the host
    assert "pytest" not in ran.log
    fields = [line.split() for line in mountinfo.splitlines() if line.strip()]
    roots = {field[4]: field[3] for field in fields}
    # Each run folder is the root (or a top folder) of its own tmpfs, not a host path.
    assert {name: roots[name] for name in ("/input", "/bundle", "/output", TMP)} == {
        "/input": "/input",
        "/bundle": "/bundle",
        "/output": "/",
        TMP: TMP,
    }
    assert f"MemTotal:       {FAST.memory_bytes // 1024:>8} kB" in ran.log
    assert "=== /proc/loadavg\n0.00 0.00 0.00 1/1 1" in ran.log
    assert "=== /proc/uptime\n0.00 0.00" in ran.log
    stat = ran.log.split("=== /proc/stat\n", 1)[1]
    assert stat.startswith("cpu  0 0 0 0 0 0 0 0 0 0\n")
    assert stat.count("\ncpu") == len(os.sched_getaffinity(0))


def _named_ids() -> set[int]:
    """The uids of /etc/passwd and gids of /etc/group."""
    tables = Path("/etc/passwd").read_text() + Path("/etc/group").read_text()
    return {int(line.split(":")[2]) for line in tables.splitlines() if line.count(":") >= 3}


def _bootstraps() -> dict[int, int]:
    """Host pid -> host uid of every sandbox's pid 1 (the bootstrap) now running."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        if b"/runtime/bootstrap.py" in command and b"bwrap" not in command:
            uid = int(next(x for x in status.splitlines() if x.startswith("Uid:")).split()[1])
            found[int(entry)] = uid
    return found


def _as_user(uid: int, attempt) -> str:
    """Run ``attempt()`` in a child process of host uid ``uid``; what it returned or raised."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(reader)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            try:
                said = f"ok {attempt()}"
            except OSError as error:
                said = f"refused {type(error).__name__}"
            os.write(writer, said.encode()[:4000])
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        said = pipe.read().decode()
    os.waitpid(pid, 0)
    return said


def test_two_runs_at_once_have_their_own_uids_and_one_cannot_reach_the_other(tmp_path):
    limits = dataclasses.replace(FAST, wall_seconds=4.0)
    results: dict[str, object] = {}

    def one(name: str) -> None:
        folder = tmp_path / name
        folder.mkdir()
        results[name] = run(bundle_from(HOSTILE / "sleeper"), folder, limits=limits)

    threads = [threading.Thread(target=one, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    try:
        # Generous: both sandboxes start beside six other engineers' tests on two cores.
        deadline = time.monotonic() + 30
        while len(running := _bootstraps()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(running) == 2, running
        (_, uid_a), (pid_b, uid_b) = sorted(running.items())
        assert uid_a != uid_b
        assert all(is_sandbox_uid(uid) for uid in (uid_a, uid_b))
        assert not {uid_a, uid_b} & _named_ids()
        # A process of one run's uid (a leftover, or any other service of that uid) tries the
        # other run's files through /proc/<pid>/root: its inputs, and a file planted in /output.
        index = f"/proc/{pid_b}/root/input/index.json"
        planted = f"/proc/{pid_b}/root/output/planted.ttl"
        assert _as_user(uid_a, lambda: Path(index).read_text()[:40]) == "refused PermissionError"
        assert _as_user(uid_a, lambda: Path(planted).write_text("x")) == "refused PermissionError"
        # The run's own uid could (the kernel's rule is per uid): the check can tell.
        assert _as_user(uid_b, lambda: Path(index).read_text()[:9]) == 'ok {"people"'
    finally:
        for thread in threads:
            thread.join()
    for name in ("a", "b"):
        ran, output = results[name]
        assert ran.outcome is Outcome.TIMED_OUT
        assert list(output.iterdir()) == []


def test_an_inode_bomb_in_tmp_stops_at_the_file_limit(tmp_path):
    ran, _ = run(bundle_from(HOSTILE / "inode_bomb"), tmp_path, {"count": 12000})
    assert ran.outcome is Outcome.SUCCEEDED, ran
    made = re.search(r"created (\d+) files in /tmp, then: No space left on device", ran.log)
    assert made, ran.log
    assert int(made[1]) <= FAST.tmp_files == 10_000  # the default, shared with /dev/shm


def test_an_inode_bomb_in_output_stops_at_the_file_limit(tmp_path):
    limits = dataclasses.replace(FAST, output_files=300)
    parameters = {"folder": "/output", "count": 20000}
    ran, output = run(bundle_from(HOSTILE / "inode_bomb"), tmp_path, parameters, limits=limits)
    made = re.search(r"created (\d+) files in /output, then: No space left on device", ran.log)
    assert made, ran.log
    assert int(made[1]) <= 300
    assert len(list(output.iterdir())) == int(made[1])


def test_a_symlink_in_output_to_a_persons_input_is_refused(tmp_path):
    ran, output = run(bundle_from(HOSTILE / "output_link"), tmp_path, {"kind": "symlink"})
    assert "symlinked result.ttl" in ran.log
    assert ran.outcome is not Outcome.SUCCEEDED
    assert ran.outcome is Outcome.OUTPUT_REFUSED
    assert "'result.ttl' is a symbolic link" in ran.reason
    assert list(output.iterdir()) == []
    person_data = PEOPLE["person-1"][0][2]
    assert not any(p.read_bytes() == person_data for p in output.iterdir())


def test_a_hard_link_in_output_is_refused(tmp_path):
    ran, output = run(bundle_from(HOSTILE / "output_link"), tmp_path, {"kind": "hardlink"})
    assert "hard-linked copy.ttl" in ran.log
    assert ran.outcome is not Outcome.SUCCEEDED
    assert ran.outcome is Outcome.OUTPUT_REFUSED
    assert "is a file with more than one name (a hard link)" in ran.reason
    assert list(output.iterdir()) == []


def test_a_named_pipe_in_output_is_refused_and_devices_and_sockets_cannot_be_made(tmp_path):
    ran, output = run(bundle_from(HOSTILE / "output_special"), tmp_path)
    assert "made a named pipe at result.ttl" in ran.log
    assert "device node refused: PermissionError(1, 'Operation not permitted')" in ran.log
    assert "socket refused: PermissionError(1, 'Operation not permitted')" in ran.log
    assert ran.outcome is not Outcome.SUCCEEDED
    assert ran.outcome is Outcome.OUTPUT_REFUSED
    assert "'result.ttl' is a named pipe" in ran.reason
    assert list(output.iterdir()) == []


def test_a_sparse_file_claiming_more_than_the_limit_is_too_large(tmp_path):
    from tests.support.sandbox_runs import make_bundle

    bundle = make_bundle(
        tmp_path / "src",
        """
        import os

        def run(ctx):
            with open(ctx.output_dir / "result.ttl", "wb") as out:
                out.truncate(32 << 20)  # no pages, 32 MiB of zeros when read
            ctx.log(f"blocks={os.stat(ctx.output_dir / 'result.ttl').st_blocks}")
        """,
    )
    ran, output = run(bundle, tmp_path)
    assert "blocks=0" in ran.log
    assert ran.outcome is Outcome.OUTPUT_TOO_LARGE
    assert list(output.iterdir()) == []


@pytest.mark.parametrize("where", ["/input", "/bundle", "/runtime"])
def test_the_read_only_folders_cannot_be_written_or_filled(tmp_path, where):
    from tests.support.sandbox_runs import make_bundle

    bundle = make_bundle(
        tmp_path / "src",
        f"""
        def run(ctx):
            try:
                open("{where}/planted", "w").write("x")
                ctx.log("WROTE")
            except OSError as error:
                ctx.log(f"refused: {{error.strerror}}")
        """,
    )
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    stage_inputs(work / "input", PEOPLE)
    ran, _ = run(bundle, tmp_path)
    assert "refused: Read-only file system" in ran.log
    assert not (work / "input" / "planted").exists()


def test_an_error_in_the_watcher_kills_the_sandbox_before_it_goes_on(tmp_path, monkeypatch):
    from server.datacage.sandbox import runner

    def broken(*_args):
        raise RuntimeError("the watcher broke")

    # Whichever check the watcher makes of the output every 0.25 s, it now raises.
    name = "over_limits" if hasattr(runner, "over_limits") else "_output_over"
    monkeypatch.setattr(runner, name, broken)
    limits = dataclasses.replace(FAST, wall_seconds=30.0)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the watcher broke"):
        run(bundle_from(HOSTILE / "sleeper"), tmp_path, limits=limits)
    assert time.monotonic() - started < limits.wall_seconds  # not ended by the wall clock
    assert _our_bubblewraps() == []  # killed and reaped, whatever uid it ran as


def _our_bubblewraps() -> list[int]:
    """bwrap processes that are children of this test process (running or not yet reaped)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            name, _, rest = stat.partition(") ")
            if name.endswith("(bwrap") and int(rest.split()[1]) == os.getpid():
                found.append(int(entry))
    return found
