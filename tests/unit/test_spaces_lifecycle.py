"""The space state machine and approval rules, on plain model objects (no registry, no HTTP)."""

from dataclasses import replace
from datetime import timedelta

import pytest
from rdflib import Literal, URIRef

from server.errors import WrongState
from server.spaces import lifecycle
from server.spaces.model import (
    Approval,
    DataRequest,
    Participant,
    Role,
    Space,
    SpaceStatus,
)
from server.spaces.rdf import DamagedRecord, from_graph, to_graph
from tests.support.space_records import (
    CODER,
    CONSUMER,
    DIGEST_A,
    DIGEST_B,
    NOW,
    OWNER,
    algorithm,
    approve_all,
    ready_space,
    space,
)
from vocab import DCG, XSD


def test_a_space_without_an_algorithm_or_roles_cannot_be_submitted():
    s = space(participants=[Participant(OWNER, frozenset(), NOW)])
    with pytest.raises(WrongState) as refused:
        lifecycle.submit(s)
    message = str(refused.value)
    assert "register the algorithm" in message
    assert "data provider" in message
    assert "data consumer" in message
    assert s.status is SpaceStatus.DRAFT


def test_submitting_twice_is_a_wrong_transition():
    s = ready_space()
    assert s.status is SpaceStatus.AWAITING_APPROVAL
    with pytest.raises(WrongState, match="already waiting for approvals"):
        lifecycle.submit(s)


def test_a_draft_cannot_be_approved():
    s = space(algorithms=[algorithm()], current_algorithm=DIGEST_A)
    with pytest.raises(WrongState, match="still being set up"):
        lifecycle.require_approvable(s, s.terms_digest)


def test_the_space_turns_active_only_when_every_participant_approved():
    s = ready_space()
    s.approvals.append(Approval("1", OWNER, s.terms_digest, DIGEST_A, NOW))
    lifecycle.settle(s, NOW)
    assert s.status is SpaceStatus.AWAITING_APPROVAL
    assert s.missing_approvals == [CODER, CONSUMER]
    approve_all(s)
    assert s.status is SpaceStatus.ACTIVE
    assert s.missing_approvals == []


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: setattr(s, "current_algorithm", DIGEST_B), id="algorithm"),
        pytest.param(
            lambda s: _with(s, purposes=("https://w3id.org/dpv#AcademicResearch",)), id="purpose"
        ),
        pytest.param(lambda s: _with(s, retention="P1Y"), id="retention"),
        pytest.param(lambda s: _with(s, consent_period="P6M"), id="consent period"),
        pytest.param(lambda s: _with(s, recurring=True), id="recurring"),
        pytest.param(lambda s: _with(s, min_individuals=10), id="smallest group"),
        pytest.param(
            lambda s: _with(s, data_requests=(DataRequest("Everything", path="health/"),)),
            id="data requested",
        ),
        pytest.param(
            lambda s: s.participants.append(
                Participant("https://new.example/#me", frozenset({Role.DATA_CONSUMER}), NOW)
            ),
            id="consumers",
        ),
    ],
)
def test_any_change_to_the_terms_voids_every_approval_and_leaves_active(change):
    s = ready_space()
    s.algorithms.append(algorithm(DIGEST_B))
    approve_all(s)
    assert s.status is SpaceStatus.ACTIVE
    before = s.terms_digest
    change(s)
    later = NOW + timedelta(minutes=5)
    lifecycle.settle(s, later)
    assert s.terms_digest != before
    assert s.status is SpaceStatus.AWAITING_APPROVAL
    assert all(a.voided_at == later for a in s.approvals)


def _with(s: Space, **fields) -> None:
    s.terms = replace(s.terms, **fields)


def test_a_voided_approval_stays_void_when_the_terms_change_back():
    s = ready_space()
    s.algorithms.append(algorithm(DIGEST_B))
    approve_all(s)
    s.current_algorithm = DIGEST_B
    lifecycle.settle(s, NOW)
    s.current_algorithm = DIGEST_A
    lifecycle.settle(s, NOW)
    assert s.status is SpaceStatus.AWAITING_APPROVAL
    assert s.missing_approvals == [OWNER, CODER, CONSUMER]


