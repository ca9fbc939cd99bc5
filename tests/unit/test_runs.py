"""Runs over a real (in-memory) registry: who may start, claim and report, and the record kept."""

# ruff: noqa: F811 - the shared fixtures (tests/support) are parameters of the tests

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.errors import NotAuthorized, NotFound, ValidationFailed, WrongState
from server.protocol.outcomes import Note, Outcome
from server.runs.actions import FinishReport
from server.runs.model import RunStatus
from server.runs.rdf import from_graph, to_graph
from tests.support.runs_world import (  # noqa: F401 - shared, fixtures by name
    CAGE,
    OWNER,
    PUBLIC,
    STRANGER,
    SURVEY,
    active_space,
    attestation,
    runs,
)


def test_a_participant_starts_one_run_at_a_time_of_an_approved_space(runs):
    space = active_space(runs)
    run = runs.start(space.id, OWNER)
    assert run.status is RunStatus.QUEUED
    assert run.algorithm_digest == space.algorithm.digest
    with pytest.raises(WrongState, match="already waiting"):
        runs.start(space.id, OWNER)
    with pytest.raises((NotAuthorized, NotFound)):
        runs.start(space.id, STRANGER)


def test_a_space_whose_approval_was_withdrawn_cannot_run(runs):
    space = active_space(runs)
    runs.spaces.withdraw_approval(space.id, OWNER)
    with pytest.raises(WrongState):
        runs.start(space.id, OWNER)


def test_only_the_datacage_claims_and_only_a_run_of_the_attested_bundle(runs):
    space = active_space(runs)
    run = runs.start(space.id, OWNER)
    with pytest.raises(NotAuthorized):
        runs.claim(STRANGER, attestation(run.algorithm_digest))
    assert runs.next_digest(CAGE) == run.algorithm_digest
    assert runs.claim(CAGE, attestation("sha256:" + "0" * 64)) is None
    assert runs.store.load(run.id).status is RunStatus.QUEUED  # waits for the right claim
    job = runs.claim(CAGE, attestation(run.algorithm_digest))
    assert job is not None
    assert job.run.status is RunStatus.RUNNING
    assert runs.next_digest(CAGE) is None


def test_a_run_whose_space_changed_after_it_was_started_fails_at_the_claim(runs):
    space = active_space(runs)
    run = runs.start(space.id, OWNER)
    runs.spaces.withdraw_approval(space.id, OWNER)
    assert runs.claim(CAGE, attestation(run.algorithm_digest)) is None
    failed = runs.store.load(run.id)
    assert failed.status is RunStatus.FAILED
    assert "Only an active space" in failed.problems[0]  # withdrawing reopens approval


def test_a_claimed_run_reports_progress_and_finishes_once(runs):
    space = active_space(runs)
    run = runs.start(space.id, OWNER)
    job = runs.claim(CAGE, attestation(run.algorithm_digest))
    assert job is not None
    lease = job.lease.token
    assert job.as_json()["algorithm"]["parameters"] == {"label": "Shop survey"}
    assert job.as_json()["space"]["min_individuals"] == 5
    assert runs.report(run.id, CAGE, "running", 2, lease).progress == 0.6
    assert runs.report(run.id, CAGE, "pulling", 0, lease).progress == 0.6  # not ahead: ignored
    with pytest.raises(NotAuthorized):
        runs.report(run.id, STRANGER, "running", 4)
    outcome = FinishReport.from_json(
        {
            "outcome": "succeeded",
            "refusal": None,
            "notes": ["pods-unreadable"],
            "individuals_read": 7,
            "result_digest": "sha256:" + "d" * 64,
            "result_size": 120,
        }
    )
    runs.finish(run.id, CAGE, outcome, lease)
    with pytest.raises(WrongState):
        runs.finish(run.id, CAGE, outcome, lease)
    done = runs.store.load(run.id)
    assert done.status is RunStatus.SUCCEEDED
    assert done.outcome is Outcome.SUCCEEDED
    assert done.notes == [Note.PODS_UNREADABLE]
    assert done.gate_passed is True
    assert done.stage_wording == "Finished."
    assert done.progress == 1.0
    assert done.attestation == attestation(run.algorithm_digest)
    assert done.finished_at >= done.started_at
    # The record reads back exactly, from its RDF.
    again = from_graph(done.iri, to_graph(done), done.revision)
    assert again == done
    assert runs.of_space(space.id, OWNER)[0].id == run.id


