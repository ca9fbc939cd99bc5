"""Consent is bound to the terms the person saw: what changed since, in words they can check.

A consent names the digest of the space's terms it was given under (`Consent.terms_digest`).
When the space's terms change (a purpose, a consumer, the algorithm, runs that recur, ...), the
space's digest moves on and the consent no longer covers its runs: it *needs renewal*. Runs
read only consents whose digest is the run's own (`server.consent.authority`); this module says
which consents need renewal and what changed, for My data and for the notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..spaces.catalogue import label_of
from ..spaces.model import Space, SpaceStatus
from .give import RECEIPTS_CONTAINER
from .model import Consent, ConsentState


@dataclass(frozen=True)
class Change:
    """One line of the difference: what, as the person agreed to it, and as it is now."""

    what: str
    before: str
    now: str


def needs_renewal(consent: Consent, space: Space, now: datetime) -> bool:
    """Given and in force, but under terms the space no longer has."""
    return (
        consent.state_at(now) is ConsentState.GIVEN
        and space.terms_digest is not None
        and consent.terms_digest != space.terms_digest
    )


def can_renew(space: Space) -> bool:
    """Renewal is offered only for terms every participant approved (an active space)."""
    return space.status is SpaceStatus.ACTIVE


def changes(consent: Consent, space: Space) -> list[Change]:
    """What differs between the terms the consent was given under and the space's terms now."""
    found: list[Change] = []

    def compare(what: str, before: str, now: str) -> None:
        if before != now:
            found.append(Change(what, before, now))

    compare(
        "Purposes",
        _listed(label_of(p) for p in consent.purposes),
        _listed(label_of(p) for p in space.terms.purposes),
    )
    compare("Results go to", _listed(consent.consumers), _listed(space.consumers))
    compare(
        "Algorithm",
        _algorithm(space, consent.algorithm_digest),
        _algorithm(space, space.current_algorithm or ""),
    )
    compare("Runs", _runs(consent.recurring), _runs(space.terms.recurring))
    compare("Legal basis", label_of(consent.legal_basis), label_of(space.terms.legal_basis))
    for what, before, now in (
        ("How long consent lasts", consent.consent_period, space.terms.consent_period),
        ("How long results are kept", consent.retention, space.terms.retention),
    ):
        if before is not None:
            compare(what, before, now)
    if consent.min_individuals is not None:
        compare(
            "Smallest group a result may describe",
            str(consent.min_individuals),
            str(space.terms.min_individuals),
        )
    compare("Data asked for", _asked(consent), _requested(consent, space))
    if not found:
        found.append(
            Change(
                "Other details of the terms",
                "as you agreed to them",
                "changed (see the space's invitation page)",
            )
        )
    return found


def _listed(items) -> str:
    values = sorted(items)
    return ", ".join(values) if values else "none"


def _algorithm(space: Space, digest: str) -> str:
    algorithm = space.algorithm_by_digest(digest)
    if algorithm is None:
        return digest or "none"
    return f"{algorithm.name} {algorithm.version} ({digest})"


def _runs(recurring: bool) -> str:
    return "repeatedly, reading your data again at each run" if recurring else "once"


def _storage_of(consent: Consent) -> str | None:
    """The person's storage, from where their receipt was written (`<storage>consent-receipts/`)."""
    if consent.receipt_url and RECEIPTS_CONTAINER in consent.receipt_url:
        return consent.receipt_url.split(RECEIPTS_CONTAINER, 1)[0]
    return None


def _asked(consent: Consent) -> str:
    return _listed(r.url + (" (whole folder)" if r.is_container else "") for r in consent.resources)


def _requested(consent: Consent, space: Space) -> str:
    """The space's requests now, as URLs in this person's pod where they name a path."""
    storage = _storage_of(consent)
    shown = []
    for request in space.terms.data_requests:
        if request.path and storage:
            path = request.path.lstrip("/")
            shown.append(storage + path + (" (whole folder)" if path.endswith("/") else ""))
        else:
            shown.append(f"{request.description} ({request.path or request.rdf_class})")
    if all(r.path for r in space.terms.data_requests):
        return _listed(shown)
    # A request by kind of data resolves through the person's type index: it cannot be
    # compared here, so the consent's own list stands next to the requests as words.
    return _listed(shown) + " (by kind: found in your pod when you renew)"
