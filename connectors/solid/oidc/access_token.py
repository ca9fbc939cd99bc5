"""Verifying Solid access tokens as a resource server (Solid-OIDC section 8, RFC 9449 section 7).

A caller authenticates with `Authorization: DPoP <access token>` and a `DPoP: <proof>` header;
the token comes from the caller's own Solid-OIDC provider. We check, in order:

1. the scheme is DPoP: Solid tokens are DPoP-bound, so a Bearer token is refused;
2. the proof (RFC 9449 section 4.3, `dpop_verify`), including `ath` for this token;
3. the token's `iss` is admissible *before anything is fetched for it* (below);
4. the token's signature with its issuer's published keys (asymmetric algorithms only), found
   by OpenID Connect Discovery, then `exp`, `iat` and `aud` (which must contain "solid");
5. a `webid` claim that is an http(s) URL, and `cnf.jkt` equal to the proof's key (section 6);
6. the WebID's own profile lists the issuer as `solid:oidcIssuer` (Solid-OIDC section 8.3);
7. last, the proof's `jti` is new, so requests failing any check never fill the replay cache.

Issuer metadata, keys and positive WebID checks are cached per issuer for `metadata_ttl`.

Network reach (SSRF): `iss` is read before the signature can be checked, so an unauthenticated
caller chooses where we send GET requests. We only fetch https issuers (plain http only for
localhost and 127.0.0.1, for development) and, when `trusted_issuers` is given, only those.
Remaining risk without `trusted_issuers`: any caller can make us GET
`/.well-known/openid-configuration` on any https host, including internal names and
addresses, and on any localhost port over http; an issuer that answers can name any https
`jwks_uri`, and a token it signs can name any WebID URL, whose fetch follows redirects. The
answers are never shown to the caller, but timings and error kinds (401 or 502/504) can tell
whether a host answers. Failed fetches are not cached. Production deployments should pass
`trusted_issuers`, and their network should keep this process away from internal services.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from math import isfinite
from typing import Any
from urllib.parse import urlsplit

import jwt

from .. import errors
from ..dpop_verify import (
    MAX_AGE,
    MAX_SKEW,
    PROOF_ALGORITHMS,
    ReplayCache,
    check_replay_window,
    verify_dpop_proof_stateless,
)
from ..http import Http
from .discovery import JwksCache, check_issuer_for_webid, fetch_issuer_metadata, normalise_issuer
from .id_token import ALLOWED_ALGORITHMS

#: Tolerated difference between our clock and the issuer's, for `exp` and `iat`, in seconds.
ACCESS_TOKEN_LEEWAY = 30.0
_MAX_TOKEN_CHARS = 16 * 1024
_MAX_URL_CHARS = 2048
#: Without `trusted_issuers`, callers choose issuers and WebIDs: bound what we remember.
_MAX_CACHED_ISSUERS = 1000
_MAX_CACHED_WEBIDS = 10_000
_LOCAL_HOSTS = ("localhost", "127.0.0.1")
#: PyJWT checks the signature and presence; times and audience are checked against our `now`.
_DECODE: dict[str, Any] = {
    "require": ["iss", "aud", "exp", "iat"],
    **dict.fromkeys(["verify_exp", "verify_iat", "verify_nbf", "verify_aud", "verify_iss"], False),
}


@dataclass(frozen=True)
class VerifiedAccess:
    webid: str
    issuer: str
    client_id: str | None
    jkt: str


@dataclass(frozen=True)
class _Issuer:
    jwks: JwksCache
    expires_at: float


class AccessTokenVerifier:
    """Verify requests carrying DPoP-bound Solid access tokens; safe to share between threads."""

    def __init__(
        self,
        http: Http,
        *,
        audience: str = "solid",
        trusted_issuers: Collection[str] | None = None,
        replay: ReplayCache | None = None,
        metadata_ttl: float = 300,
        clock: Callable[[], float] = time.time,
    ):
        if isinstance(trusted_issuers, str):  # a str is a Collection[str] of its characters
            raise TypeError("trusted_issuers is a collection of issuer URLs, not one string.")
        self._http = http
        self._audience = audience
        self._trusted = (
            None if trusted_issuers is None else {normalise_issuer(i) for i in trusted_issuers}
        )
        self._replay = ReplayCache() if replay is None else replay
        check_replay_window(self._replay, MAX_AGE, MAX_SKEW)
        self._ttl = metadata_ttl
        self._clock = clock
        self._issuers: OrderedDict[str, _Issuer] = OrderedDict()
        self._webids: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def verify(
        self, *, authorization: str | None, dpop: str | None, method: str, url: str
    ) -> VerifiedAccess:
        """Return who is calling, or raise `InvalidAccessToken` (or an upstream error)."""
        token = _token_from(authorization)
        if not dpop:
            raise errors.InvalidAccessToken(
                "A DPoP access token needs a DPoP proof header.", error="invalid_dpop_proof"
            )
        now = self._clock()
        with _as_proof_error():
            proof = verify_dpop_proof_stateless(
                dpop, method=method, url=url, now=now, access_token=token
            )
        claims = self._verified_claims(token, now)
        webid = _webid(claims)
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        if not isinstance(jkt, str):
            raise errors.InvalidAccessToken("The access token is not DPoP-bound (no cnf.jkt).")
        if not hmac.compare_digest(jkt.encode("utf-8", "surrogatepass"), proof.jkt.encode("ascii")):
            raise errors.InvalidAccessToken(
                "The access token is bound to another key than the DPoP proof's (cnf.jkt)."
            )
        issuer = str(claims["iss"])
        self._check_webid_trusts(webid, issuer, now)
        with _as_proof_error():
            self._replay.check_and_remember(proof.replay_key, now)
        client_id = claims.get("client_id")
        return VerifiedAccess(
            webid=webid,
            issuer=issuer,
            client_id=client_id if isinstance(client_id, str) else None,
            jkt=proof.jkt,
        )

    # --- The token ------------------------------------------------------------------------------

    def _verified_claims(self, token: str, now: float) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise errors.InvalidAccessToken("The access token is not a well-formed JWT.") from exc
        algorithm = header.get("alg")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise errors.InvalidAccessToken(
                f"The access token uses a refused algorithm ({algorithm!s:.20})."
            )
        issuer = self._admissible_issuer(unverified.get("iss"))
        jwks = self._jwks_of(issuer, now)
        with _about_issuer(f"The access token's issuer {issuer[:200]} has no usable keys"):
            try:
                key = jwks.key(header.get("kid"))
            except errors.InvalidIdToken as exc:  # JwksCache speaks of ID tokens
                raise errors.InvalidAccessToken(
                    "The access token is signed with a key its issuer does not publish."
                ) from exc
        try:
            claims = jwt.decode(token, key=key.key, algorithms=[algorithm], options=_DECODE)
        except jwt.InvalidSignatureError as exc:
            raise errors.InvalidAccessToken(
                "The access token's signature does not verify."
            ) from exc
        except (jwt.PyJWTError, TypeError, ValueError) as exc:  # also a key of another type
            raise errors.InvalidAccessToken(
                f"The access token is not acceptable: {str(exc)[:120]}."
            ) from exc
        _check_times(claims, now)
        audience = claims["aud"]
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or self._audience not in audiences:
            raise errors.InvalidAccessToken(
                f"The access token is not meant for this server (aud lacks {self._audience!r})."
            )
        return claims

    def _admissible_issuer(self, iss: Any) -> str:
        """Refuse, without any network call, an issuer we must not or need not contact."""
        if not isinstance(iss, str) or not iss or len(iss) > _MAX_URL_CHARS:
            raise errors.InvalidAccessToken("The access token names no issuer (iss).")
        _check_fetchable(iss, "The access token's issuer")
        parts = urlsplit(iss)
        if parts.query or parts.fragment:
            raise errors.InvalidAccessToken("The access token's issuer is not a valid issuer URL.")
        if self._trusted is not None and normalise_issuer(iss) not in self._trusted:
            raise errors.InvalidAccessToken(
                f"The access token's issuer {iss[:200]} is not one this server trusts."
            )
        return iss

    def _jwks_of(self, issuer: str, now: float) -> JwksCache:
        name = normalise_issuer(issuer)
        with self._lock:
            cached = self._issuers.get(name)
            if cached is not None and cached.expires_at > now:
                return cached.jwks
        # Fetched outside the lock so that one slow issuer does not hold up the others; two
        # threads may both fetch a new issuer once, which is harmless.
        with _about_issuer(
            f"The access token's issuer {issuer[:200]} has no usable OpenID configuration"
        ):
            metadata = fetch_issuer_metadata(self._http, issuer)
        _check_fetchable(metadata.jwks_uri, "The issuer's jwks_uri")
        entry = _Issuer(
            JwksCache(self._http, metadata.jwks_uri, clock=self._clock), now + self._ttl
        )
        with self._lock:
            self._issuers[name] = entry
            self._issuers.move_to_end(name)
            while len(self._issuers) > _MAX_CACHED_ISSUERS:
                self._issuers.popitem(last=False)
        return entry.jwks

    # --- The WebID ------------------------------------------------------------------------------

    def _check_webid_trusts(self, webid: str, issuer: str, now: float) -> None:
        key = (webid, normalise_issuer(issuer))
        with self._lock:
            expires_at = self._webids.get(key)
            if expires_at is not None and expires_at > now:
                return
        with _about_issuer("The access token's WebID does not vouch for its issuer"):
            check_issuer_for_webid(self._http, webid, issuer)
        with self._lock:
            self._webids[key] = now + self._ttl
            self._webids.move_to_end(key)
            while len(self._webids) > _MAX_CACHED_WEBIDS:
                self._webids.popitem(last=False)


def www_authenticate(error: Exception | None) -> str:
    """The `WWW-Authenticate` value for a refused request (RFC 9449 section 7.1).

    Without an error (no credentials sent), only the scheme and the proof algorithms we accept.
    """
    params: list[str] = []
    code: str | None = None
    if isinstance(error, errors.InvalidAccessToken):
        code = error.error
    elif isinstance(error, errors.InvalidDPoPProof):
        code = "invalid_dpop_proof"
    if code is not None and error is not None:
        params.append(f'error="{code}"')
        params.append(f'error_description="{_description(str(error))}"')
    params.append(f'algs="{" ".join(PROOF_ALGORITHMS)}"')
    return "DPoP " + ", ".join(params)


# --- Helpers --------------------------------------------------------------------------------------


def _token_from(authorization: str | None) -> str:
    if not authorization or not authorization.strip():
        raise errors.InvalidAccessToken(
            "No credentials: send Authorization: DPoP <access token> with a DPoP proof.",
            error=None,
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        raise errors.InvalidAccessToken(
            "Solid access tokens are DPoP-bound: send Authorization: DPoP <token> with a DPoP "
            "proof, not Bearer."
        )
    if scheme.lower() != "dpop":
        raise errors.InvalidAccessToken(
            f"Unsupported authorization scheme {scheme[:20]!r}; use DPoP."
        )
    token = token.strip()
    if not token or " " in token or len(token) > _MAX_TOKEN_CHARS:
        raise errors.InvalidAccessToken("The DPoP access token is missing or malformed.")
    return token


def _check_fetchable(url: str, what: str) -> None:
    """https anywhere; plain http only on this machine (development)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for an invalid port
    except ValueError as exc:
        raise errors.InvalidAccessToken(f"{what} is not a valid URL.") from exc
    host = parts.hostname or ""
    if parts.username is not None or not host:
        raise errors.InvalidAccessToken(f"{what} is not a valid URL.")
    if parts.scheme == "https" or (parts.scheme == "http" and host in _LOCAL_HOSTS):
        return
    raise errors.InvalidAccessToken(
        f"{what} must be an https URL (plain http only for localhost); refused."
    )