def test_a_new_participant_who_is_no_consumer_must_still_approve():
    s = ready_space()
    approve_all(s)
    s.participants.append(
        Participant("https://dp.example/#me", frozenset({Role.DATA_PROVIDER}), NOW)
    )
    lifecycle.settle(s, NOW)
    assert s.status is SpaceStatus.AWAITING_APPROVAL
    assert s.missing_approvals == ["https://dp.example/#me"]


def test_a_stale_terms_digest_is_refused():
    s = ready_space()
    with pytest.raises(WrongState, match="terms changed since you looked"):
        lifecycle.require_approvable(s, "sha256:" + "0" * 64)


def test_a_closed_space_refuses_everything_and_closing_is_final():
    s = ready_space()
    lifecycle.close(s, NOW)
    assert s.status is SpaceStatus.CLOSED
    for action in (
        lambda: lifecycle.close(s, NOW),
        lambda: lifecycle.submit(s),
        lambda: lifecycle.require_approvable(s, s.terms_digest),
    ):
        with pytest.raises(WrongState, match="closed"):
            action()


def test_the_terms_digest_ignores_order_of_purposes_and_participants():
    one = space(algorithms=[algorithm()], current_algorithm=DIGEST_A)
    two = space(algorithms=[algorithm()], current_algorithm=DIGEST_A)
    two.participants.reverse()
    assert one.terms_digest == two.terms_digest


def test_a_space_survives_the_round_trip_through_its_graph():
    s = ready_space()
    approve_all(s)
    s.approvals[0].voided_at = NOW + timedelta(hours=1)
    back = from_graph(s.iri, to_graph(s), revision=3)
    assert back.revision == 3
    for name in ("name", "owner", "terms", "status", "current_algorithm", "algorithms"):
        assert getattr(back, name) == getattr(s, name), name
    assert sorted(p.webid for p in back.participants) == sorted(p.webid for p in s.participants)
    assert {(a.webid, a.terms_digest, a.voided_at) for a in back.approvals} == {
        (a.webid, a.terms_digest, a.voided_at) for a in s.approvals
    }


def test_the_consent_terms_survive_the_round_trip_as_typed_literals():
    s = space()
    _with(s, consent_period="P6M", recurring=True)
    graph = to_graph(s)
    subject = URIRef(s.iri)
    assert graph.value(subject, DCG.consentPeriod) == Literal("P6M", datatype=XSD.duration)
    assert graph.value(subject, DCG.recurringRuns) == Literal(True)
    assert from_graph(s.iri, graph, revision=1).terms == s.terms


def test_a_space_stored_before_the_consent_terms_existed_reads_with_the_defaults():
    graph = to_graph(space())
    graph.remove((None, DCG.consentPeriod, None))
    graph.remove((None, DCG.recurringRuns, None))
    graph.remove((None, DCG.minimumIndividuals, None))
    terms = from_graph("https://dc.example/spaces/abc", graph, revision=1).terms
    assert (terms.consent_period, terms.recurring, terms.min_individuals) == ("P1Y", False, 5)


@pytest.mark.parametrize("stored", [Literal("false"), Literal(0), URIRef("https://x.example/")])
def test_recurring_runs_stored_as_anything_but_a_boolean_is_a_damaged_record(stored):
    # A plain "false" must not quietly read as True.
    s = space()
    graph = to_graph(s)
    graph.set((URIRef(s.iri), DCG.recurringRuns, stored))
    with pytest.raises(DamagedRecord, match="true or false"):
        from_graph(s.iri, graph, revision=1)


def test_the_smallest_group_survives_the_round_trip_as_an_integer():
    s = space()
    _with(s, min_individuals=25)
    graph = to_graph(s)
    assert graph.value(URIRef(s.iri), DCG.minimumIndividuals) == Literal(25, datatype=XSD.integer)
    assert from_graph(s.iri, graph, revision=1).terms.min_individuals == 25


@pytest.mark.parametrize(
    "stored", [Literal("7"), Literal("7.5", datatype=XSD.decimal), URIRef("https://x.example/")]
)
def test_a_smallest_group_stored_as_anything_but_an_integer_is_a_damaged_record(stored):
    s = space()
    graph = to_graph(s)
    graph.set((URIRef(s.iri), DCG.minimumIndividuals, stored))
    with pytest.raises(DamagedRecord, match="whole number"):
        from_graph(s.iri, graph, revision=1)
