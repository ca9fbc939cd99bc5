"""Token endpoint requests and responses (RFC 6749 sections 5.1 and 5.2), always DPoP-bound.

Every grant (client credentials, authorization code, refresh) ends in `request_token`: a form
POST carrying a DPoP proof (RFC 9449 section 5), answered by a token set we check strictly.
oauthlib supplies the catalogue of RFC 6749 error codes and their meanings.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from oauthlib.oauth2.rfc6749.errors import OAuth2Error, raise_from_error

from .. import errors
from ..dpop import DPoPAuth, ProofFactory
from ..http import Http, raise_for_status

_TOKEN_RESPONSE_LIMIT = 256 * 1024


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint issued. Secrets are kept out of `repr`, so out of logs."""

    access_token: str = field(repr=False)
    token_type: str
    expires_at: float | None
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    scope: tuple[str, ...] = ()

    def expires_within(self, seconds: float, now: float) -> bool:
        return self.expires_at is not None and self.expires_at - now <= seconds

    def merged_with(self, newer: TokenSet) -> TokenSet:
        """A refresh response may omit the refresh token (RFC 6749 section 6): keep ours then."""
        if newer.refresh_token is None and self.refresh_token is not None:
            return TokenSet(
                newer.access_token,
                newer.token_type,
                newer.expires_at,
                self.refresh_token,
                newer.id_token or self.id_token,
                newer.scope or self.scope,
            )
        return newer


@dataclass(frozen=True)
class ClientAuth:
    """How the client proves itself at the token endpoint.

    With a secret: `client_secret_basic` (RFC 6749 section 2.3.1: both parts form-urlencoded
    before Base64). Without: a public client (Solid-OIDC Client ID Document), `client_id` in the
    form.
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)

    def apply(self, form: dict[str, str], headers: dict[str, str]) -> None:
        if self.client_secret is None:
            form["client_id"] = self.client_id
            return
        pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def request_token(
    http: Http,
    token_endpoint: str,
    form: dict[str, str],
    proofs: ProofFactory,
    client: ClientAuth,
    *,
    now: float | None = None,
) -> TokenSet:
    """POST a grant to the token endpoint and return the DPoP-bound tokens it issued."""
    grant = form.get("grant_type", "token")
    body, headers = dict(form), {"Accept": "application/json"}
    client.apply(body, headers)
    issued_at = time.time() if now is None else now
    response = http.request(
        "POST",
        token_endpoint,
        auth=DPoPAuth(proofs),
        headers=headers,
        data=body,
        what="The identity provider's token endpoint",
    )
    if response.status_code in (400, 401) and "json" in response.headers.get("Content-Type", ""):
        _raise_token_error(http.read(response, limit=_TOKEN_RESPONSE_LIMIT), grant)
    raise_for_status(response, "The identity provider's token endpoint")
    return parse_token_response(http.read(response, limit=_TOKEN_RESPONSE_LIMIT), issued_at)


def parse_token_response(body: bytes, issued_at: float) -> TokenSet:
    """Check a successful token response (RFC 6749 section 5.1) and that it is DPoP-bound."""
    try:
        data: Any = json.loads(body)
    except ValueError as exc:
        raise errors.TokenRequestFailed("The token endpoint answered with invalid JSON.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        raise errors.TokenRequestFailed("The token endpoint's answer has no access token.")
    token_type = str(data.get("token_type", ""))
    if token_type.lower() != "dpop":
        # A Bearer token would work for anyone who steals it; Solid-OIDC requires DPoP binding.
        raise errors.TokenRequestFailed(
            f"The identity provider issued {_kind(token_type)} instead of a DPoP-bound one; "
            "refusing it."
        )
    expires_in = data.get("expires_in")
    if expires_in is not None and (
        isinstance(expires_in, bool) or not isinstance(expires_in, int | float)
    ):
        raise errors.TokenRequestFailed("The token endpoint sent a non-numeric expires_in.")
    return TokenSet(
        access_token=data["access_token"],
        token_type="DPoP",  # noqa: S106  # the scheme name, not a secret
        expires_at=issued_at + float(expires_in) if expires_in is not None else None,
        refresh_token=_optional_str(data, "refresh_token"),
        id_token=_optional_str(data, "id_token"),
        scope=tuple(str(data.get("scope", "")).split()),
    )


def _raise_token_error(body: bytes, grant: str) -> None:
    try:
        data = json.loads(body)
        error = str(data.get("error") or "invalid_request")
        raise_from_error(error, {"error_description": data.get("error_description")})
    except OAuth2Error as exc:
        detail = exc.description or exc.error
        raise errors.TokenRequestFailed(
            f"The identity provider refused the {grant} grant: {exc.error} ({detail})."
        ) from None
    except (ValueError, AttributeError):
        pass
    raise errors.TokenRequestFailed(f"The identity provider refused the {grant} grant.")


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _kind(token_type: str) -> str:
    return f"a {token_type} token" if token_type else "a token of no declared type"
