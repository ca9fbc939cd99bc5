"""The worker's side of the launcher protocol, without a launcher: what it sends, what it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.datacage.sandbox.launch import Bind
from server.datacage.sandbox.launcher import (
    INFO_FD,
    SECCOMP_FD,
    STATUS_FD,
    LaunchPlan,
    _pid_in,
    _request,
)
from server.datacage.sandbox.model import SandboxLimits


@pytest.mark.parametrize(
    ("said", "pid"),
    [
        (b"4242\n", 4242),
        (b"4242\nOSError: [Errno 2] bind: No such file or directory", 4242),
        (b"4242", None),  # cut before its end of line: not a pid to reap
        (b"ValueError: the launch request was cut short", None),
        (b"", None),
        (b"-1\n", None),
        (b"12 34\n", None),
    ],
)
def test_only_a_whole_first_line_of_digits_is_a_pid(said, pid):
    assert _pid_in(said) == pid


def test_the_request_names_each_descriptor_and_its_number_in_the_sandbox():
    binds = [Bind(Path("/usr/lib"), "host0", True, "/usr/lib"), Bind(None, "in/b", True, "/b")]
    plan = LaunchPlan(
        ["/usr/bin/bwrap", "--", "/bin/true"], "/mnt", binds,
        SandboxLimits(), 2_000_000_001, 2_000_000_001,
        log_fd=10, status_fd=11, seccomp_fd=12, info_fd=13, filesystems=[(20, "in"), (21, "out")],
    )  # fmt: skip
    payload, fds = _request(plan)
    request = json.loads(payload)
    assert fds == [10, 11, 12, 13, 20, 21]  # the go socket is put in front, as index 0
    sent = [None, *fds]
    assert {number: sent[index] for index, number in request["fds"]} == {
        1: 10, 2: 10, STATUS_FD: 11, SECCOMP_FD: 12, INFO_FD: 13,
    }  # fmt: skip
    assert [(sent[index], path) for index, path in request["attach"]] == [
        (20, "/mnt/in"), (21, "/mnt/out"),
    ]  # fmt: skip
    assert request["go"] == 0
    # Only host paths are bound by the child; the run's own are already under the stage.
    assert request["binds"] == [["/usr/lib", "/mnt/host0", True]]
    assert (request["uid"], request["gid"]) == (2_000_000_001, 2_000_000_001)
    assert all(soft <= hard for _, soft, hard in request["rlimits"])
