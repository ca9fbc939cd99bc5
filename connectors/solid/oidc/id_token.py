"""ID token validation: OpenID Connect Core 1.0 section 3.1.3.7, plus Solid-OIDC's WebID claim.

Checked, in order: the signature against the issuer's published keys (asymmetric algorithms
only: never `none`, never a shared-secret HMAC), `iss` equal to the issuer we sent the person
to, our client among `aud` (and `azp` when there are several audiences), `exp` and `iat`
against the time given by the caller, the `nonce` we generated, and a WebID (`webid` claim, or
a `sub` that is a URL) that the caller then checks against the WebID's own profile.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from typing import Any

import jwt

from .. import errors
from .discovery import JwksCache, normalise_issuer

ALLOWED_ALGORITHMS = (
    "ES256",
    "ES384",
    "ES512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
)
#: Tolerated difference between our clock and the identity provider's, in seconds.
DEFAULT_LEEWAY = 60.0


@dataclass(frozen=True)
class IdTokenClaims:
    webid: str
    issuer: str
    subject: str
    audience: tuple[str, ...]
    expires_at: float
    issued_at: float
    claims: dict[str, Any]


def validate_id_token(
    token: str,
    *,
    jwks: JwksCache,
    issuer: str,
    client_id: str,
    nonce: str | None,
    now: float,
    leeway: float = DEFAULT_LEEWAY,
) -> IdTokenClaims:
    """Return the checked claims of `token`, or raise `InvalidIdToken` saying what failed."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise errors.InvalidIdToken("The ID token is not a well-formed JWT.") from exc
    algorithm = header.get("alg")
    if algorithm not in ALLOWED_ALGORITHMS:
        raise errors.InvalidIdToken(f"The ID token uses a refused algorithm ({algorithm}).")
    key = jwks.key(header.get("kid"))
    try:
        # Time-based checks are done below against the caller's `now`, so tests and replays of
        # old flows need no clock tricks.
        claims = jwt.decode(
            token,
            key=key.key,
            algorithms=[algorithm],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
                "require": ["iss", "sub", "aud", "exp", "iat"],
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise errors.InvalidIdToken("The ID token's signature does not verify.") from exc
    except jwt.PyJWTError as exc:
        raise errors.InvalidIdToken(f"The ID token is not acceptable: {exc}.") from exc
    except (TypeError, ValueError) as exc:  # PyJWT's answer to a key of another type
        raise errors.InvalidIdToken(
            f"The ID token's algorithm ({algorithm}) does not fit the identity provider's key."
        ) from exc

    _check_issuer(claims, issuer)
    audience = _check_audience(claims, client_id)
    expires_at, issued_at = _check_times(claims, now, leeway)
    _check_nonce(claims, nonce)
    return IdTokenClaims(
        webid=_webid(claims),
        issuer=str(claims["iss"]),
        subject=str(claims["sub"]),
        audience=audience,
        expires_at=expires_at,
        issued_at=issued_at,
        claims=claims,
    )


def _check_issuer(claims: dict[str, Any], issuer: str) -> None:
    if normalise_issuer(str(claims["iss"])) != normalise_issuer(issuer):
        raise errors.InvalidIdToken(
            f"The ID token was issued by {claims['iss']}, not by {issuer} where the login began."
        )


def _check_audience(claims: dict[str, Any], client_id: str) -> tuple[str, ...]:
    raw = claims["aud"]
    audience = (raw,) if isinstance(raw, str) else tuple(str(a) for a in raw)
    if client_id not in audience:
        raise errors.InvalidIdToken("The ID token was issued for another application.")
    # OpenID Connect Core 3.1.3.7 (5): when azp is present, it must be us.
    if claims.get("azp", client_id) != client_id:
        raise errors.InvalidIdToken("The ID token's authorised party is another application.")
    return audience


def _check_times(claims: dict[str, Any], now: float, leeway: float) -> tuple[float, float]:
    try:
        expires_at, issued_at = float(claims["exp"]), float(claims["iat"])
    except (TypeError, ValueError) as exc:
        raise errors.InvalidIdToken("The ID token's exp or iat is not a number.") from exc
    if not (math.isfinite(expires_at) and math.isfinite(issued_at)):
        # NaN compares false with everything: such a token would never expire.
        raise errors.InvalidIdToken("The ID token's exp or iat is not a number.")
    if now > expires_at + leeway:
        raise errors.InvalidIdToken("The ID token has expired; please sign in again.")
    if issued_at > now + leeway:
        raise errors.InvalidIdToken("The ID token claims to be issued in the future.")
    return expires_at, issued_at


def _check_nonce(claims: dict[str, Any], nonce: str | None) -> None:
    if nonce is None:
        return
    received = claims.get("nonce")
    if not isinstance(received, str) or not hmac.compare_digest(received, nonce):
        raise errors.InvalidIdToken(
            "The ID token does not belong to this sign-in (nonce mismatch); please start again."
        )


def _webid(claims: dict[str, Any]) -> str:
    """The `webid` claim; without one, a `sub` that is a URL (Solid-OIDC section 8.1)."""
    webid = claims.get("webid", claims.get("sub"))
    if isinstance(webid, str) and webid.startswith(("https://", "http://")):
        return webid
    if "webid" in claims:
        raise errors.InvalidIdToken("The ID token's webid claim is not an http(s) URL.")
    raise errors.InvalidIdToken("The ID token names no WebID (no webid claim, sub is not a URL).")
