"""Consents past their end: recorded as expired, and their grants taken back where possible.

The datacage already ignores an expired consent (it compares the expiry with its own clock at
every read); this sweep makes the record, the person's My data page and, for recurring spaces
(where the person's refresh token was kept for exactly this), their pod say so too. Run it
from a timer: `datacage consents expire`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from connectors.solid import SolidClient, SolidSession
from connectors.solid import errors as solid_errors
from connectors.solid.http import Http

from .model import ConsentState
from .store import ConsentStore
from .vault import TokenVault, VaultError
from .withdraw import mark_withdrawn, remove_from_pod

log = logging.getLogger(__name__)


@dataclass
class ExpiryReport:
    expired: list[str] = field(default_factory=list)  # consent IRIs newly recorded as expired
    cleaned: list[str] = field(default_factory=list)  # ... whose grant left the pod too
    left: list[str] = field(default_factory=list)  # ... whose grant may remain (no token, failed)


def expire_consents(
    store: ConsentStore, vault: TokenVault, http: Http, clock: Callable[[], datetime]
) -> ExpiryReport:
    report = ExpiryReport()
    now = clock()
    for history in store.everything():
        for consent in history.consents:
            if consent.state is not ConsentState.GIVEN or consent.counts_at(now):
                continue
            consent = mark_withdrawn(
                store,
                consent,
                reason="The consent period ended.",
                now=now,
                state=ConsentState.EXPIRED,
            )
            report.expired.append(consent.iri)
            if _take_back(store, vault, http, consent, clock):
                report.cleaned.append(consent.iri)
            else:
                report.left.append(consent.iri)
    return report


def _take_back(store, vault, http, consent, clock) -> bool:
    try:
        kept = vault.get(consent.iri)
    except VaultError:
        kept = None
    if kept is None:
        return False  # a one-off space kept no token: My data offers the person to remove it
    try:
        person = SolidClient(SolidSession.from_refresh_state(kept, http=http))
        left = remove_from_pod(store, person, consent, clock)
    except solid_errors.SolidError as exc:
        log.warning("expired grant not removed", extra={"consent": consent.iri, "reason": str(exc)})
        return False
    if left:
        return False
    vault.delete(consent.iri)
    return True
