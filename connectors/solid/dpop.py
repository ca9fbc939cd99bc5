"""DPoP: Demonstrating Proof of Possession (RFC 9449).

Every request to a Solid identity provider's token endpoint and to a pod carries a fresh proof
JWT signed by a key only this client holds, so a stolen access or refresh token is useless on
its own.

- `DPoPKey` holds the ES256 key pair (section 4.2: the public key travels in the `jwk` header).
- `ProofFactory` makes proofs: `htu` without userinfo, query or fragment (section 4.2), `ath` on
  resource requests (section 4.2), `nonce` when the server asked for one (sections 8 and 9:
  kept per origin and per role, authorization server or resource server, which may share an
  origin), and `iat` on the *server's* clock as far as we can tell (section 11.1 leaves the
  window to the server; we correct our clock from the `Date` header when it is far off).
- `DPoPAuth` is a `requests` auth class. Like requests' digest auth, it answers a challenge by
  retrying once from a response hook: a `use_dpop_nonce` challenge (400 + JSON at an
  authorization server, section 8; 401 + `WWW-Authenticate` at a resource server, section 9),
  with the nonce that very answer carries; an `invalid_dpop_proof` answer to a proof whose `iat`
  was far from the server's clock; or a refused token (RFC 6750 section 3.1, in a `DPoP` or
  `Bearer` challenge) when the token source can fetch a new one.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from requests.cookies import extract_cookies_to_jar

from ..rfc7638 import jwk_thumbprint
from .errors import InvalidDPoPProof

#: Differences smaller than this between our clock and the server's `Date` are ignored: `Date`
#: has one-second resolution and servers accept proofs over a window of a minute or more.
SKEW_TOLERANCE_SECONDS = 5.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DPoPKey:
    """An ES256 (P-256) key pair used to sign DPoP proofs.

    The private key is only exported on explicit request (`to_pem`), e.g. to store it beside a
    refresh token, which is bound to it (RFC 9449 section 5).
    """

    algorithm = "ES256"

    def __init__(self, private_key: ec.EllipticCurvePrivateKey):
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise InvalidDPoPProof("A DPoP key must be an EC P-256 key for ES256.")
        self._private_key = private_key
        numbers = private_key.public_key().public_numbers()
        self.public_jwk: dict[str, str] = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        self.thumbprint = jwk_thumbprint(self.public_jwk)
        self._header = {"typ": "dpop+jwt", "alg": self.algorithm, "jwk": self.public_jwk}

    @classmethod
    def generate(cls) -> DPoPKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, data: bytes, password: bytes | None = None) -> DPoPKey:
        key = serialization.load_pem_private_key(data, password=password)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise InvalidDPoPProof("The stored DPoP key is not an elliptic-curve key.")
        return cls(key)

    def to_pem(self, password: bytes | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._private_key, algorithm=self.algorithm, headers=self._header)

    def __repr__(self) -> str:
        return f"DPoPKey(thumbprint={self.thumbprint!r})"


def access_token_hash(access_token: str) -> str:
    """The `ath` claim: base64url(SHA-256(ASCII(token))) (RFC 9449 section 4.2)."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


def htu_of(url: str) -> str:
    """The `htu` claim: the target URI without userinfo, query and fragment (section 4.2)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal needs its brackets back
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}".lower()


#: The two kinds of server a proof is made for. Their nonces are separate even on one origin
#: (RFC 9449 sections 8 and 9: an authorization server and a resource server each issue their
#: own, and Community Solid Server is both on one origin).
AUTHORIZATION_SERVER = "authorization-server"
RESOURCE_SERVER = "resource-server"


class ServerState:
    """What we learnt from each server: its latest nonce (per origin *and* role) and its clock
    offset (per origin: one host, one clock).

    Shared by every proof made for one session, and safe to use from several threads. It only
    supplies the nonce for a *first* attempt: a retry uses the nonce of the answer that refused
    it (see `DPoPAuth`), so threads never decide from what another thread stored meanwhile.
    """

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._nonces: dict[tuple[str, str], str] = {}
        self._offsets: dict[str, float] = {}
        self._lock = threading.Lock()

    def now(self, origin: str) -> float:
        return self._clock() + self._offsets.get(origin, 0.0)

    def nonce(self, origin: str, role: str = RESOURCE_SERVER) -> str | None:
        return self._nonces.get((origin, role))

    def remember_nonce(self, origin: str, nonce: str | None, role: str = RESOURCE_SERVER) -> bool:
        """Store a nonce the server sent; return True if it is new to us."""
        if not nonce:
            return False
        with self._lock:
            changed = self._nonces.get((origin, role)) != nonce
            self._nonces[(origin, role)] = nonce
        return changed

    @staticmethod
    def server_time(date_header: str | None) -> float | None:
        """The server's clock as its `Date` header tells it, or None without a usable one."""
        if not date_header:
            return None
        try:
            return parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError):
            return None

    def observe_date(self, origin: str, date_header: str | None) -> bool:
        """Adopt the server's clock if it is far from ours; return True if the offset changed."""
        server_time = self.server_time(date_header)
        if server_time is None:
            return False
        offset = server_time - self._clock()
        if abs(offset) < SKEW_TOLERANCE_SECONDS:
            offset = 0.0
        with self._lock:
            changed = abs(self._offsets.get(origin, 0.0) - offset) >= SKEW_TOLERANCE_SECONDS
            if changed or offset == 0.0:
                self._offsets[origin] = offset
        return changed