def test_a_run_of_another_space_is_not_found_through_this_one(runs):
    first, second = active_space(runs), active_space(runs)
    run = runs.start(first.id, OWNER)
    with pytest.raises(NotFound):
        runs.get(second.id, run.id, OWNER)
    assert datetime.now(UTC) >= run.requested_at


def _finish(**changes) -> dict:
    body = {
        "outcome": "output-refused",
        "refusal": {
            "rule": "shape/violation",
            "shape_path": "https://example.org/shop-survey#orders",
        },
        "notes": [],
        "individuals_read": 7,
        "result_digest": None,
        "result_size": None,
    }
    return {**body, **changes}


@pytest.mark.parametrize(
    "changes",
    [
        {"outcome": "The algorithm raised ValueError: alice@example.org"},
        {"notes": ["moc.elpmaxe@ecila"]},
        {"refusal": {"rule": "YWxpY2VAZXhhbXBsZS5vcmc=", "shape_path": None}},
        {
            "refusal": {
                "rule": "shape/violation",
                "shape_path": "https://example.org/alice@example.org",
            }
        },
        {"refusal": None},
        {"outcome": "algorithm-error"},  # a refusal with another outcome
        {"outcome": "succeeded", "refusal": None},  # success without its result digest
        {
            "outcome": "succeeded",
            "refusal": None,
            "result_digest": "sha256:alice",
            "result_size": 1,
        },
    ],
)
def test_a_finish_report_outside_the_vocabularies_is_refused_whole(runs, changes):
    space = active_space(runs)
    run = runs.start(space.id, OWNER)
    lease = runs.claim(CAGE, attestation(run.algorithm_digest)).lease.token
    with pytest.raises(ValidationFailed):
        runs.finish(run.id, CAGE, FinishReport.from_json(_finish(**changes)), lease)
    assert runs.store.load(run.id).status is RunStatus.RUNNING  # nothing of it was kept


def test_a_refusal_names_a_rule_and_a_path_of_the_approved_shape_and_few_people_are_no_count(
    runs,
):
    space = active_space(runs)
    run = runs.start(space.id, OWNER)
    lease = runs.claim(CAGE, attestation(run.algorithm_digest)).lease.token
    paths = runs._shape_paths(run.algorithm_digest)
    assert paths  # read from the approved bundle's own shape
    body = _finish(individuals_read=3)
    body["refusal"]["shape_path"] = sorted(paths)[0]
    runs.finish(run.id, CAGE, FinishReport.from_json(body), lease)
    done = runs.store.load(run.id)
    assert done.outcome is Outcome.OUTPUT_REFUSED
    assert done.refusal.rule == "shape/violation"
    assert done.refusal.shape_path == sorted(paths)[0]
    assert done.individuals_read == 0  # three is below the space's five: not shown
    assert done.gate_passed is False
    assert from_graph(done.iri, to_graph(done), done.revision) == done


@pytest.mark.parametrize(
    ("stage", "step"),
    [
        ("Running the algorithm.", 0),
        ("running", 5),
        ("pulling", 1),
        ("finished", 0),
        ("running", -1),
    ],
)
def test_progress_outside_the_stages_and_steps_is_refused(runs, stage, step):
    space = active_space(runs)
    run = runs.start(space.id, OWNER)
    lease = runs.claim(CAGE, attestation(run.algorithm_digest)).lease.token
    with pytest.raises(ValidationFailed):
        runs.report(run.id, CAGE, stage, step, lease)


def test_a_run_claimed_or_finished_is_counted_as_such_when_the_next_one_is_started(runs):
    """Starting asks one question of the registry (`RunStore.any_unfinished`), not a load of
    every run of the space: a run under way still blocks the next, a finished one does not."""
    space = active_space(runs)
    run = runs.start(space.id, OWNER)
    assert runs.claim(CAGE, attestation(run.algorithm_digest)) is not None
    with pytest.raises(WrongState, match="already waiting or under way"):
        runs.start(space.id, OWNER)

    def finished(run):
        run.status = RunStatus.SUCCEEDED

    runs.store.change(run.id, finished)
    assert not runs.store.any_unfinished(space.iri)
    assert runs.start(space.id, OWNER).status is RunStatus.QUEUED
