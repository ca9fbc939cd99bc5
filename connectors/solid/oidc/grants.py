"""The three ways a Solid client gets tokens, each DPoP-bound.

- Client credentials (RFC 6749 section 4.4), as Community Solid Server and ESS offer them to
  scripts and servers: a service's own identity, no browser.
- Authorization code with PKCE (RFC 6749 section 4.1, RFC 7636), the browser login of
  Solid-OIDC: `begin_login` makes the redirect URL and what must be remembered;
  `complete_login` checks the callback (state, RFC 9207 `iss`, errors), exchanges the code and
  validates the ID token, including that the WebID's own profile trusts the issuer.
- Refresh (RFC 6749 section 6), with the same DPoP key the refresh token is bound to.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt

from .. import errors
from ..dpop import ProofFactory
from ..http import Http
from .discovery import IssuerMetadata, JwksCache, check_issuer_for_webid, normalise_issuer
from .id_token import IdTokenClaims, validate_id_token
from .pkce import Pkce
from .tokens import ClientAuth, TokenSet, request_token

DEFAULT_LOGIN_SCOPE = "openid webid offline_access"


def client_credentials_grant(
    http: Http,
    metadata: IssuerMetadata,
    client: ClientAuth,
    proofs: ProofFactory,
    *,
    now: float | None = None,
) -> TokenSet:
    form = {"grant_type": "client_credentials", "scope": "webid"}
    return request_token(http, metadata.token_endpoint, form, proofs, client, now=now)


def refresh_grant(
    http: Http,
    metadata: IssuerMetadata,
    refresh_token: str,
    client: ClientAuth,
    proofs: ProofFactory,
    *,
    now: float | None = None,
) -> TokenSet:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return request_token(http, metadata.token_endpoint, form, proofs, client, now=now)


def webid_of_access_token(access_token: str) -> str | None:
    """The `webid` claim of a Solid access token, read without verifying it.

    Only for labelling our own session: the token came straight from the token endpoint over
    our own connection, and it is the resource servers' job to verify it (Solid-OIDC 8.3).
    """
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    webid = claims.get("webid")
    return webid if isinstance(webid, str) else None


@dataclass(frozen=True)
class PendingLogin:
    """What the client keeps (server-side) between sending a person away and their return."""

    issuer: str
    client_id: str
    redirect_uri: str
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    authorization_url: str = field(repr=False)  # it carries the state and nonce

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingLogin:
        try:
            return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__})
        except (KeyError, TypeError) as exc:
            raise errors.LoginFailed(
                "This sign-in can no longer be completed (its stored state is incomplete); "
                "please start again."
            ) from exc


@dataclass(frozen=True)
class LoginResult:
    tokens: TokenSet
    id_token: IdTokenClaims

    @property
    def webid(self) -> str:
        return self.id_token.webid


def begin_login(
    metadata: IssuerMetadata,
    *,
    client_id: str,
    redirect_uri: str,
    scope: str = DEFAULT_LOGIN_SCOPE,
    prompt: str | None = "consent",
) -> PendingLogin:
    """Make the authorization URL to redirect a person to, and the state to remember.

    `prompt=consent` is what lets an identity provider issue a refresh token with
    `offline_access` (OpenID Connect Core section 11).
    """
    pkce = Pkce.generate()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": pkce.challenge,
        "code_challenge_method": pkce.method,
    }
    if prompt:
        params["prompt"] = prompt
    separator = "&" if "?" in metadata.authorization_endpoint else "?"
    return PendingLogin(
        issuer=metadata.issuer,
        client_id=client_id,
        redirect_uri=redirect_uri,
        state=state,
        nonce=nonce,
        code_verifier=pkce.verifier,
        authorization_url=metadata.authorization_endpoint + separator + urlencode(params),
    )


def complete_login(
    http: Http,
    metadata: IssuerMetadata,
    pending: PendingLogin,
    callback: Mapping[str, str],
    proofs: ProofFactory,
    jwks: JwksCache,
    *,
    client: ClientAuth | None = None,
    now: float | None = None,
    check_webid_profile: bool = True,
) -> LoginResult:
    """Check the redirect back to us, exchange the code, and validate who signed in."""
    _check_callback(metadata, pending, callback)
    now = time.time() if now is None else now
    form = {
        "grant_type": "authorization_code",
        "code": callback["code"],
        "redirect_uri": pending.redirect_uri,
        "code_verifier": pending.code_verifier,
    }
    client = client or ClientAuth(pending.client_id)
    tokens = request_token(http, metadata.token_endpoint, form, proofs, client, now=now)
    if not tokens.id_token:
        raise errors.LoginFailed("The identity provider did not return an ID token.")
    claims = validate_id_token(
        tokens.id_token,
        jwks=jwks,
        issuer=pending.issuer,
        client_id=pending.client_id,
        nonce=pending.nonce,
        now=now,
    )
    if check_webid_profile:
        check_issuer_for_webid(http, claims.webid, pending.issuer)
    return LoginResult(tokens, claims)


def _check_callback(
    metadata: IssuerMetadata, pending: PendingLogin, callback: Mapping[str, str]
) -> None:
    state = callback.get("state", "")
    if not hmac.compare_digest(state.encode(), pending.state.encode()):
        raise errors.LoginFailed("This sign-in link is not the one we started; please start again.")
    if "error" in callback:
        reason = callback.get("error_description") or callback["error"]
        raise errors.LoginFailed(f"The identity provider did not sign you in: {reason}.")
    # RFC 9207: a mix-up attack returns another issuer's code; refuse a mismatching `iss`.
    issuer = callback.get("iss")
    if issuer is None and metadata.raw.get("authorization_response_iss_parameter_supported"):
        raise errors.LoginFailed("The sign-in response does not say which issuer sent it.")
    if issuer is not None and normalise_issuer(issuer) != normalise_issuer(pending.issuer):
        raise errors.LoginFailed("The sign-in response came from another identity provider.")
    if not callback.get("code"):
        raise errors.LoginFailed("The sign-in response carries no authorization code.")
