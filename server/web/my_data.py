"""My data: a person's consents, the runs that read their data, withdrawal.

    /my-data                                   every consent and every use of their data
    /my-data/check                             sign in at their provider, then My data shows
                                               what their pod's access lists really grant
    /my-data/consents/<digest>/<n>/withdraw    withdraw (registry at once), then clean the pod
    /my-data/consents/<digest>/<n>/remove-grant  clean the pod of an ended consent
    /consents/<digest>/<n>                     the consent's IRI: its record, for its subject

Taking a grant out of a pod needs the person's own pod session: the refresh token kept for a
recurring space, or else a fresh sign-in at their identity provider (`purpose="pod"`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, g, redirect, render_template, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from connectors.solid import SolidClient, SolidSession
from connectors.solid import errors as solid_errors
from connectors.solid.oidc import fetch_webid_profile

from ..consent.model import Consent
from ..consent.pod_check import PodCheck, check_consent, expected_grant
from ..consent.rdf import receipt_graph
from ..consent.terms import can_renew, changes, needs_renewal
from ..consent.usage import uses_of
from ..consent.vault import VaultError
from ..consent.withdraw import mark_withdrawn, remove_from_pod
from ..errors import NotFound, NotSignedIn, PodRefused, WrongState
from ..services import services
from ..spaces.model import Space
from . import linked_data, pod_session
from .consent import NOTICE
from .signin import send_to_issuer

bp = Blueprint("my_data", __name__)

#: Set while a sign-in to check the pod is under way; My data then reads the access lists.
_CHECKING = "checking_pod"


def _now() -> datetime:
    return datetime.now(UTC)


@bp.get("/my-data")
def my_data() -> str:
    if not g.get("actor"):
        raise NotSignedIn("Sign in to see your data.")
    now = _now()
    histories = services().consents.of_subject(g.actor)
    consents = sorted(
        (c for h in histories for c in h.consents), key=lambda c: c.started_at, reverse=True
    )
    uses = uses_of(services().registry, g.actor)
    spaces = _spaces_of(consents)
    renewals = {
        c.iri: changes(c, spaces[c.space_id])
        for c in consents
        if c.space_id in spaces and needs_renewal(c, spaces[c.space_id], now)
    }
    return render_template(
        "my_data.html",
        consents=consents,
        uses=uses,
        consent_of={c.iri: c for c in consents},  # each use's purposes are its consent's
        now=now,
        notice=session.pop(NOTICE, None),
        renewals=renewals,
        renewable={i for i, s in spaces.items() if can_renew(s)},
        checks=_pod_checks(consents, now),
    )


def _spaces_of(consents: list[Consent]) -> dict[str, Space]:
    found: dict[str, Space] = {}
    for space_id in {c.space_id for c in consents}:
        try:
            found[space_id] = services().spaces.store.load(space_id)
        except NotFound:
            continue  # a space that is gone asks for no renewal
    return found


def _pod_checks(consents: list[Consent], now: datetime) -> dict[str, PodCheck]:
    """What the pod's access lists grant, read through the person's own session: the one a
    check sign-in left (used once, then ended), else a recurring consent's kept sign-in."""
    worth = [c for c in consents if expected_grant(c, now) and c.resources]
    checks: dict[str, PodCheck] = {}
    person = pod_session.current(g.actor) if session.get(_CHECKING) else None
    if session.pop(_CHECKING, None):
        pod_session.end()
    for consent in worth:
        client = person or _kept_session(consent)
        if client is None:
            continue
        try:
            checks[consent.iri] = check_consent(client, consent, now)
        except solid_errors.SolidError:
            continue  # shown as not checked
    return checks


def _kept_session(consent: Consent) -> SolidClient | None:
    if not consent.recurring:
        return None
    try:
        kept = services().vault.get(consent.iri)
    except VaultError:
        return None
    if kept is None:
        return None
    try:
        return SolidClient(SolidSession.from_refresh_state(kept, http=services().http))
    except solid_errors.SolidError:
        return None


@bp.post("/my-data/check")
def check_pod() -> WerkzeugResponse:
    """Sign in at the person's provider so My data can read their pod's access lists."""
    if not g.get("actor"):
        raise NotSignedIn("Sign in to check your pod.")
    try:
        metadata, _ = services().issuers.get(session.get("issuer") or _issuer_of_webid(g.actor))
    except solid_errors.SolidError:
        session[NOTICE] = (
            "Your identity provider could not be reached, so your pod was not checked."
        )
        return redirect(url_for("my_data.my_data"), 303)
    return send_to_issuer(
        metadata,
        next_page=url_for("my_data.my_data"),
        purpose="pod",
        carry={_CHECKING: "1"},
    )


