"""The JSON API: the same actions as the pages, for scripts and Solid clients.

Views are thin: read the body (JSON, or the raw bundle), call one `Spaces` action, answer with
`representations`. Refusals are domain errors, which `server.web.errors` turns into RFC 9457
problem details. A script authenticates with a DPoP-bound Solid access token; a browser may use
its session cookie plus the X-CSRF-Token header (`server.web.actor`, `server.web.csrf`).
`server.web.openapi` describes every route here, and a test keeps the two in step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import UnsupportedMediaType

from ..errors import ValidationFailed
from ..services import services
from ..spaces.actions import Spaces
from ..spaces.model import DEFAULT_CONSENT_PERIOD, DEFAULT_MIN_INDIVIDUALS, Space
from ..spaces.permissions import signed_in
from ..spaces.rdf import space_iri
from ..spaces.validation import SpaceFields, check_roles, check_space
from . import openapi
from .representations import algorithm_json, api_url, consent_json, invitation_json, space_json

bp = Blueprint("api", __name__, url_prefix="/api")

BUNDLE_TYPES = frozenset({"application/zip", "application/gzip", "application/octet-stream"})

#: Each body's fields and their JSON types; anything else is refused, so a typo is never ignored.
SPACE_FIELDS: dict[str, type] = {
    "name": str,
    "description": str,
    "purposes": list,
    "legal_basis": str,
    "retention": str,
    "data_requests": list,
    "consent_period": str,
    "recurring": bool,
    "min_individuals": int,
    "differential_privacy": dict,  # {epsilon, lower, upper[, mechanism]}, or null for none
    "accepted_measurements": list,  # "sev-snp:<96 hex>" or "tdx:<96 hex>"
}
CREATE_FIELDS: dict[str, type] = {**SPACE_FIELDS, "roles": list}
INVITATION_FIELDS: dict[str, type] = {"webid": str, "roles": list}
APPROVAL_FIELDS: dict[str, type] = {"terms_digest": str}
DATA_REQUEST_FIELDS: dict[str, type] = {"kind": str, "target": str, "description": str}

_JSON_TYPE_NAMES = {
    str: "a string",
    list: "an array",
    dict: "an object",
    bool: "true or false",
    int: "a whole number",
}


def _spaces() -> Spaces:
    return services().spaces


def _space(space: Space, status: int = 200, **headers: str) -> Response:
    response = jsonify(space_json(space, _public_url()))
    response.status_code = status
    response.headers.update(headers)
    return response


def _public_url() -> str:
    return current_app.config["PUBLIC_URL"]


@bp.before_request
def _require_sign_in() -> None:
    # Before reading any body, so a caller without credentials hears that first, not a 422.
    if request.endpoint != "api.openapi_document":
        signed_in(g.actor)


# --- Who am I, and the document describing all this --------------------------------------------


@bp.get("/me")
def me() -> Response:
    return jsonify({"webid": signed_in(g.actor)})


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(openapi.document(_public_url()))


# --- Spaces ------------------------------------------------------------------------------------


@bp.get("/spaces")
def list_spaces() -> Response:
    spaces = _spaces().list_for(g.actor)
    return jsonify({"spaces": [space_json(s, _public_url()) for s in spaces]})


@bp.post("/spaces")
def create_space() -> Response:
    body = _json_body(CREATE_FIELDS)
    fields = _space_fields(body)
    roles = check_roles(body.get("roles"), required=False)
    space = _spaces().create(g.actor, fields, roles)
    return _space(space, 201, Location=api_url(_public_url(), space))


@bp.get("/spaces/<space_id>")
def get_space(space_id: str) -> Response:
    return _space(_spaces().get(space_id, g.actor))


@bp.put("/spaces/<space_id>")
def update_space(space_id: str) -> Response:
    fields = _space_fields(_json_body(SPACE_FIELDS))
    return _space(_spaces().update(space_id, g.actor, fields))


# --- Invitations -------------------------------------------------------------------------------


@bp.post("/spaces/<space_id>/invitations")
def invite(space_id: str) -> Response:
    body = _json_body(INVITATION_FIELDS)
    roles = check_roles(body.get("roles"))
    invitation = _spaces().invite(space_id, g.actor, body.get("webid") or "", roles)
    response = jsonify(invitation_json(invitation))
    response.status_code = 201
    response.headers["Location"] = (
        f"{space_iri(_public_url(), space_id)}/invitations/{invitation.id}"
    )
    return response


@bp.delete("/spaces/<space_id>/invitations/<invitation_id>")
def withdraw_invitation(space_id: str, invitation_id: str) -> Response:
    return _space(_spaces().withdraw_invitation(space_id, g.actor, invitation_id))


@bp.post("/spaces/<space_id>/invitations/<invitation_id>/accept")
def accept(space_id: str, invitation_id: str) -> Response:
    return _space(_spaces().accept(space_id, g.actor, invitation_id))


# --- The algorithm, approvals, closing ---------------------------------------------------------


@bp.put("/spaces/<space_id>/algorithm")
def register_algorithm(space_id: str) -> Response:
    if request.mimetype not in BUNDLE_TYPES:
        raise UnsupportedMediaType()
    # Read before the upload too, so a stranger is refused without us reading megabytes.
    # PUT answers 201 when it changed which algorithm is current, 200 when it was already so.
    before = _spaces().get(space_id, g.actor).current_algorithm
    data = request.get_data(cache=False)
    if not data:
        raise ValidationFailed({"bundle": ["Send the bundle (zip or tar.gz) as the request body."]})
    algorithm = _spaces().register_algorithm(space_id, g.actor, data)
    response = jsonify(algorithm_json(algorithm))
    if algorithm.digest != before:
        response.status_code = 201
        iri = space_iri(_public_url(), space_id)
        response.headers["Location"] = f"{iri}/algorithms/{algorithm.hex}"
    return response


@bp.post("/spaces/<space_id>/submit")
def submit(space_id: str) -> Response:
    return _space(_spaces().submit_for_approval(space_id, g.actor))


@bp.post("/spaces/<space_id>/approvals")
def approve(space_id: str) -> Response:
    body = _json_body(APPROVAL_FIELDS)
    digest = body.get("terms_digest")
    if not digest:
        raise ValidationFailed(
            {"terms_digest": ["Give the terms_digest of the terms you reviewed and approve."]}
        )
    return _space(_spaces().approve(space_id, g.actor, digest))


@bp.delete("/spaces/<space_id>/approvals/mine")
def withdraw_approval(space_id: str) -> Response:
    return _space(_spaces().withdraw_approval(space_id, g.actor))


@bp.post("/spaces/<space_id>/close")
def close(space_id: str) -> Response:
    return _space(_spaces().close(space_id, g.actor))


# --- Reading bodies ----------------------------------------------------------------------------


def _json_body(allowed: dict[str, type]) -> dict[str, Any]:
    """The request's JSON object, its fields known and of the right JSON type (null = absent).

    Flask's own answers to bad JSON are HTML 400/415 pages; a program gets a 422 problem
    document instead, saying what to send.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        if not request.is_json:
            message = "Send the body as JSON, with Content-Type: application/json."
        elif body is None:
            message = "The body is not valid JSON (or is null); send a JSON object."
        else:
            message = f"The body must be a JSON object, not {_json_kind(body)}."
        raise ValidationFailed({"": [message]})
    problems = _field_problems(body, allowed, prefix="")
    for index, item in enumerate(body.get("data_requests") or []):
        if isinstance(item, dict):
            prefix = f"data_requests-{index}-"
            problems.update(_field_problems(item, DATA_REQUEST_FIELDS, prefix))
    if problems:
        # Each message is a sentence already, so they are joined as prose for `detail`.
        raise ValidationFailed(problems, " ".join(m for ms in problems.values() for m in ms))
    return {name: value for name, value in body.items() if value is not None}


