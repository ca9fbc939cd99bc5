"""The Client ID Document a Solid application publishes at its client_id URL.

Solid-OIDC section 5.1: the `client_id` is a URL that dereferences to a JSON-LD document with
the `https://www.w3.org/ns/solid/oidc-context.jsonld` context; the identity provider reads the
redirect URIs from it instead of a registration. Public client: no secret, PKCE instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SOLID_OIDC_CONTEXT = "https://www.w3.org/ns/solid/oidc-context.jsonld"


def client_id_document(
    client_id: str,
    *,
    client_name: str,
    redirect_uris: Sequence[str],
    client_uri: str | None = None,
    logo_uri: str | None = None,
    post_logout_redirect_uris: Sequence[str] = (),
    scope: str = "openid webid offline_access",
    default_max_age: int | None = 3600,
) -> dict[str, Any]:
    if not redirect_uris:
        raise ValueError("A Client ID Document needs at least one redirect URI.")
    document: dict[str, Any] = {
        "@context": [SOLID_OIDC_CONTEXT],
        "client_id": client_id,
        "client_name": client_name,
        "redirect_uris": list(redirect_uris),
        "post_logout_redirect_uris": list(post_logout_redirect_uris),
        "scope": scope,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "require_auth_time": True,
    }
    if client_uri:
        document["client_uri"] = client_uri
    if logo_uri:
        document["logo_uri"] = logo_uri
    if default_max_age is not None:
        document["default_max_age"] = default_max_age
    return document
