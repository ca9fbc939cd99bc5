"""This server's identity as a Solid-OIDC client: its Client ID Document.

Identity providers dereference the `client_id` URL to learn our name and redirect URIs
(Solid-OIDC section 5.1), so no registration is needed at each provider.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, json

from connectors.solid.oidc import client_id_document

bp = Blueprint("identity", __name__)

CLIENT_ID_PATH = "clientid.jsonld"
CALLBACK_PATH = "login/callback"


def client_id() -> str:
    return current_app.config["PUBLIC_URL"] + CLIENT_ID_PATH


def redirect_uri() -> str:
    return current_app.config["PUBLIC_URL"] + CALLBACK_PATH


@bp.get("/" + CLIENT_ID_PATH)
def client_id_document_view() -> Response:
    base = current_app.config["PUBLIC_URL"]
    document = client_id_document(
        client_id(),
        client_name=current_app.config["CLIENT_NAME"],
        redirect_uris=[redirect_uri()],
        client_uri=base,
        post_logout_redirect_uris=[base],
    )
    return Response(json.dumps(document), mimetype="application/ld+json")
