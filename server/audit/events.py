"""Who an entry names, and the one event the service layer does not append yet (deliveries).

Organisations act under their WebID. An individual never does in the trail: every participant
of a space reads its whole trail, and a code provider must not learn whose data a space holds.
An individual's events name them by a pseudonym, the IRI of their consent history in the
registry (`<PUBLIC_URL>consents/<digest>#person`, the digest of space and WebID): stable within
the space, so their consent, withdrawal and each run's use of it line up, and unlinkable to
their WebID or across spaces for anyone but the control plane and the person.
"""

from __future__ import annotations

from datetime import datetime

from .entry import Entry
from .trail import AuditTrail


def individual(consent_iri: str) -> str:
    """The pseudonym an individual acts under in one space's trail."""
    return consent_iri.rsplit("/", 1)[0] + "#person"


def record_delivery(
    trail: AuditTrail,
    *,
    space_iri: str,
    run_iri: str,
    consumer: str,
    delivered: bool,
    agent: str,
    at: datetime | None = None,
    detail: str = "",
) -> Entry | None:
    """Append one delivery of a run's result to one consumer (or its failure).

    For the delivery report route: call it once the delivery's outcome is saved. `agent` is the
    datacage's WebID; `detail` plain words that name no individual.
    """
    outcome = "delivered to" if delivered else "could not be delivered to"
    summary = f"The run's result {outcome} {consumer}." + (f" {detail}" if detail else "")
    action = "result-delivered" if delivered else "delivery-failed"
    return trail.record(space_iri, action, agent, summary, run_iri, consumer, at=at)
