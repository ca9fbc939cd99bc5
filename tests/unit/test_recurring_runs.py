"""Recurring runs over a real (in-memory) registry with a clock the test moves: ticks racing
(duplicate beat ticks, two beats, two machines) start one run per interval at most, decided by
the registry's compare-and-swap; a space that is not recurring, not active, or has a run under
way gets none; only the datacage may tick."""

from __future__ import annotations

import threading

import pytest

from server.algorithms import build_bundle
from server.errors import NotAuthorized
from server.runs.model import RunStatus
from server.runs.recurring import next_run_id, start_due
from server.spaces.model import Role
from server.spaces.validation import check_space
from tests.support.lease_world import OWNER, clock, refused_report, runs  # noqa: F401
from tests.support.runs_world import CAGE, SURVEY, attestation

HOUR = 3600.0


def _space(runs, *, recurring: bool = True, name: str = "Weekly survey"):  # noqa: F811
    fields = check_space(
        name=name,
        description="",
        purposes=["Marketing"],
        legal_basis="Consent",
        retention="P30D",
        data_requests=[{"kind": "path", "target": "shop/orders.csv", "description": "Orders"}],
        recurring=recurring,
    )
    spaces = runs.spaces
    space = spaces.create(OWNER, fields, frozenset(Role))
    spaces.register_algorithm(space.id, OWNER, build_bundle(SURVEY))
    spaces.submit_for_approval(space.id, OWNER)
    return spaces.approve(space.id, OWNER, spaces.get(space.id, OWNER).terms_digest)


def _finish(runs, run_id: str) -> None:  # noqa: F811
    run = runs.store.load(run_id)
    job = runs.claim_run(CAGE, run_id, attestation(run.algorithm_digest))
    runs.finish(run_id, CAGE, refused_report(), job.lease.token)


def _runs_of(runs, space):  # noqa: F811
    return runs.store.of_space(space.iri)


def test_ticks_racing_start_one_run_decided_by_compare_and_swap(runs, clock):  # noqa: F811
    space = _space(runs)
    # Both racers read the space's runs before either writes: only the registry can decide.
    both_read = threading.Barrier(2, timeout=10)
    read = runs.store.summaries

    def summaries_then_wait(iri):
        found = read(iri)
        both_read.wait()
        return found

    runs.store.summaries = summaries_then_wait
    reports = []
    racers = [
        threading.Thread(target=lambda: reports.append(start_due(runs, CAGE, HOUR)))
        for _ in range(2)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(20)
    started = [run for report in reports for run in report.started]
    lost = [space_id for report in reports for space_id in report.lost]
    assert len(started) == 1
    assert lost == [space.id]
    assert [r.id for r in _runs_of(runs, space)] == started


def test_the_next_run_comes_one_interval_after_the_last_and_not_before(runs, clock):  # noqa: F811
    space = _space(runs)
    first = start_due(runs, CAGE, HOUR).started
    assert first == [next_run_id(space.id, None)]
    assert start_due(runs, CAGE, HOUR).started == []  # waiting: one run at a time
    _finish(runs, first[0])
    clock.advance(HOUR - 1)
    assert start_due(runs, CAGE, HOUR).started == []  # ended, but not an interval ago
    clock.advance(1)
    second = start_due(runs, CAGE, HOUR).started
    assert second == [next_run_id(space.id, first[0])]
    assert start_due(runs, CAGE, HOUR).started == []  # a duplicate tick
    assert len(_runs_of(runs, space)) == 2
    assert all(r.requested_by == OWNER for r in _runs_of(runs, space))


def test_a_space_not_recurring_or_no_longer_active_gets_no_run(runs, clock):  # noqa: F811
    once = _space(runs, recurring=False, name="Once")
    closed = _space(runs, name="Closed")
    runs.spaces.close(closed.id, OWNER)
    stays = _space(runs, name="Stays")
    started = start_due(runs, CAGE, HOUR).started
    assert [runs.store.load(r).space_id for r in started] == [stays.id]
    assert _runs_of(runs, once) == []
    assert _runs_of(runs, closed) == []
    assert runs.store.load(started[0]).status is RunStatus.QUEUED


def test_only_the_datacage_may_tick(runs):  # noqa: F811
    _space(runs)
    with pytest.raises(NotAuthorized):
        start_due(runs, OWNER, HOUR)
    assert runs.store.queued() == []
