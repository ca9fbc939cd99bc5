"""The worker against what a hostile or failing run does to it, with real pods, a live control
plane and the real sandbox: killed mid-run, it leaves decrypted inputs behind that the next
start deletes (and the run is ended, in plain words); a run that fails inside the worker ends
that run, not the worker.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from server.datacage import worker as worker_module
from server.datacage.sandbox import tree
from server.protocol.outcomes import Note, Outcome
from server.runs.model import RunStatus
from server.services import services
from tests.support.datacage_world import (
    SURVEY,
    consented_space,
    fill_pods,
    make_worker,
    serve_control_plane,
)
from tests.support.sandbox_runs import sandbox_processes
from tests.support.waiting import wait_until

SLEEPER = Path(__file__).parents[1] / "fixtures" / "hostile" / "sleeper"
PEOPLE = 5


@pytest.fixture
def world(make_user, tmp_path):
    owner, cage = make_user("owner"), make_user("cage")
    people = [make_user(f"sweeper{n}") for n in range(PEOPLE)]
    with serve_control_plane(tmp_path / "control", cage.webid) as (base, app):
        fill_pods(people)

        def space(bundle: Path, name: str):
            return consented_space(app, owner.webid, people, cage.webid, bundle, name)

        yield app, owner, base, cage, tmp_path, space


def _algorithm_running() -> bool:
    """A sandbox's bootstrap is running (found by its command line, whatever its uid)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"/runtime/bootstrap.py" in command and b"bwrap" not in command:
                return True
    return False


def _staged_inputs(work_root: Path) -> list[Path]:
    return sorted(work_root.glob("*/input/index.json")) if work_root.exists() else []


@pytest.mark.timeout(300)  # ~60 s alone; pods, pulls and two workers take longer when busy
def test_a_worker_killed_mid_run_leaves_nothing_decrypted_after_its_restart(world):
    app, owner, base, cage, tmp_path, space = world
    runs = services(app).runs
    started = runs.start(space(SLEEPER, "Sleeps").id, owner.webid)
    work_root = tmp_path / "cage" / "work"
    child = os.fork()
    if child == 0:  # pragma: no cover - the worker process that gets killed
        try:  # made here: its connections must not be shared with this test's process
            make_worker(base, cage, tmp_path / "cage").run_once()
        finally:
            os._exit(0)
    try:
        wait_until(
            lambda: _staged_inputs(work_root) and _algorithm_running(),
            "the algorithm running on its staged inputs",
            60,
        )
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    # The sandbox dies with its worker (--die-with-parent); the inputs it had are still there.
    wait_until(lambda: not sandbox_processes(), "the sandbox to end with its worker", 10)
    assert _staged_inputs(work_root), "the killed worker left no inputs: the test saw nothing"
    assert runs.store.load(started.id).status is RunStatus.RUNNING

    restarted = make_worker(base, cage, tmp_path / "cage")
    assert restarted.run_once() is None  # nothing else waiting; the sweep ran first
    assert list(work_root.iterdir()) == []
    run = runs.store.load(started.id)
    assert run.status is RunStatus.FAILED
    assert run.outcome is Outcome.DATACAGE_ERROR
    assert run.notes == [Note.DATACAGE_RESTARTED]


def test_a_leftover_tree_too_deep_for_rmtree_is_swept(world):
    _app, _owner, base, cage, tmp_path, _space = world
    folder = tmp_path / "cage" / "work" / "not-a-run"
    folder.mkdir(parents=True)
    fd = os.open(folder, os.O_RDONLY)
    for _ in range(1500):  # as a crashed run of the old sandbox left /output on the disk
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    try:
        assert make_worker(base, cage, tmp_path / "cage").run_once() is None
        assert list((tmp_path / "cage" / "work").iterdir()) == []
    finally:  # pytest's own clean-up of old temporary folders recurses
        tree.remove(folder)


def test_a_run_that_fails_inside_the_worker_ends_and_the_worker_takes_the_next(world, monkeypatch):
    app, owner, base, cage, tmp_path, space = world
    runs = services(app).runs
    survey = space(SURVEY, "Survey")
    first = runs.start(survey.id, owner.webid)
    real_execute = worker_module.execute

    def broken(*args, **kwargs):  # what a RecursionError deep in a run's clean-up did
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(worker_module, "execute", broken)
    worker = make_worker(base, cage, tmp_path / "cage")
    report = worker.run_once()
    assert report is not None
    assert not report.succeeded
    run = runs.store.load(first.id)
    assert run.status is RunStatus.FAILED
    assert run.outcome is Outcome.DATACAGE_ERROR  # its wording is FAILED_INSIDE's
    assert run.notes == []  # nothing of the error's words reaches the control plane

    monkeypatch.setattr(worker_module, "execute", real_execute)
    second = runs.start(survey.id, owner.webid)
    assert worker.run_once() is not None
    assert runs.store.load(second.id).status is RunStatus.SUCCEEDED
