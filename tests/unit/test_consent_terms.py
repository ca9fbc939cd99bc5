"""Consent bound to the terms: which consents need renewal, and what changed, in words."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from server.consent.model import Consent, ConsentState, PodResource
from server.consent.renewal import renewal_notice
from server.consent.terms import can_renew, changes, needs_renewal
from server.spaces.model import SpaceStatus
from tests.support.space_records import (
    CONSUMER,
    DIGEST_A,
    DIGEST_B,
    NOW,
    algorithm,
    approve_all,
    ready_space,
)

PERSON = "https://ana.example/profile#me"
STORAGE = "https://ana.example/"


def consent_to(space) -> Consent:
    return Consent(
        iri="https://dc.example/consents/x/1",
        number=1,
        space_iri=space.iri,
        space_id=space.id,
        space_name=space.name,
        subject=PERSON,
        grantee="https://cage.example/#me",
        resources=(PodResource(STORAGE + "customers.ttl"),),
        purposes=space.terms.purposes,
        legal_basis=space.terms.legal_basis,
        controller=space.owner,
        consumers=tuple(space.consumers),
        algorithm_digest=DIGEST_A,
        terms_digest=space.terms_digest or "",
        recurring=space.terms.recurring,
        started_at=NOW,
        expires_at=NOW + timedelta(days=365),
        state=ConsentState.GIVEN,
        receipt_url=STORAGE + "consent-receipts/abc-1.ttl",
        retention=space.terms.retention,
        consent_period=space.terms.consent_period,
        min_individuals=space.terms.min_individuals,
    )


def test_a_consent_under_the_current_terms_needs_no_renewal():
    space = ready_space()
    approve_all(space)
    consent = consent_to(space)
    assert not needs_renewal(consent, space, NOW)
    assert can_renew(space)


def test_changed_terms_are_listed_line_by_line():
    space = ready_space()
    approve_all(space)
    consent = consent_to(space)
    space.terms = replace(
        space.terms,
        purposes=(*space.terms.purposes, "https://w3id.org/dpv#PersonalisedAdvertising"),
        recurring=True,
        retention="P1Y",
    )
    space.algorithms.append(algorithm(DIGEST_B))
    space.current_algorithm = DIGEST_B
    assert needs_renewal(consent, space, NOW)
    found = {c.what: (c.before, c.now) for c in changes(consent, space)}
    assert found["Purposes"] == ("Marketing", "Marketing, Personalised advertising")
    assert found["Runs"][0] == "once"
    assert found["Runs"][1].startswith("repeatedly")
    assert found["How long results are kept"] == ("P90D", "P1Y")
    assert DIGEST_B in found["Algorithm"][1]
    assert "Results go to" not in found
    assert found.keys().isdisjoint({"Legal basis", "Data asked for"})
    assert space.consumers == [CONSUMER]


def test_a_withdrawn_or_expired_consent_needs_no_renewal():
    space = ready_space()
    approve_all(space)
    consent = consent_to(space)
    space.terms = replace(space.terms, recurring=True)
    consent.state = ConsentState.WITHDRAWN
    assert not needs_renewal(consent, space, NOW)
    consent.state = ConsentState.GIVEN
    assert not needs_renewal(consent, space, NOW + timedelta(days=400))


def test_renewal_waits_for_the_new_terms_to_be_approved():
    space = ready_space()
    approve_all(space)
    space.status = SpaceStatus.AWAITING_APPROVAL
    assert not can_renew(space)


def test_the_notice_names_the_space_and_my_data_not_other_people():
    space = ready_space()
    approve_all(space)
    consent = consent_to(space)
    text = renewal_notice(consent, space, "https://dc.example/my-data", NOW).serialize(
        format="turtle"
    )
    assert space.iri in text
    assert "https://dc.example/my-data" in text
    assert "Announce" in text
