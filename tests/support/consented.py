"""Many people's consents to one space of a `runs` control plane, given under its terms."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from server.consent.model import ConsentHistory, ConsentState
from server.consent.rdf import history_iri
from tests.support.job_consents import consent
from tests.support.runs_world import runs as runs

NOW = datetime.now(UTC).replace(microsecond=0)


def consented(runs, space, count: int, state=ConsentState.GIVEN, first: int = 0) -> list[str]:
    """`count` people's consents to `space` (given under its terms unless `state` says)."""
    store = runs.consents
    iris = []
    for n in range(first, first + count):
        subject = f"https://p{n}.example/profile/card#me"
        history = ConsentHistory(
            history_iri(store.public_url, space.iri, subject), space.iri, subject
        )
        made = consent(space.iri, subject, 1, state)
        history.consents.append(
            replace(
                made,
                iri=f"{history.iri}/1",
                terms_digest=space.terms_digest,
                started_at=NOW - timedelta(days=1),
                given_at=NOW - timedelta(days=1),
                expires_at=NOW + timedelta(days=30),
            )
        )
        store.write(history)
        iris.append(history.consents[0].iri)
    return iris
