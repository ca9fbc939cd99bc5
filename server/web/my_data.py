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

from ..consent.actions import ConsentActions, Removal
from ..consent.model import Consent
from ..consent.rdf import receipt_graph
from ..consent.terms import can_renew, changes, needs_renewal
from ..consent.usage import uses_of
from ..errors import NotFound, NotSignedIn
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
        checks=_pod_checks(consents),
    )


def _spaces_of(consents: list[Consent]) -> dict[str, Space]:
    found: dict[str, Space] = {}
    for space_id in {c.space_id for c in consents}:
        try:
            found[space_id] = services().spaces.store.load(space_id)
        except NotFound:
            continue  # a space that is gone asks for no renewal
    return found


def _pod_checks(consents: list[Consent]) -> dict:
    """Read through the person's own session: the one a check sign-in left (used once, then
    ended), else each recurring consent's kept sign-in."""
    person = pod_session.current(g.actor) if session.get(_CHECKING) else None
    if session.pop(_CHECKING, None):
        pod_session.end()
    return _actions().pod_checks(consents, person)


def _actions() -> ConsentActions:
    return services().consent_actions


@bp.post("/my-data/check")
def check_pod() -> WerkzeugResponse:
    """Sign in at the person's provider so My data can read their pod's access lists."""
    if not g.get("actor"):
        raise NotSignedIn("Sign in to check your pod.")
    metadata = _actions().sign_in_at(g.actor, session.get("issuer"))
    if metadata is None:
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
    key = f"{digest}/{number}"
    withdrawn = _actions().withdraw(key, _signed_in(), clean_pod=True, issuer=session.get("issuer"))
    notice = "Your consent is withdrawn: no run will read your data again."
    return _after_removal(key, withdrawn.removal or Removal(), notice)


@bp.post("/my-data/consents/<digest>/<int:number>/remove-grant")
def remove_grant(digest: str, number: int) -> WerkzeugResponse:
    key = f"{digest}/{number}"
    removal = _actions().remove_grant(key, _signed_in(), issuer=session.get("issuer"))
    return _after_removal(key, removal, "")


def _after_removal(key: str, removal: Removal, notice: str) -> WerkzeugResponse:
    """Say how it went on My data, or send the person to sign in so the pod can be cleaned."""
    if removal.sign_in is not None:
        return send_to_issuer(
            removal.sign_in,
            next_page=url_for("my_data.finish_cleaning"),
            purpose="pod",
            carry={"cleaning": key, NOTICE: notice},
        )
    session[NOTICE] = _cleaned(notice, removal.left) if removal.attempted else notice
    return redirect(url_for("my_data.my_data"), 303)


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
    left = _actions().finish_removal(key, g.actor, person)
    pod_session.end()
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


def _signed_in() -> str:
    if not g.get("actor"):
        raise NotSignedIn("Sign in to change your consents.")
    return g.actor


def _own_consent(digest: str, number: int) -> Consent:
    return _actions().own(f"{digest}/{number}", _signed_in())
