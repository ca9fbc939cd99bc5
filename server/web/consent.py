"""Individuals' side: the invitation page, consent by redirect, and My data.

    /spaces/<id>/join          public: who asks, for what, which data, which algorithm
    /spaces/<id>/join/qr.svg   the same link as a QR code
    /spaces/<id>/consent       after sign-in at their own provider: their resources, previewed

My data and withdrawal are in `server.web.my_data`. The pages only gather and show;
`server.consent` does the work.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

import segno
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from connectors.solid import SolidClient
from connectors.solid import errors as solid_errors

from ..consent.give import give_consent
from ..consent.model import Consent
from ..consent.resolve import Found, find_requested, storage_of
from ..consent.terms import changes, needs_renewal
from ..errors import NotSignedIn, PodRefused, WrongState
from ..services import services
from ..spaces.catalogue import purpose as purpose_choice
from ..spaces.model import Space, SpaceStatus
from . import pod_session
from .signin import find_issuer, send_to_issuer

log = logging.getLogger(__name__)

bp = Blueprint("consent", __name__)

#: A one-time message for the next My data page (also set by `server.web.my_data`).
NOTICE = "notice"


def _now() -> datetime:
    return datetime.now(UTC)


def _space(space_id: str) -> Space:
    return services().spaces.store.load(space_id)


def _datacage() -> str:
    return current_app.config["DATACAGE_WEBID"]


def _open_problem(space: Space) -> str | None:
    """Why this space cannot take consent now, or None if it can."""
    if space.status is not SpaceStatus.ACTIVE:
        return {
            SpaceStatus.DRAFT: "This space is still being set up; it cannot take consent yet.",
            SpaceStatus.AWAITING_APPROVAL: "This space is waiting for its participants to "
            "approve its terms; it cannot take consent yet.",
            SpaceStatus.CLOSED: "This space has closed; it takes no more consent.",
        }[space.status]
    if not _datacage():
        return "This server has no datacage identity configured yet, so no consent can be given."
    return None


# --- The invitation ---------------------------------------------------------------------------


@bp.get("/spaces/<space_id>/join")
def join(space_id: str) -> tuple[str, int]:
    return _join_page(_space(space_id), {}, "", "", [])


def _join_page(
    space: Space, errors: dict[str, str], webid: str, issuer: str, choices: list[str]
) -> tuple[str, int]:
    problem = _open_problem(space)
    current = None
    if g.get("actor"):
        current = services().consents.history(space.iri, g.actor).current(_now())
    html = render_template(
        "join.html",
        space=space,
        problem=problem,
        purposes=[purpose_choice(p) for p in space.terms.purposes],
        datacage=_datacage(),
        current=current,
        errors=errors,
        webid=webid or (g.get("actor") or ""),
        issuer=issuer,
        choices=choices,
        join_url=url_for("consent.join", space_id=space.id, _external=False),
    )
    status = 409 if problem and space.status is not SpaceStatus.ACTIVE else 200
    return html, (422 if errors else status)


@bp.get("/spaces/<space_id>/join/qr.svg")
def join_qr(space_id: str) -> Response:
    space = _space(space_id)
    link = current_app.config["PUBLIC_URL"] + f"spaces/{space.id}/join"
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="svg", scale=5, border=2, title=space.name)
    return Response(buffer.getvalue(), mimetype="image/svg+xml")


@bp.post("/spaces/<space_id>/join")
def start(space_id: str) -> WerkzeugResponse | tuple[str, int]:
    space = _space(space_id)
    problem = _open_problem(space)
    if problem:
        raise WrongState(problem)
    found = find_issuer(request.form.get("webid", ""), request.form.get("issuer", ""))
    if found.metadata is None:
        return _join_page(space, found.errors, found.webid, found.issuer, found.choices)
    return send_to_issuer(
        found.metadata,
        next_page=url_for("consent.consent_page", space_id=space.id),
        purpose="pod",
        offline=space.terms.recurring,
    )


# --- The consent page -------------------------------------------------------------------------


def _person(space: Space) -> SolidClient:
    person = pod_session.current(g.get("actor"))
    if person is None:
        raise WrongState(
            "To give consent, start from the invitation page and sign in at your identity "
            "provider: your sign-in for consent has ended or was never started."
        )
    return person


@bp.get("/spaces/<space_id>/consent")
def consent_page(space_id: str) -> WerkzeugResponse | tuple[str, int]:
    space = _space(space_id)
    if not g.get("actor"):
        return redirect(url_for("consent.join", space_id=space.id), 303)
    problem = _open_problem(space)
    if problem:
        pod_session.end()
        raise WrongState(problem)
    person = _person(space)
    try:
        found = find_requested(person, g.actor, space.terms.data_requests)
    except solid_errors.SolidError as exc:
        raise PodRefused(
            f"Your pod could not be read to show you what would be shared: {exc}"
        ) from exc
    return _consent_page(space, found)


def _consent_page(space: Space, found: list[Found], status: int = 200, message: str = ""):
    shareable = [f for f in found if f.shareable]
    current = services().consents.history(space.iri, g.actor).current(_now())
    renewing = current if current and needs_renewal(current, space, _now()) else None
    html = render_template(
        "consent.html",
        space=space,
        found=found,
        shareable=shareable,
        purposes=[purpose_choice(p) for p in space.terms.purposes],
        datacage=_datacage(),
        message=message,
        renewing=renewing,
        changes=changes(renewing, space) if renewing else [],
    )
    return html, status


@bp.post("/spaces/<space_id>/consent")
def answer(space_id: str) -> WerkzeugResponse | tuple[str, int]:
    space = _space(space_id)
    if not g.get("actor"):
        raise NotSignedIn("Sign in to answer.")
    if request.form.get("answer") != "accept":
        pod_session.end()
        log.info("consent declined", extra={"space": space.iri})
        return render_template("consent_declined.html", space=space), 200
    person = _person(space)
    problem = _open_problem(space)
    if problem:
        pod_session.end()
        raise WrongState(problem)
    try:
        found = find_requested(person, g.actor, space.terms.data_requests)
        storage = storage_of(person, g.actor)
    except solid_errors.SolidError as exc:
        raise PodRefused(
            f"Your pod could not be read, so nothing was granted or recorded: {exc}"
        ) from exc
    resources = [f.resource for f in found if f.shareable and f.resource]
    shown = sorted(request.form.getlist("resource"))
    if request.form.get("terms_digest") != space.terms_digest or shown != sorted(
        r.url for r in resources
    ):
        message = (
            "What would be shared changed since the page was shown (the space's terms or the "
            "data in your pod). Nothing was granted. Please look again."
        )
        return _consent_page(space, found, 409, message)
    consent = give_consent(
        services().consents,
        space,
        person,
        grantee=_datacage(),
        resources=resources,
        storage=storage,
        clock=_now,
    )
    _keep_refresh_token_if_recurring(person, consent)
    _forget_tokens_of_replaced(space, consent)
    pod_session.end()
    session[NOTICE] = f"Thank you: your consent to {space.name} is recorded."
    return redirect(url_for("my_data.my_data", _anchor=f"consent-{consent.number}"), 303)


def _forget_tokens_of_replaced(space: Space, consent: Consent) -> None:
    """A renewal replaced an older consent: once its grant left the pod, its token goes too."""
    history = services().consents.history(space.iri, consent.subject)
    for old in history.consents:
        if old.number != consent.number and old.grant_removed_at is not None:
            services().vault.delete(old.iri)


def _keep_refresh_token_if_recurring(person: SolidClient, consent: Consent) -> None:
    if not consent.recurring:
        return
    try:
        services().vault.put(consent.iri, person.session.refresh_state())
    except solid_errors.SolidError:
        # No refresh token issued: the grant is still taken back when the person withdraws
        # (they sign in then); the datacage stops reading at expiry in any case.
        log.info("no refresh token to keep", extra={"consent": consent.iri})
