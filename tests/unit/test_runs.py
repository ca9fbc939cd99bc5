"""Runs over a real (in-memory) registry: who may start, claim and report, and the record kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.solid.http import Http
from server.algorithms import BundleStore, build_bundle
from server.consent.store import ConsentStore
from server.errors import NotAuthorized, NotFound, WrongState
from server.registry import open_registry
from server.runs.actions import Runs
from server.runs.model import Attestation, RunStatus
from server.runs.rdf import from_graph, to_graph
from server.runs.store import RunStore
from server.spaces.actions import Spaces
from server.spaces.model import Role
from server.spaces.validation import check_space

OWNER = "https://owner.example/profile/card#me"
CAGE = "https://cage.example/profile/card#me"
STRANGER = "https://stranger.example/profile/card#me"
SURVEY = Path(__file__).parents[1] / "fixtures" / "bundles" / "shop-survey"
PUBLIC = "https://dc.example/"


@pytest.fixture
def runs(tmp_path):
    with open_registry(path=":memory:") as registry:
        spaces = Spaces(
            lambda: registry,
            BundleStore(tmp_path / "bundles"),
            Http(),
            PUBLIC,
            max_bundle_bytes=2**20,
        )
        consents = ConsentStore(lambda: registry, PUBLIC)
        yield Runs(RunStore(lambda: registry, PUBLIC), spaces, consents, lambda: CAGE)


def active_space(runs: Runs):
    fields = check_space(
        name="Survey",
        description="",
        purposes=["Marketing"],
        legal_basis="Consent",
        retention="P30D",
        data_requests=[{"kind": "path", "target": "shop/orders.csv", "description": "Orders"}],
    )
    spaces = runs.spaces
    space = spaces.create(OWNER, fields, frozenset(Role))
    spaces.register_algorithm(space.id, OWNER, build_bundle(SURVEY))
    spaces.submit_for_approval(space.id, OWNER)
    return spaces.approve(space.id, OWNER, spaces.get(space.id, OWNER).terms_digest)


def attestation(digest: str) -> Attestation:
    return Attestation("software-unattested", "sha256:" + "c" * 64, digest, "k" * 64)


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
    assert job.as_json()["algorithm"]["parameters"] == {"label": "Shop survey"}
    assert job.as_json()["space"]["min_individuals"] == 5
    runs.report(run.id, CAGE, "Running the algorithm.", 0.5)
    with pytest.raises(NotAuthorized):
        runs.report(run.id, STRANGER, "Hacked", 1.0)
    outcome = {
        "succeeded": True,
        "individuals_read": 7,
        "problems": ["1 pod(s) could not be read (down or failing); left out."],
        "log": "read 7 people",
        "gate_passed": True,
        "gate_reasons": [],
        "result_digest": "sha256:" + "d" * 64,
        "result_size": 120,
    }
    runs.finish(run.id, CAGE, outcome)
    with pytest.raises(WrongState):
        runs.finish(run.id, CAGE, outcome)
    done = runs.store.load(run.id)
    assert done.status is RunStatus.SUCCEEDED
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