@bp.post("/my-data/consents/<digest>/<int:number>/withdraw")
def withdraw(digest: str, number: int) -> WerkzeugResponse:
    consent = _own_consent(digest, number)
    consent = mark_withdrawn(services().consents, consent, reason="You withdrew it.", now=_now())
    return _clean_pod(consent, "Your consent is withdrawn: no run will read your data again.")


@bp.post("/my-data/consents/<digest>/<int:number>/remove-grant")
def remove_grant(digest: str, number: int) -> WerkzeugResponse:
    consent = _own_consent(digest, number)
    if consent.counts_at(_now()):
        raise WrongState("This consent still counts; withdraw it to remove the access.")
    return _clean_pod(consent, "")


def _clean_pod(consent: Consent, notice: str) -> WerkzeugResponse:
    """Take the grant out of the pod: with a kept refresh token at once, else by sign-in."""
    if not consent.grant_may_remain:
        session[NOTICE] = notice
        return redirect(url_for("my_data.my_data"), 303)
    kept = services().vault.get(consent.iri) if consent.recurring else None
    if kept is not None:
        try:
            person = SolidClient(SolidSession.from_refresh_state(kept, http=services().http))
            left = remove_from_pod(services().consents, person, consent, _now)
            if not left:
                services().vault.delete(consent.iri)
            session[NOTICE] = _cleaned(notice, left)
            return redirect(url_for("my_data.my_data"), 303)
        except solid_errors.SolidError:
            pass  # the kept sign-in no longer works: ask the person to sign in
    try:
        metadata, _ = services().issuers.get(session.get("issuer") or _issuer_of(consent))
    except solid_errors.SolidError:
        session[NOTICE] = _cleaned(
            notice, ["reaching your identity provider to remove the access from your pod"]
        )
        return redirect(url_for("my_data.my_data"), 303)
    return send_to_issuer(
        metadata,
        next_page=url_for("my_data.finish_cleaning"),
        purpose="pod",
        carry={"cleaning": consent.key, NOTICE: notice},
    )


def _issuer_of(consent: Consent) -> str:
    return _issuer_of_webid(consent.subject)


def _issuer_of_webid(webid: str) -> str:
    issuers = fetch_webid_profile(services().http, webid).issuers
    if not issuers:
        raise PodRefused("Your WebID profile names no identity provider to sign in at.")
    return issuers[0]


@bp.get("/my-data/finish")
def finish_cleaning() -> WerkzeugResponse:
    key = session.pop("cleaning", None)
    notice = session.pop(NOTICE, "") or ""
    person = pod_session.current(g.get("actor"))
    if not key or person is None or not g.get("actor"):
        pod_session.end()
        session[NOTICE] = (notice + " " if notice else "") + (
            "The access in your pod could not be removed because the sign-in did not complete; "
            "use Remove access on this page to try again."
        )
        return redirect(url_for("my_data.my_data"), 303)
    _, consent = services().consents.find(key, g.actor)
    left = remove_from_pod(services().consents, person, consent, _now)
    pod_session.end()
    if not left:
        services().vault.delete(consent.iri)
    session[NOTICE] = _cleaned(notice, left)
    return redirect(url_for("my_data.my_data"), 303)


def _cleaned(notice: str, left: list[str]) -> str:
    prefix = notice + " " if notice else ""
    if not left:
        return prefix + "The datacage's access was removed from your pod and your receipt says so."
    return prefix + "We could not finish in your pod: " + "; ".join(left) + ". Try again later."


@bp.get("/consents/<digest>/<int:number>")
def consent_record(digest: str, number: int) -> WerkzeugResponse:
    """The consent's IRI (its receipt names it): the record for an RDF client, else My data.

    Only its subject may see it; for anyone else it does not exist."""
    consent = _own_consent(digest, number)
    media_type = linked_data.rdf_type_wanted()
    if media_type:
        return linked_data.rdf_response(receipt_graph(consent), media_type)
    return redirect(url_for("my_data.my_data", _anchor=f"consent-{consent.number}"), 303)


def _own_consent(digest: str, number: int) -> Consent:
    if not g.get("actor"):
        raise NotSignedIn("Sign in to change your consents.")
    _, consent = services().consents.find(f"{digest}/{number}", g.actor)
    return consent
