"""The sandbox launcher (server/datacage/sandbox/spawner.py) against hostile runs and its own death.

The launcher is a small long-lived process that starts every run's bubblewrap, so the big
worker never forks. What must hold: a run cannot reach it (its socket is never inherited),
it holds nothing of a run once the run has started, each run is a fresh sandbox that sees
nothing of the one before, and a launcher that dies (between runs or in the middle of a
launch) is replaced, never bypassed, and leaves nothing running or unreaped.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from server.datacage.sandbox import Outcome, SandboxLimits, runner
from server.datacage.sandbox import launcher as launcher_module
from server.datacage.sandbox.launch import Bind, staging_point
from server.datacage.sandbox.launcher import Launcher, LauncherError, LaunchPlan, default_launcher
from tests.support.sandbox_runs import FIXTURES, bundle_from, run, sandbox_processes

PROBE = FIXTURES / "hostile" / "launcher_probe"


def our_sandbox_processes() -> list[int]:
    """Processes of a run's uid that descend from this process (other sandboxes may run on
    the machine at the same time: other workers' and other test sessions')."""
    ours = []
    for pid, _ in sandbox_processes():
        ancestor = pid
        while ancestor > 1:
            ancestor = _parent(ancestor)
            if ancestor == os.getpid():
                ours.append(pid)
                break
    return ours


@pytest.fixture(autouse=True)
def nothing_of_our_sandboxes_survives():
    assert our_sandbox_processes() == [], "a sandbox process was running before the test"
    yield
    assert our_sandbox_processes() == [], "a sandbox process (or its zombie) outlived its run"


def findings(log: str) -> dict[str, list[str]]:
    """The probe's log lines, by their first word."""
    found: dict[str, list[str]] = {}
    for line in log.splitlines():
        word, _, rest = line.partition(" ")
        found.setdefault(word, []).append(rest)
    return found


def descriptors(found: dict[str, list[str]]) -> dict[int, str]:
    """Descriptor -> what it is, without the probe's own listing (gone by the time it looked)."""
    held = {}
    for line in found["fd"]:
        number, _, target = line.partition(" ")
        if not target.startswith("?"):
            held[int(number)] = target
    return held


def sockets_of(pid: int) -> set[str]:
    held = set()
    for name in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{name}")
        if target.startswith("socket:"):
            held.add(target)
    return held


def assert_isolated(found: dict[str, list[str]]) -> None:
    held = descriptors(found)
    assert held[0] == "/dev/null"
    assert held[1] == held[2]  # the log
    assert held[1].startswith("pipe:")
    assert held[3].startswith("pipe:")  # the status pipe
    assert sorted(held) == [0, 1, 2, 3], held  # nothing else: no socket, no mount, no seccomp
    assert found["me"] == ["pid=1 uid=1000 host=sandbox"]


def test_a_run_cannot_reach_the_launcher_nor_any_socket(tmp_path):
    launcher = default_launcher()
    launcher.start()
    theirs = sockets_of(launcher.pid)
    assert theirs, "the launcher holds its socket"
    ran, output = run(bundle_from(PROBE), tmp_path)
    assert ran.outcome is Outcome.SUCCEEDED, ran
    found = findings(ran.log)
    assert_isolated(found)
    seen = set(descriptors(found).values())
    assert not seen & theirs
    assert not any(target.startswith("socket:") for target in seen)
    assert (output / "result.ttl").exists()