@dataclass(frozen=True)
class Proof:
    """One signed proof and the facts a retry decision needs about it."""

    jwt: str
    nonce: str | None
    iat: int
    role: str


class ProofFactory:
    """Makes one fresh proof per request (RFC 9449 section 4)."""

    def __init__(self, key: DPoPKey, state: ServerState | None = None):
        self.key = key
        self.state = state or ServerState()

    def proof(
        self,
        method: str,
        url: str,
        access_token: str | None = None,
        *,
        nonce: str | None = None,
        role: str | None = None,
    ) -> str:
        return self.make(method, url, access_token, nonce=nonce, role=role).jwt

    def make(
        self,
        method: str,
        url: str,
        access_token: str | None = None,
        *,
        nonce: str | None = None,
        role: str | None = None,
    ) -> Proof:
        """A proof for `url`. `role` defaults by the token: a resource request carries one
        (and its `ath`), a token-endpoint request does not. `nonce` overrides the stored one."""
        origin = origin_of(url)
        role = role or (RESOURCE_SERVER if access_token is not None else AUTHORIZATION_SERVER)
        iat = int(self.state.now(origin))
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "htm": method.upper(),
            "htu": htu_of(url),
            "iat": iat,
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        nonce = nonce if nonce is not None else self.state.nonce(origin, role)
        if nonce is not None:
            claims["nonce"] = nonce
        return Proof(self.key.sign(claims), nonce, iat, role)


class TokenSource(Protocol):
    """Where `DPoPAuth` gets the access token for a resource request."""

    def access_token(self) -> str:
        """A token valid for at least the next few seconds, refreshed if needed."""
        ...

    def renew(self, rejected_token: str) -> bool:
        """The server refused `rejected_token`: get a new one if we can; say whether we did."""
        ...


def parse_challenges(header: str | None) -> dict[str, dict[str, str]]:
    """Parse `WWW-Authenticate` into {scheme: {param: value}} (RFC 9110 section 11.6.1).

    A resource server may send a Bearer and a DPoP challenge in one header (RFC 9449 section
    7.2), so each parameter is attributed to the scheme it follows.
    """
    challenges: dict[str, dict[str, str]] = {}
    if not header:
        return challenges
    scheme: str | None = None
    for token in _split_params(header):
        name, sep, value = token.partition("=")
        if " " in name.strip():  # "DPoP error" : a scheme, then its first parameter
            scheme_name, _, name = name.strip().partition(" ")
            scheme = scheme_name.lower()
            challenges.setdefault(scheme, {})
        elif not sep:
            scheme = token.strip().lower()
            challenges.setdefault(scheme, {})
            continue
        if scheme is not None and sep:
            challenges[scheme][name.strip().lower()] = value.strip().strip('"')
    return challenges


def _split_params(header: str) -> list[str]:
    parts, current, quoted = [], [], False
    for char in header:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


