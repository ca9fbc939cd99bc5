"""Who is asking: a signed-in browser (the encrypted session) or a Solid client (DPoP token).

A request carrying `Authorization: DPoP ...` is authenticated by that token alone, verified
the way a Solid resource server verifies it; the session cookie is then ignored, so a script
and a browser never mix identities. Otherwise the session's WebID, if the sign-in has not
expired, is the actor.
"""

from __future__ import annotations

import time

from flask import current_app, g, request, session

from connectors.solid import errors as solid_errors
from connectors.solid.oidc.access_token import www_authenticate

from ..errors import NotSignedIn, Unavailable
from ..services import services


class TokenRejected(NotSignedIn):
    """A DPoP access token or proof that does not verify; carries the WWW-Authenticate value."""

    problem_type = "/api/problems/invalid-token"

    def __init__(self, message: str, challenge: str):
        super().__init__(message)
        self.challenge = challenge


def identify() -> None:
    g.actor, g.auth = None, None
    authorization = request.headers.get("Authorization")
    if authorization:
        _from_token(authorization)
        return
    webid = session.get("webid")
    signed_in_at = session.get("signed_in_at", 0)
    lifetime = int(current_app.config["SESSION_HOURS"]) * 3600
    if isinstance(webid, str) and time.time() - float(signed_in_at) < lifetime:
        g.actor, g.auth = webid, "session"


def public_request_url() -> str:
    """The URL the client addressed, as DPoP's `htu` names it: our public URL, not the proxy's."""
    return current_app.config["PUBLIC_URL"] + request.path.lstrip("/")


def _from_token(authorization: str) -> None:
    try:
        verified = services().access_tokens.verify(
            authorization=authorization,
            # Joined, so that a request with two proofs is refused rather than half-read.
            dpop=", ".join(request.headers.getlist("DPoP")) or None,
            method=request.method,
            url=public_request_url(),
        )
    except solid_errors.AuthenticationError as exc:
        raise TokenRejected(
            f"Your access token was not accepted: {exc}", www_authenticate(exc)
        ) from None
    except solid_errors.SolidError as exc:
        raise Unavailable(
            f"Your identity provider could not be reached to check your token: {exc}"
        ) from None
    g.actor, g.auth = verified.webid, "dpop"