def _check_times(claims: dict[str, Any], now: float) -> None:
    expires_at, issued_at = claims["exp"], claims["iat"]
    for value in (expires_at, issued_at):
        # NaN compares false with everything: a token expiring at NaN would never expire.
        if isinstance(value, bool) or not isinstance(value, int | float) or not isfinite(value):
            raise errors.InvalidAccessToken("The access token's exp or iat is not a number.")
    if now > expires_at + ACCESS_TOKEN_LEEWAY:
        raise errors.InvalidAccessToken("The access token has expired.")
    if issued_at > now + ACCESS_TOKEN_LEEWAY:
        raise errors.InvalidAccessToken("The access token claims to be issued in the future.")


def _webid(claims: dict[str, Any]) -> str:
    webid = claims.get("webid")
    if not isinstance(webid, str):
        raise errors.InvalidAccessToken("The access token names no WebID (webid claim).")
    try:
        parts = urlsplit(webid)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.InvalidAccessToken("The access token's webid is not an http(s) URL.")
    if len(webid) > _MAX_URL_CHARS:
        raise errors.InvalidAccessToken("The access token's webid is too long.")
    return webid


@contextmanager
def _as_proof_error() -> Iterator[None]:
    try:
        yield
    except errors.InvalidDPoPProof as exc:
        raise errors.InvalidAccessToken(exc.message, error="invalid_dpop_proof") from exc


@contextmanager
def _about_issuer(what: str) -> Iterator[None]:
    """Upstream trouble stays upstream trouble (502/504); any other answer refuses the token."""
    try:
        yield
    except (errors.UpstreamError, errors.InvalidAccessToken):
        raise
    except errors.SolidError as exc:
        raise errors.InvalidAccessToken(f"{what}: {exc.message}") from exc


def _description(message: str) -> str:
    # RFC 6749 section 5.2: error_description is printable ASCII without '"' and '\'; messages
    # may quote caller-chosen text (an issuer URL), so anything else is dropped.
    kept = "".join(c for c in message if " " <= c <= "~" and c not in '"\\')
    return kept[:200]