class DPoPAuth(requests.auth.AuthBase):
    """Attach a DPoP proof (and a DPoP-bound access token, if any) to every request.

    Without a token source it serves token-endpoint requests (the authorization server role);
    with one, resource requests (the resource server role). Every retry decision is made from
    the refused request's own proof and the answer to it, never from state other threads share:
    - `use_dpop_nonce`: resent once with the nonce *that* answer carries, if it differs from the
      one the refused proof used;
    - `invalid_dpop_proof`: resent once if the proof's `iat` was far from the server's `Date`;
    - `invalid_token` in a `DPoP` or `Bearer` challenge, or a 401 challenge without an error
      code to a request that carried a token (Community Solid Server answers every 401 with
      `Bearer scope="openid webid"`): the token is renewed once and the request resent.
    """

    max_retries = 1

    def __init__(self, proofs: ProofFactory, tokens: TokenSource | None = None):
        self.proofs = proofs
        self.tokens = tokens
        self.role = RESOURCE_SERVER if tokens is not None else AUTHORIZATION_SERVER

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self._sign(request, self.tokens.access_token() if self.tokens else None)
        request.register_hook("response", self._on_response)
        return request

    def _sign(
        self, request: requests.PreparedRequest, token: str | None, nonce: str | None = None
    ) -> None:
        proof = self.proofs.make(
            request.method or "GET", request.url or "", token, nonce=nonce, role=self.role
        )
        request.headers["DPoP"] = proof.jwt
        if token is not None:
            request.headers["Authorization"] = f"DPoP {token}"
        request._dpop_token = token  # type: ignore[attr-defined]  # to know what was refused
        request._dpop_proof = proof  # type: ignore[attr-defined]  # and with which nonce, iat

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        self._learn(response)
        attempt = getattr(response.request, "_dpop_attempt", 0)
        if attempt >= self.max_retries or response.status_code not in (400, 401):
            return response
        sent: Proof | None = getattr(response.request, "_dpop_proof", None)
        token = getattr(response.request, "_dpop_token", None)
        answered_nonce = response.headers.get("DPoP-Nonce") or None
        error = _dpop_error(response)
        if error == "use_dpop_nonce":
            if answered_nonce and answered_nonce != (sent.nonce if sent else None):
                return self._resend(response, attempt + 1, answered_nonce, **kwargs)
            return response
        if error == "invalid_dpop_proof":
            if sent is not None and self._clock_was_off(response, sent):
                nonce = answered_nonce or sent.nonce
                return self._resend(response, attempt + 1, nonce, **kwargs)
            return response
        if (
            _token_refused(response, error)
            and token is not None
            and self.tokens is not None
            and self.tokens.renew(token)
        ):
            return self._resend(response, attempt + 1, answered_nonce or _nonce(sent), **kwargs)
        return response

    def _learn(self, response: requests.Response) -> None:
        """Keep the server's nonce and clock for this session's *next* requests."""
        origin = origin_of(response.url or response.request.url or "")
        state = self.proofs.state
        state.remember_nonce(origin, response.headers.get("DPoP-Nonce"), self.role)
        state.observe_date(origin, response.headers.get("Date"))

    def _clock_was_off(self, response: requests.Response, sent: Proof) -> bool:
        server_time = self.proofs.state.server_time(response.headers.get("Date"))
        return server_time is not None and abs(server_time - sent.iat) >= SKEW_TOLERANCE_SECONDS

    def _resend(
        self, response: requests.Response, attempt: int, nonce: str | None, **kwargs: Any
    ) -> requests.Response:
        response.content  # noqa: B018  # drain the body so the connection can be reused
        response.close()
        request = response.request.copy()
        if hasattr(request.body, "seek"):
            request.body.seek(0)  # type: ignore[union-attr]
        extract_cookies_to_jar(request._cookies, response.request, response.raw)  # type: ignore[attr-defined]
        request.prepare_cookies(request._cookies)  # type: ignore[attr-defined]
        self._sign(request, self.tokens.access_token() if self.tokens else None, nonce)
        request._dpop_attempt = attempt  # type: ignore[attr-defined]
        retried = response.connection.send(request, **kwargs)  # type: ignore[attr-defined]
        retried.history.append(response)
        retried.request = request
        self._learn(retried)
        return retried


def _nonce(proof: Proof | None) -> str | None:
    return proof.nonce if proof is not None else None


def _challenge_error(response: requests.Response) -> tuple[bool, str | None]:
    """Whether a 401 carries a DPoP or Bearer challenge, and its error code (DPoP's first)."""
    challenges = parse_challenges(response.headers.get("WWW-Authenticate"))
    found = [challenges[s] for s in ("dpop", "bearer") if s in challenges]
    error = next((c["error"] for c in found if c.get("error")), None)
    return bool(found), error


def _token_refused(response: requests.Response, error: str | None) -> bool:
    """A resource server refused the access token itself (RFC 6750 section 3.1)."""
    if response.status_code != 401:
        return False
    challenged, _ = _challenge_error(response)
    return error == "invalid_token" or (challenged and error is None)


def _dpop_error(response: requests.Response) -> str | None:
    """The error code of a refusal: the RS challenge (DPoP, else Bearer) or the AS JSON body."""
    if response.status_code == 401:
        return _challenge_error(response)[1]
    if response.status_code == 400 and "json" in response.headers.get("Content-Type", ""):
        try:
            body = response.json()
        except ValueError:
            return None
        error = body.get("error") if isinstance(body, dict) else None
        return error if isinstance(error, str) else None
    return None
