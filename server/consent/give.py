"""Giving consent: grant, receipt and record, all three or none.

Order matters. The registry first *reserves* the consent (state "requested"), so a second
consent for the same space at the same time is refused by compare-and-swap before anything
touches the pod. Then the Read grants, then the receipt in the pod, then the registry record
turns "given". Any failure undoes what was done, newest first; what cannot be undone (a pod
that went away mid-way) is recorded and shown to the person, never hidden.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from connectors.solid import AccessMode, SolidClient
from connectors.solid import errors as solid_errors

from ..audit.events import individual
from ..errors import PodRefused, WrongState
from ..spaces.model import Space
from .model import Consent, ConsentHistory, ConsentState, PodResource, add_duration
from .paths import BadPath, check_inside
from .rdf import consent_iri, receipt_graph
from .store import ConsentStore
from .withdraw import needed_elsewhere, remove_from_pod, revoke_grants

log = logging.getLogger(__name__)

#: The container in the person's pod where their receipts are kept, under the pod root.
RECEIPTS_CONTAINER = "consent-receipts/"


def receipt_url(storage: str, consent: Consent) -> str:
    return f"{storage}{RECEIPTS_CONTAINER}{quote(consent.space_id)}-{consent.number}.ttl"


def usage_records_url(storage: str, consent: Consent) -> str:
    """The container, next to the receipt, where the datacage appends a record of each use."""
    return f"{storage}{RECEIPTS_CONTAINER}{quote(consent.space_id)}-{consent.number}-usage/"


def give_consent(
    store: ConsentStore,
    space: Space,
    person: SolidClient,
    *,
    grantee: str,
    resources: list[PodResource],
    storage: str,
    clock: Callable[[], datetime],
) -> Consent:
    subject = person.webid
    if not subject:
        raise WrongState("Sign in at your identity provider first.")
    if not resources:
        raise WrongState("None of the requested data is in your pod, so there is nothing to share.")
    for resource in resources:  # the page checked these; a grant never trusts a caller
        try:
            check_inside(storage, resource.url)
        except BadPath as exc:
            raise WrongState(
                f"{resource.url} cannot be shared: {exc} Nothing was granted."
            ) from exc
    _, (consent, abandoned) = store.change(
        space.iri, subject, lambda h: _reserve(h, space, subject, grantee, resources, clock())
    )
    for old in abandoned:  # a flow that died mid-way may have left grants behind: take them back
        revoke_grants(person, old, needed_elsewhere(store, old, clock()))
    granted: list[PodResource] = []
    receipt_written = False
    try:
        for resource in resources:
            control = person.access_control(resource.url)
            control.grant(
                grantee,
                [AccessMode.READ],
                include_members=resource.is_container,
                label=consent.iri,  # its own entry: withdrawing another consent leaves it
            )
            granted.append(resource)
            consent.access_system = control.system
        consent.receipt_url = receipt_url(storage, consent)
        person.ensure_container(storage + RECEIPTS_CONTAINER)
        _grant_usage_records(person, consent, grantee, usage_records_url(storage, consent))
        consent.state, consent.given_at = ConsentState.GIVEN, clock()
        person.put_graph(consent.receipt_url, receipt_graph(consent), if_none_match="*")
        receipt_written = True
        _, replaced = store.change(space.iri, subject, lambda h: _commit(h, consent))
    except Exception as exc:
        left = _roll_back(store, person, consent, granted, receipt_written, clock)
        raise PodRefused(_failure_message(exc, left)) from exc
    store.audit.record(
        space.iri, "consent-given", individual(consent.iri), "Consent given.", consent.iri
    )
    if replaced is not None:
        _retire(store, person, replaced, consent, clock)
    log.info("consent given", extra={"space": space.iri, "consent": consent.iri})
    return consent


def _retire(
    store: ConsentStore,
    person: SolidClient,
    replaced: Consent,
    renewal: Consent,
    clock: Callable[[], datetime],
) -> None:
    """The renewed consent's own grants leave the pod (the new consent holds its own)."""
    store.audit.record(
        replaced.space_iri,
        "consent-renewed",
        individual(replaced.iri),
        "Consent renewed under new terms.",
        replaced.iri,
        renewal.iri,
    )
    try:
        left = remove_from_pod(store, person, replaced, clock)
    except solid_errors.SolidError as exc:
        left = [str(exc)]
    if left:  # My data offers "Remove access from my pod" for it, as for any ended consent
        log.warning("renewed consent's grant left", extra={"consent": replaced.iri})


def _grant_usage_records(person: SolidClient, consent: Consent, grantee: str, url: str) -> None:
    """Append, and nothing else, on a container of its own: the datacage can add a record of
    each use (an N3 Patch that only inserts) but can neither read, change nor delete one."""
    person.ensure_container(url)
    consent.usage_records = url  # from here on, a roll-back takes the grant back
    person.access_control(url).grant(
        grantee, [AccessMode.APPEND], include_members=True, label=consent.iri
    )


