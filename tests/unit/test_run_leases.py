"""Leases on runs, attacked over a real (in-memory) registry with a clock the test moves: a worker
that stops renewing loses the run, its late reports are refused, a task delivered twice or two
workers racing get one claim, and nothing past the output gate is ever offered again."""

# ruff: noqa: F811 - the shared fixtures `runs` and `clock` are parameters of the tests

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from server.errors import WrongState
from server.protocol.outcomes import Note, Outcome
from server.runs.model import RunStatus
from tests.support.lease_world import (  # noqa: F401 - shared, fixtures by name
    LEASE_S,
    OWNER,
    clock,
    refused_report,
    runs,
)
from tests.support.runs_world import CAGE, active_space, attestation


def _started(runs):
    run = runs.start(active_space(runs).id, OWNER)
    return run, attestation(run.algorithm_digest)


def test_a_claim_holds_the_run_under_a_lease_naming_the_enclave_key(runs, clock):
    run, evidence = _started(runs)
    job = runs.claim_run(CAGE, run.id, evidence)
    assert job is not None
    assert job.lease is not None
    held = runs.store.load(run.id)
    assert held.lease_until == clock.now + timedelta(seconds=LEASE_S)
    assert held.attestation.key_sha256 == evidence.key_sha256
    assert job.lease.token not in str(held)  # only its digest is kept
    assert job.as_json()["lease"]["token"] == job.lease.token


def test_a_report_without_the_lease_token_or_with_a_guessed_one_is_refused(runs):
    run, evidence = _started(runs)
    runs.claim_run(CAGE, run.id, evidence)
    for token in (None, "", "x" * 43):
        with pytest.raises(WrongState, match="no longer held"):
            runs.report(run.id, CAGE, "pulling", 0, token)
        with pytest.raises(WrongState, match="no longer held"):
            runs.finish(run.id, CAGE, refused_report(), token)
    assert runs.store.load(run.id).status is RunStatus.RUNNING


def test_a_renewed_lease_keeps_the_run_and_a_lapsed_one_offers_it_again(runs, clock):
    run, evidence = _started(runs)
    first = runs.claim_run(CAGE, run.id, evidence).lease.token
    clock.advance(LEASE_S - 1)
    runs.renew(run.id, CAGE, first)
    clock.advance(LEASE_S - 1)
    assert runs.sweep_lapsed() == {}  # renewed: still held
    runs.report(run.id, CAGE, "pulling", 0, first)
    clock.advance(LEASE_S)
    assert runs.sweep_lapsed() == {run.id: "offered"}
    again = runs.store.load(run.id)
    assert again.status is RunStatus.QUEUED
    assert again.datacage is None
    assert again.attestation is None
    assert again.lease_digest is None


def test_a_late_report_from_the_old_holder_is_refused_after_another_claimed(runs, clock):
    run, evidence = _started(runs)
    old = runs.claim_run(CAGE, run.id, evidence).lease.token
    clock.advance(LEASE_S + 1)
    new = runs.claim_run(CAGE, run.id, evidence)  # the claim itself applies the lapse
    assert new is not None
    for call in (
        lambda: runs.finish(run.id, CAGE, refused_report(), old),
        lambda: runs.report(run.id, CAGE, "running", 1, old),
        lambda: runs.renew(run.id, CAGE, old),
        lambda: runs.authority(run.id, CAGE, old),
    ):
        with pytest.raises(WrongState, match="no longer held"):
            call()
    runs.finish(run.id, CAGE, refused_report(), new.lease.token)
    done = runs.store.load(run.id)
    assert done.status is RunStatus.FAILED
    assert done.claims == 2


def test_a_lapsed_lease_refuses_the_holders_own_late_report_before_any_sweep(runs, clock):
    run, evidence = _started(runs)
    token = runs.claim_run(CAGE, run.id, evidence).lease.token
    clock.advance(LEASE_S + 0.001)
    with pytest.raises(WrongState, match="no longer held"):
        runs.finish(run.id, CAGE, refused_report(), token)
    assert runs.store.load(run.id).status is RunStatus.QUEUED  # offered again at once


def test_a_run_that_reached_the_gate_is_never_offered_again_but_ended_plainly(runs, clock):
    run, evidence = _started(runs)
    token = runs.claim_run(CAGE, run.id, evidence).lease.token
    runs.report(run.id, CAGE, "gating", 0, token)
    clock.advance(LEASE_S)
    assert runs.sweep_lapsed() == {run.id: "ended"}
    ended = runs.store.load(run.id)
    assert ended.status is RunStatus.FAILED
    assert ended.outcome is Outcome.DATACAGE_ERROR
    assert ended.notes == [Note.LEASE_LAPSED]
    assert runs.claim_run(CAGE, run.id, evidence) is None


def test_a_run_is_offered_again_only_up_to_its_claims_then_ended(runs, clock):
    run, evidence = _started(runs)
    for _ in range(2):
        assert runs.claim_run(CAGE, run.id, evidence) is not None
        clock.advance(LEASE_S)
    assert runs.sweep_lapsed() == {run.id: "ended"}
    assert runs.store.load(run.id).notes == [Note.LEASE_LAPSED]


def test_a_task_delivered_twice_claims_once(runs):
    run, evidence = _started(runs)
    assert runs.claim_run(CAGE, run.id, evidence) is not None
    assert runs.claim_run(CAGE, run.id, evidence) is None  # the duplicate message
    assert runs.store.load(run.id).claims == 1


def test_two_workers_racing_for_one_run_get_one_claim(runs):
    run, evidence = _started(runs)
    won: list[object] = []
    barrier = threading.Barrier(4)

    def race() -> None:
        barrier.wait()
        job = runs.claim_run(CAGE, run.id, evidence)
        if job is not None:
            won.append(job)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert runs.store.load(run.id).claims == 1


def test_a_finished_run_cannot_be_renewed_or_swept(runs, clock):
    run, evidence = _started(runs)
    token = runs.claim_run(CAGE, run.id, evidence).lease.token
    runs.finish(run.id, CAGE, refused_report(), token)
    with pytest.raises(WrongState):
        runs.renew(run.id, CAGE, token)
    clock.advance(LEASE_S * 10)
    assert runs.sweep_lapsed() == {}
    assert runs.store.load(run.id).outcome is Outcome.ALGORITHM_ERROR
