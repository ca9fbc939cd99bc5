"""Withdrawing consent: the registry first, then the pod.

The registry record is what the datacage checks before every read, so marking it withdrawn
excludes the person from every later run at once, even if their pod cannot be reached now.
Taking the Read grant out of the pod and marking their receipt withdrawn needs their own
session (a fresh sign-in, or for recurring spaces the refresh token kept encrypted); until that
is done the record says the grant may remain, and their My data page offers to remove it.

Each consent's grants are entries of their own in the access list, labelled with the consent's
IRI, so taking one consent's grant out never takes out another's: two spaces reading the same
file hold two authorizations (WAC) or two policies (ACP). Grants written before labels existed
are shared; one of those is removed only when no other live consent of the person needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime

from connectors.solid import AccessMode, SolidClient
from connectors.solid import errors as solid_errors

from ..audit.events import individual
from .model import Consent, ConsentHistory, ConsentState
from .rdf import receipt_graph
from .store import ConsentStore

log = logging.getLogger(__name__)


def mark_withdrawn(
    store: ConsentStore,
    consent: Consent,
    *,
    reason: str,
    now: datetime,
    state: ConsentState = ConsentState.WITHDRAWN,
) -> Consent:
    """Stop the consent counting (idempotent); return the record as stored."""

    def change(history: ConsentHistory) -> tuple[Consent, bool]:
        stored = history.get(consent.number)
        if stored is None:
            raise LookupError(consent.iri)
        if stored.state in (ConsentState.GIVEN, ConsentState.REQUESTED):
            stored.state, stored.withdrawn_at, stored.withdrawal_reason = state, now, reason
            return stored, True
        return stored, False

    _, (stored, changed) = store.change(consent.space_iri, consent.subject, change)
    if changed:
        _audit_end(store, stored, now)
    log.info("consent withdrawn", extra={"consent": consent.iri, "state": state.name})
    return stored


def _audit_end(store: ConsentStore, consent: Consent, now: datetime) -> None:
    # The reason is not logged: a pod's refusal names the URL it refused, and so the person.
    if consent.state is ConsentState.EXPIRED:
        store.audit.record(
            consent.space_iri, "consent-expired", None, "Consent expired.", consent.iri, at=now
        )
    else:
        store.audit.record(
            consent.space_iri,
            "consent-withdrawn",
            individual(consent.iri),
            "Consent withdrawn.",
            consent.iri,
            at=now,
        )


def needed_elsewhere(store: ConsentStore, consent: Consent, now: datetime) -> frozenset[str]:
    """The resources another live consent of the same person, to the same grantee, still reads
    (given and in force, or being recorded right now): read fresh from the registry."""
    needed: set[str] = set()
    for history in store.of_subject(consent.subject):
        for other in history.consents:
            if other.iri == consent.iri or other.grantee != consent.grantee:
                continue
            live = other.counts_at(now) or (
                other.state is ConsentState.REQUESTED and not other.abandoned_at(now)
            )
            if live:
                needed.update(other.resource_urls)
    return frozenset(needed)


def revoke_grants(
    person: SolidClient, consent: Consent, needed: Collection[str] = frozenset()
) -> list[str]:
    """Take the consent's own Read grants off its resources; return what failed.

    A shared grant from before grants were labelled is taken too, unless a resource is in
    `needed` (another live consent reads it); other consents' labelled grants always stay."""
    left = []
    for resource in consent.resources:
        try:
            control = person.access_control(resource.url)
            control.revoke(consent.grantee, [AccessMode.READ], label=consent.iri)
            if resource.url not in needed:
                control.revoke(consent.grantee, [AccessMode.READ], keep_labelled=True)
            if resource.is_container and control.system == "WAC":
                left += _revoke_copies(person, consent, resource.url)
        except solid_errors.NotFound:
            continue  # the resource is gone, and its access list with it
        except solid_errors.SolidError as exc:
            log.warning("grant not removed", extra={"url": resource.url, "reason": str(exc)})
            left.append(f"the datacage's read access to {resource.url}")
    if consent.usage_records:
        try:
            control = person.access_control(consent.usage_records)
            control.revoke(consent.grantee, [AccessMode.APPEND], label=consent.iri)
            control.revoke(consent.grantee, [AccessMode.APPEND], keep_labelled=True)
        except solid_errors.NotFound:
            pass  # the person removed the container, and its access list with it
        except solid_errors.SolidError as exc:
            log.warning(
                "grant not removed", extra={"url": consent.usage_records, "reason": str(exc)}
            )
            left.append(f"the datacage's access to add usage records in {consent.usage_records}")
    return left


#: Members of a shared folder looked at for copies of its grant, at most (a pod is not a crawl).
MAX_MEMBERS_WALKED = 2000


def _revoke_copies(person: SolidClient, consent: Consent, folder: str) -> list[str]:
    """WAC: a member that got an access list of its own (another consent's grant on it) holds a
    copy of the folder's inherited grants, this consent's among them under the same label. Take
    those copies out too; a member without its own list is left untouched."""
    left: list[str] = []
    pending, seen = [folder], 0
    while pending and seen < MAX_MEMBERS_WALKED:
        try:
            members = person.list_container(pending.pop())
        except solid_errors.SolidError:
            continue
        for member in members:
            seen += 1
            if member.is_container:
                pending.append(member.url)
            try:
                person.access_control(member.url).revoke(
                    consent.grantee, [AccessMode.READ], label=consent.iri
                )
            except solid_errors.NotFound:
                continue
            except solid_errors.SolidError as exc:
                log.warning("grant copy not removed", extra={"url": member.url, "reason": str(exc)})
                left.append(f"the datacage's read access to {member.url}")
    if pending:
        left.append(f"checking every item in {folder} (it holds more than {MAX_MEMBERS_WALKED})")
    return left


def remove_from_pod(
    store: ConsentStore, person: SolidClient, consent: Consent, clock: Callable[[], datetime]
) -> list[str]:
    """With the person's own session: remove the grants and mark their receipt; return what
    could not be done (empty when everything was)."""
    if person.webid != consent.subject:
        raise PermissionError("Only the person who gave a consent can change their pod.")
    left = revoke_grants(person, consent, needed_elsewhere(store, consent, clock()))
    if consent.receipt_url:
        try:
            person.put_graph(consent.receipt_url, receipt_graph(consent))
        except solid_errors.SolidError as exc:
            log.warning(
                "receipt not updated", extra={"url": consent.receipt_url, "reason": str(exc)}
            )
            left.append(f"marking your receipt at {consent.receipt_url} as withdrawn")
    if left:
        return left
    now = clock()

    def done(history: ConsentHistory) -> None:
        stored = history.get(consent.number)
        if stored is not None:
            stored.grant_removed_at = now

    store.change(consent.space_iri, consent.subject, done)
    consent.grant_removed_at = now
    store.audit.record(
        consent.space_iri,
        "consent-grant-removed",
        individual(consent.iri),
        "The datacage's access was taken out of the pod.",
        consent.iri,
        at=now,
    )
    return []