def _field_problems(
    body: dict[str, Any], allowed: dict[str, type], prefix: str
) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    known = ", ".join(allowed)
    for name in sorted(set(body) - set(allowed)):
        problems[prefix + name] = [f"'{name}' is not a field here; the fields are {known}."]
    for name, kind in allowed.items():
        value = body.get(name)
        # true is an int in Python, but never a count in JSON.
        wrong_bool = isinstance(value, bool) and kind is not bool
        if value is not None and (wrong_bool or not isinstance(value, kind)):
            expected, found = _JSON_TYPE_NAMES[kind], _json_kind(value)
            problems[prefix + name] = [f"'{name}' should be {expected}, not {found}."]
    return problems


def _space_fields(body: dict[str, Any]) -> SpaceFields:
    return check_space(
        name=body.get("name"),
        description=body.get("description"),
        purposes=body.get("purposes"),
        legal_basis=body.get("legal_basis"),
        retention=body.get("retention"),
        data_requests=body.get("data_requests"),
        # Optional, like a form left at its defaults; PUT replaces the terms, so leaving them
        # out of a PUT sets them back to the defaults.
        consent_period=body.get("consent_period", DEFAULT_CONSENT_PERIOD),
        recurring=body.get("recurring", False),
        min_individuals=body.get("min_individuals", DEFAULT_MIN_INDIVIDUALS),
        privacy=body.get("differential_privacy"),
        accepted_measurements=body.get("accepted_measurements", ()),
    )


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, float):
        return "a number with a fraction" if not value.is_integer() else "a decimal number"
    if isinstance(value, int):
        return "a number"
    return {str: "a string", list: "an array", dict: "an object"}.get(type(value), "null")


# --- A person's own consents -------------------------------------------------------------------


@bp.get("/consents")
def my_consents() -> Response:
    now = datetime.now(UTC)
    histories = services().consents.of_subject(signed_in(g.actor))
    consents = sorted((c for h in histories for c in h.consents), key=lambda c: c.started_at)
    return jsonify({"consents": [consent_json(c, _public_url(), now) for c in consents]})


@bp.post("/consents/<digest>/<int:number>/withdraw")
def withdraw_consent(digest: str, number: int) -> Response:
    """Withdraws at once in the registry (no later run reads the data). Taking the grant out of
    the pod needs the person's own pod session: `grant_may_remain` says so, and My data does it."""
    withdrawn = services().consent_actions.withdraw(f"{digest}/{number}", signed_in(g.actor))
    return jsonify(consent_json(withdrawn.consent, _public_url(), datetime.now(UTC)))
