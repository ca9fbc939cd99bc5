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

from ..consent.actions import ClosedToConsent, ConsentActions, ShownChanged
from ..consent.resolve import Found
from ..consent.terms import changes, needs_renewal
from ..errors import NotSignedIn, WrongState
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


def _actions() -> ConsentActions:
    return services().consent_actions


def _open_problem(space: Space) -> str | None:
    return _actions().why_closed(space)


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


def _person() -> SolidClient:
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
        raise ClosedToConsent(problem)
    return _consent_page(space, _actions().preview(space, _person()))


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
    try:
        consent = _actions().accept(
            space,
            _person(),
            terms_digest=request.form.get("terms_digest", ""),
            resources=request.form.getlist("resource"),
        )
    except ShownChanged as changed:
        return _consent_page(space, changed.found, 409, str(changed))
    except ClosedToConsent:
        pod_session.end()
        raise
    pod_session.end()
    session[NOTICE] = f"Thank you: your consent to {space.name} is recorded."
    return redirect(url_for("my_data.my_data", _anchor=f"consent-{consent.number}"), 303)