def test_the_launcher_keeps_nothing_of_a_run_and_no_environment(tmp_path):
    ran, _ = run(bundle_from(PROBE), tmp_path)
    assert ran.outcome is Outcome.SUCCEEDED, ran
    pid = default_launcher().pid
    held = {int(n): os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")}
    # stdin and stdout /dev/null, stderr the worker's; then only its socket: none of the
    # run's pipes, mount descriptors or seccomp filter stayed behind.
    others = {n: target for n, target in held.items() if n > 2}
    assert len(others) == 1, held
    assert next(iter(others.values())).startswith("socket:"), held
    assert Path(f"/proc/{pid}/environ").read_bytes() == b""


def test_two_runs_in_a_row_see_nothing_of_each_other(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first, _ = run(bundle_from(PROBE), tmp_path / "one", {"marker": "run one was here"})
    second, output = run(bundle_from(PROBE), tmp_path / "two")
    assert first.outcome is second.outcome is Outcome.SUCCEEDED
    one, two = findings(first.log), findings(second.log)
    assert_isolated(one)
    assert_isolated(two)
    # Neither /tmp, /dev/shm nor the IPC namespace kept what the first run left there
    # (namespace numbers cannot tell: the kernel reuses a freed namespace's number).
    assert one["queue"] == two["queue"] == ["True"]
    assert two["found"] == [""]
    assert "run one was here" not in second.log + (output / "result.ttl").read_text()


def test_a_killed_launcher_is_replaced_and_the_next_run_still_isolated(tmp_path):
    launcher = default_launcher()
    launcher.start()
    killed = launcher.pid
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{killed}/stat").exists() and "Z" not in _state(killed):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    ran, _ = run(bundle_from(PROBE), tmp_path)
    assert ran.outcome is Outcome.SUCCEEDED, ran
    assert_isolated(findings(ran.log))
    assert launcher.pid not in (None, killed)


def test_a_launcher_killed_before_it_starts_the_child_costs_nothing(tmp_path, monkeypatch):
    """Frozen, the launcher takes the request into its socket but never acts; then dies."""
    real_send = launcher_module.socket.send_fds
    calls = []

    def freeze_then_kill(sock, buffers, fds):
        calls.append(default_launcher().pid)
        if len(calls) == 1:
            os.kill(calls[0], signal.SIGSTOP)
            sent = real_send(sock, buffers, fds)
            os.kill(calls[0], signal.SIGKILL)
            return sent
        return real_send(sock, buffers, fds)

    default_launcher().start()
    monkeypatch.setattr(launcher_module.socket, "send_fds", freeze_then_kill)
    ran, _ = run(bundle_from(PROBE), tmp_path)
    assert ran.outcome is Outcome.SUCCEEDED, ran
    assert len(calls) == 2
    assert calls[0] != calls[1]  # tried again, on a new launcher
    found = findings(ran.log)
    assert_isolated(found)
    assert len(found["me"]) == 1  # one sandbox ran, once


def test_a_launcher_dying_after_it_made_the_child_changes_nothing_for_the_run(
    tmp_path, monkeypatch
):
    """Killed the moment its child has told us its pid (the child then makes its mounts and
    execs bwrap on its own): the run is whole and isolated, it ran once, and the next
    launch gets a new launcher."""
    killed = []

    def hear_then_kill(self, go):
        first = b""
        while not first.endswith(b"\n"):
            first += go.recv(1)
        killed.append(self.pid)
        os.kill(killed[0], signal.SIGKILL)
        _, said = real_hear(self, go)  # the rest, until bwrap's exec ends the socket
        return int(first), said

    real_hear = Launcher._hear
    monkeypatch.setattr(Launcher, "_hear", hear_then_kill)
    ran, _ = run(bundle_from(PROBE), tmp_path)
    assert killed
    assert ran.outcome is Outcome.SUCCEEDED, ran
    found = findings(ran.log)
    assert len(found["me"]) == 1
    assert_isolated(found)
    monkeypatch.setattr(Launcher, "_hear", real_hear)
    (tmp_path / "again").mkdir()
    again, _ = run(bundle_from(PROBE), tmp_path / "again")
    assert again.outcome is Outcome.SUCCEEDED, again
    assert default_launcher().pid not in (None, killed[0])


def test_no_launcher_means_no_run(tmp_path, monkeypatch):
    broken = tmp_path / "spawner.py"
    broken.write_text("raise SystemExit(3)\n")
    monkeypatch.setattr(launcher_module, "SPAWNER", broken)
    fresh = Launcher()
    monkeypatch.setattr(runner, "default_launcher", lambda: fresh)
    ran, output = run(bundle_from(PROBE), tmp_path)
    assert ran.outcome is Outcome.REFUSED
    assert ran.reason == (
        "The sandbox could not start, so nothing was run "
        "(the sandbox launcher could not start (it ended at once))."
    )
    assert not output.exists() or not any(output.iterdir())
    fresh.stop()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _zombie_children() -> list[int]:
    found = []
    for task in os.listdir("/proc/self/task"):
        try:
            children = Path(f"/proc/self/task/{task}/children").read_text().split()
        except OSError:
            continue
        found += [int(pid) for pid in children if _state(int(pid)) == "Z"]
    return found


def test_a_child_that_cannot_be_prepared_is_reaped_and_says_why(tmp_path):
    """A bind whose host path is gone: the launch fails in words, nothing is left behind."""
    fresh = Launcher()
    reader, writer = os.pipe()
    try:
        plan = LaunchPlan(
            ["/usr/bin/bwrap", "--", "/bin/true"], staging_point(),
            [Bind(tmp_path / "gone", "gone", True, "/gone")], SandboxLimits(),
            2_099_999_999, 2_099_999_999, log_fd=writer, status_fd=writer,
            seccomp_fd=writer, info_fd=writer,
        )  # fmt: skip
        zombies = set(_zombie_children())  # a launcher killed by an earlier test, say
        with pytest.raises(LauncherError, match=r"bind: No such file or directory"):
            fresh.launch(plan)
        assert set(_zombie_children()) <= zombies  # the failed child was reaped
        assert fresh.pid is not None  # the launcher itself carries on
    finally:
        fresh.stop()
        os.close(reader)
        os.close(writer)
