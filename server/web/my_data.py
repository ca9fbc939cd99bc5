"""My data: a person's consents, the runs that read their data, withdrawal.

    /my-data                                   every consent and every use of their data
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
from ..consent.rdf import receipt_graph
from ..consent.usage import uses_of
from ..consent.withdraw import mark_withdrawn, remove_from_pod
from ..errors import NotSignedIn, PodRefused, WrongState
from ..services import services
from . import linked_data, pod_session
from .consent import NOTICE
from .signin import send_to_issuer

bp = Blueprint("my_data", __name__)


def _now() -> datetime:
    return datetime.now(UTC)


@bp.get("/my-data")
def my_data() -> str:
    if not g.get("actor"):
        raise NotSignedIn("Sign in to see your data.")
    histories = services().consents.of_subject(g.actor)
    consents = sorted(
        (c for h in histories for c in h.consents), key=lambda c: c.started_at, reverse=True
    )
    uses = uses_of(services().registry, g.actor)
    return render_template(
        "my_data.html",
        consents=consents,
        uses=uses,
        consent_of={c.iri: c for c in consents},  # each use's purposes are its consent's
        now=_now(),
        notice=session.pop(NOTICE, None),
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
    issuers = fetch_webid_profile(services().http, consent.subject).issuers
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
