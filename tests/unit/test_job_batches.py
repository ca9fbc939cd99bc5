"""The claim and the batch re-check over a real (in-memory) registry: what the datacage may
ask, what it is told, and that neither reads every history to answer."""

from __future__ import annotations

import pytest

from server.consent.model import ConsentState
from server.consent.store import MAX_BATCH, ConsentStore
from server.consent.withdraw import mark_withdrawn
from server.errors import NotAuthorized, NotFound, ValidationFailed, WrongState
from server.runs.model import RunStatus
from tests.support.consented import (
    NOW,
    consented,
)
from tests.support.runs_world import CAGE, OWNER, STRANGER, active_space, attestation
from tests.support.runs_world import runs as runs


def claimed(runs):
    space = active_space(runs)
    given = consented(runs, space, 6)
    consented(runs, space, 2, ConsentState.WITHDRAWN, first=100)
    run = runs.start(space.id, OWNER)
    job = runs.claim(CAGE, attestation(run.algorithm_digest))
    assert job is not None
    return space, run, job, given


def no_scans(monkeypatch) -> None:
    """Reading every history of the space is what made a 100 000-person run take minutes."""

    def scan(*args, **kwargs):
        raise AssertionError("read every history of the space")

    monkeypatch.setattr(ConsentStore, "of_space", scan)
    monkeypatch.setattr(ConsentStore, "everything", scan)


def test_the_claim_lists_the_consents_in_force_without_reading_every_history(runs, monkeypatch):
    space = active_space(runs)
    given = consented(runs, space, 6)
    consented(runs, space, 2, ConsentState.WITHDRAWN, first=100)
    run = runs.start(space.id, OWNER)
    no_scans(monkeypatch)
    reads = []
    original = ConsentStore.read
    monkeypatch.setattr(
        ConsentStore, "read", lambda self, name: reads.append(name) or original(self, name)
    )
    job = runs.claim(CAGE, attestation(run.algorithm_digest))
    assert job is not None
    assert job.consent_iris == sorted(given)
    assert reads == []  # no history read one by one either
    assert runs.store.load(run.id).individuals_included == 6
    assert job.as_json()["consent_count"] == 6
    # The claim is still one step: the run is taken, and a second claim gets nothing.
    assert runs.claim(CAGE, attestation(run.algorithm_digest)) is None
    assert runs.store.load(run.id).status is RunStatus.RUNNING


def test_a_batch_answers_only_for_consents_still_in_force_in_the_runs_space(runs, monkeypatch):
    _space, run, _job, given = claimed(runs)
    other = active_space(runs)  # another space: its consents are not this run's to ask about
    elsewhere = consented(runs, other, 2, first=200)
    mark_withdrawn(
        runs.consents,
        runs.consents.read(given[0].rsplit("/", 1)[0]).consents[0],
        reason="changed my mind",
        now=NOW,
    )
    no_scans(monkeypatch)
    asked = [*given, *elsewhere, given[1], "https://dc.example/consents/" + "0" * 32 + "/1"]
    found = runs.check_consents(run.id, CAGE, asked, _job.lease.token)
    assert [c.iri for c in found] == given[1:]  # asked order, once each
    assert found[0].subject == "https://p1.example/profile/card#me"
    assert [r.url for r in found[0].resources] == [
        "https://p1.example/photos/",
        "https://p1.example/shop/orders.csv",
    ]


def test_a_batch_question_is_bounded_and_only_the_runs_datacage_may_ask(runs):
    _space, run, job, given = claimed(runs)
    lease = job.lease.token
    with pytest.raises(ValidationFailed):
        runs.check_consents(run.id, CAGE, [given[0]] * (MAX_BATCH + 1), lease)
    with pytest.raises(ValidationFailed):
        runs.check_consents(run.id, CAGE, [], lease)
    with pytest.raises(NotAuthorized):
        runs.check_consents(run.id, STRANGER, given)
    runs.store.change(run.id, lambda r: setattr(r, "status", RunStatus.FAILED))
    with pytest.raises(WrongState):  # an ended run reads no one
        runs.check_consents(run.id, CAGE, given)


def test_a_consent_is_found_by_its_name_not_by_a_scan(runs, monkeypatch):
    _space, run, _job, given = claimed(runs)
    other = active_space(runs)
    [elsewhere] = consented(runs, other, 1, first=300)
    no_scans(monkeypatch)
    loaded = runs.store.load(run.id)
    assert runs.consent(loaded, given[2]).iri == given[2]
    hostile = [
        elsewhere,  # another space's
        given[2][:-1] + "9",  # a number this person never had
        given[2].replace("consents/", "runs/"),
        runs.consents.public_url + "consents/" + "z" * 32 + "/1",
        runs.consents.public_url + "consents/> } #/1",
        "",
    ]
    for iri in hostile:
        with pytest.raises(NotFound):
            runs.consent(loaded, iri)