def _reserve(
    history: ConsentHistory,
    space: Space,
    subject: str,
    grantee: str,
    resources: list[PodResource],
    now: datetime,
) -> tuple[Consent, list[Consent]]:
    abandoned = []
    for old in history.consents:
        if old.state is ConsentState.REQUESTED and old.abandoned_at(now):
            old.state, old.withdrawn_at = ConsentState.WITHDRAWN, now
            old.withdrawal_reason = "It was never completed (the window was closed mid-way)."
            abandoned.append(old)
    current = history.current(now)
    if current is not None and current.state is ConsentState.REQUESTED:
        raise WrongState(
            "Your consent to this space is being recorded in another window right now. "
            "Finish or close that one; nothing was changed here."
        )
    algorithm = space.algorithm
    terms = space.terms_digest
    if algorithm is None or terms is None:
        raise WrongState("This space has no approved algorithm, so it cannot take consent.")
    if current is not None and current.terms_digest == terms:
        raise WrongState(
            "You already consent to this space. To change what you share, withdraw that "
            "consent first on your My data page."
        )
    # A consent under earlier terms is renewed: the new one replaces it once recorded.
    number = history.next_number
    consent = Consent(
        iri=consent_iri(history.iri, number),
        number=number,
        space_iri=space.iri,
        space_id=space.id,
        space_name=space.name,
        subject=subject,
        grantee=grantee,
        resources=tuple(sorted(resources, key=lambda r: r.url)),
        purposes=tuple(sorted(space.terms.purposes)),
        legal_basis=space.terms.legal_basis,
        controller=space.owner,
        consumers=tuple(space.consumers),
        algorithm_digest=algorithm.digest,
        terms_digest=terms,
        recurring=space.terms.recurring,
        retention=space.terms.retention,
        consent_period=space.terms.consent_period,
        min_individuals=space.terms.min_individuals,
        started_at=now,
        expires_at=add_duration(now, space.terms.consent_period),
    )
    history.consents.append(consent)
    return consent, abandoned


def _commit(history: ConsentHistory, consent: Consent) -> Consent | None:
    """Record the consent as given; return the consent under earlier terms it replaces."""
    stored = history.get(consent.number)
    if stored is None or stored.state is not ConsentState.REQUESTED:
        raise WrongState("This consent was cancelled while it was being recorded.")
    history.consents[history.consents.index(stored)] = consent
    assert consent.given_at is not None
    for old in history.consents:
        if old.number != consent.number and old.state is ConsentState.GIVEN:
            old.state, old.withdrawn_at = ConsentState.WITHDRAWN, consent.given_at
            old.withdrawal_reason = (
                f"Renewed: replaced by your consent under the space's new terms "
                f"(number {consent.number})."
            )
            return old
    return None


def _roll_back(
    store: ConsentStore,
    person: SolidClient,
    consent: Consent,
    granted: list[PodResource],
    receipt_written: bool,
    clock: Callable[[], datetime],
) -> list[str]:
    """Undo, newest first; return what could not be undone."""
    left: list[str] = []
    if receipt_written and consent.receipt_url:
        try:
            person.delete(consent.receipt_url)
        except solid_errors.SolidError:
            left.append(f"the receipt at {consent.receipt_url}")
    consent.resources = tuple(granted)
    left += revoke_grants(person, consent, needed_elsewhere(store, consent, clock()))
    if consent.usage_records and not left:
        try:
            person.delete(consent.usage_records)  # still empty: no run used this consent
        except solid_errors.SolidError:
            log.warning("empty usage container left", extra={"url": consent.usage_records})

    def forget(history: ConsentHistory) -> None:
        stored = history.get(consent.number)
        if stored is None:
            return
        if not left:
            history.consents.remove(stored)  # nothing happened, so nothing to remember
            return
        # Something stayed in the pod: keep the record so the person sees it on My data.
        stored.state, stored.withdrawn_at = ConsentState.WITHDRAWN, clock()
        stored.withdrawal_reason = "It could not be completed."
        stored.resources, stored.access_system = consent.resources, consent.access_system

    try:
        store.change(consent.space_iri, consent.subject, forget)
    except Exception:  # the registry is down too: the reservation expires by itself
        log.exception("could not clear an unfinished consent", extra={"consent": consent.iri})
    log.warning("consent rolled back", extra={"consent": consent.iri, "left": len(left)})
    return left


def _failure_message(exc: Exception, left: list[str]) -> str:
    if isinstance(exc, WrongState):
        reason = str(exc)
    elif isinstance(exc, solid_errors.WouldLockOutOwner):
        reason = f"Your pod's access settings could not be changed safely: {exc}"
    elif isinstance(exc, (solid_errors.Forbidden, solid_errors.Unauthenticated)):
        reason = "Your pod refused to let this session change who may read your data."
    elif isinstance(exc, solid_errors.SolidError):
        reason = f"Your pod did not accept the change: {exc}"
    else:
        reason = "Your consent could not be recorded."
    if not left:
        return f"{reason} Nothing was granted and nothing was recorded; you can try again."
    return (
        f"{reason} We could not undo everything: please remove {', '.join(left)} yourself, "
        "or use your My data page."
    )
