"""A consent as a job sees it: made by space, person, number and state, the rest plain defaults."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from server.consent.model import Consent, ConsentState, PodResource
from server.consent.rdf import history_iri

PUBLIC = "https://dc.example/"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TERMS, OLD_TERMS = "sha256:" + "a" * 64, "sha256:" + "b" * 64
GIVEN, WITHDRAWN, REQUESTED = ConsentState.GIVEN, ConsentState.WITHDRAWN, ConsentState.REQUESTED


def consent(space: str, subject: str, number: int, state, **changes) -> Consent:
    made = Consent(
        iri=f"{history_iri(PUBLIC, space, subject)}/{number}",
        number=number,
        space_iri=space,
        space_id=space.rsplit("/", 1)[-1],
        space_name="Survey",
        subject=subject,
        grantee="https://cage.example/profile/card#me",
        resources=(
            PodResource(subject.split("/profile")[0] + "/shop/orders.csv"),
            PodResource(subject.split("/profile")[0] + "/photos/", True),
        ),
        purposes=("https://w3id.org/dpv#Marketing", "https://w3id.org/dpv#ResearchAndDevelopment"),
        legal_basis="https://w3id.org/dpv#Consent",
        controller="https://owner.example/profile/card#me",
        consumers=("https://consumer.example/profile/card#me",),
        algorithm_digest="sha256:" + "c" * 64,
        terms_digest=TERMS,
        recurring=False,
        started_at=NOW - timedelta(days=3),
        expires_at=NOW + timedelta(days=30),
        state=state,
        given_at=NOW - timedelta(days=3) if state is not REQUESTED else None,
        usage_records=subject.split("/profile")[0] + "/datacage/usage/",
    )
    return replace(made, **changes)
