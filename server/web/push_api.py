"""Push over HTTP: the datacage publishes its evidence, data providers fetch it and register.

    GET  /api/datacage/push/wanted            (datacage) -> {"digests": ["sha256:..."]}
    POST /api/datacage/push/evidence          (datacage) {"evidence", "public_key"[,
                                              "fleet_key"]} -> 204
    GET  /api/spaces/<id>/push/evidence       (data provider) -> evidence, key, hashes
    POST /api/spaces/<id>/datasets            (data provider) the registration -> 201 dataset
    GET  /api/spaces/<id>/datasets            (participants) -> {"datasets": [...]}

Callers authenticate as everywhere in the API: a DPoP-bound Solid access token
(`server.web.actor`). Read grants are never served here; only the job carries them.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from ..errors import ValidationFailed
from ..push.service import PushService
from ..services import services
from ..spaces.permissions import signed_in

bp = Blueprint("push_api", __name__)


def push_service(app: Flask | None = None) -> PushService:
    """The push service of this application (kept with the others on `services()`)."""
    return services(app).push


def _json_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"": ["Send a JSON object with Content-Type: application/json."]})
    return body


@bp.get("/api/datacage/push/wanted")
def wanted() -> Response:
    return jsonify({"digests": push_service().wanted_digests(signed_in(g.actor))})


@bp.post("/api/datacage/push/evidence")
def publish() -> Response:
    body = _json_object()
    fleet_key = body.pop("fleet_key", None)  # a fleet's key service statement, if any
    if (
        set(body) != {"evidence", "public_key"}
        or not all(isinstance(v, str) for v in body.values())
        or not (fleet_key is None or isinstance(fleet_key, dict))
    ):
        raise ValidationFailed({"": ['Send {"evidence": "...", "public_key": "<PEM>"}.']})
    push_service().publish(signed_in(g.actor), body["evidence"], body["public_key"], fleet_key)
    return Response(status=204)


@bp.get("/api/spaces/<space_id>/push/evidence")
def evidence(space_id: str) -> Response:
    space, published = push_service().evidence_for(space_id, g.actor)
    return jsonify(
        {
            "space": space.iri,
            "datacage": current_app.config.get("DATACAGE_WEBID") or "",
            "bundle_digest": published.bundle_digest,
            "evidence": published.evidence,
            "evidence_sha256": published.evidence_sha256,
            "public_key": published.public_key_pem,
            "published_at": published.published_at.isoformat(),
            "fleet_key": published.fleet_key,
        }
    )


@bp.post("/api/spaces/<space_id>/datasets")
def register(space_id: str) -> Response:
    dataset = push_service().register(space_id, g.actor, _json_object())
    response = jsonify(dataset.public())
    response.status_code = 201
    response.headers["Location"] = dataset.iri
    return response


@bp.get("/api/spaces/<space_id>/datasets")
def datasets(space_id: str) -> Response:
    found = push_service().of_space(space_id, g.actor)
    return jsonify({"datasets": [d.public() for d in found]})
