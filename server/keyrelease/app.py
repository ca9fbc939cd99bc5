"""The key service over HTTP, a WSGI app of its own (never part of the control plane's):

    GET  /                          the fleet, the service kind and its statement-signing key
    GET  /statements?bundle=sha256:... the signed statements of the bundle's active keys
    POST /release                   a worker's release request -> its fleet keys, sealed to it

A refusal is `403 application/problem+json` with the reason in `detail`; nothing else is ever
answered with key material, and there is no route that gives a private key unsealed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, Response, jsonify, request

from ..attestation.measurement import is_digest
from .errors import ReleaseRefused
from .release import KeyReleaser
from .statement import SOFTWARE_NOTICE


def create_key_service_app(service: KeyReleaser, signing_key_pem: str, fleet: str) -> Flask:
    app = Flask("datacage-key-service")

    @app.get("/")
    def about() -> Response:
        return jsonify(
            {
                "fleet": fleet,
                "service": getattr(service, "name", "key-service"),
                "notice": SOFTWARE_NOTICE,
                "signing_key": signing_key_pem,
            }
        )

    @app.get("/statements")
    def statements() -> Response:
        bundle = request.args.get("bundle", "")
        if not is_digest(bundle):
            return _problem(400, "Name the bundle as ?bundle=sha256:<64 hex>.")
        return jsonify({"fleet": fleet, "statements": service.statements(bundle)})

    @app.post("/release")
    def release() -> Response:
        try:
            answer = service.release(request.get_data(cache=False), datetime.now(UTC))
        except ReleaseRefused as exc:
            return _problem(403, str(exc))
        response = jsonify(answer)
        response.headers["Cache-Control"] = "no-store"
        return response

    return app


def _problem(status: int, detail: str) -> Response:
    response = jsonify(
        {"type": "about:blank", "title": "Key release refused", "status": status, "detail": detail}
    )
    response.status_code = status
    response.content_type = "application/problem+json"
    return response
