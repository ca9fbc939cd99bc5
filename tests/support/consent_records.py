"""One consent record, every field a plain default a test can change by keyword."""

from __future__ import annotations

from datetime import UTC, datetime

from server.consent.model import Consent, PodResource, add_duration

T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


HISTORY = "https://dc.example/consents/" + "a" * 32


def consent(**changes) -> Consent:
    values = {
        "iri": HISTORY + "/1",
        "number": 1,
        "space_iri": "https://dc.example/spaces/abc",
        "space_id": "abc",
        "space_name": "Common customers",
        "subject": "https://ana.example/profile/card#me",
        "grantee": "https://cage.example/profile/card#me",
        "resources": (
            PodResource("https://ana.example/a.ttl"),
            PodResource("https://ana.example/f/", True),
        ),
        "purposes": ("https://w3id.org/dpv#Marketing",),
        "legal_basis": "https://w3id.org/dpv#Consent",
        "controller": "https://shop.example/profile/card#me",
        "consumers": ("https://insights.example/profile/card#me",),
        "algorithm_digest": "sha256:" + "1" * 64,
        "terms_digest": "sha256:" + "2" * 64,
        "recurring": False,
        "started_at": T0,
        "expires_at": add_duration(T0, "P1M"),
    }
    return Consent(**{**values, **changes})
