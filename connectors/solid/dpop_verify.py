"""Checking DPoP proofs as a resource server (RFC 9449 section 4.3).

`dpop.py` makes proofs; this module judges proofs that callers send us. Every check of section
4.3 raises `InvalidDPoPProof` with a short reason; nothing returns a boolean. The replay check
comes last, so a proof that fails any other check is never remembered.

Our reading of the section's choices:
- `htu` is compared after RFC 3986 section 6.2.2 (case, percent-encoding, dot segments) and
  6.2.3 (default port, empty path) normalisation, ignoring query and fragment (section 4.3,
  step 9). `url` must be the URL the *client* used: behind a proxy, the external one, best
  built from the configured base URL rather than from the caller's `Host` header.
- `iat` decides freshness (section 11.1): at most `max_age` old, at most `max_skew` ahead.
  Server-provided nonces (section 9) are not used.
- "Exactly one proof" (step 1) can only be checked if the HTTP layer passes every `DPoP` field,
  joined by commas (werkzeug: `", ".join(request.headers.getlist("DPoP"))`), not the first.
- A `jti` is remembered per key (thumbprint + jti), so a caller cannot spend another key's
  `jti` values, for a window that must cover the whole acceptance period of a proof.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import sqlite3
import string
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from ..rfc7638 import REQUIRED_MEMBERS, jwk_thumbprint
from .dpop import access_token_hash
from .errors import InvalidDPoPProof

#: Asymmetric JWS algorithms we accept for proofs (section 4.3, step 5): never `none`, never
#: HMAC, whose "public" key would be a shared secret anyone could sign with.
PROOF_ALGORITHMS = (
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "RS256",
    "RS384",
    "RS512",
    "EdDSA",
)
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_OKP_CURVES = ("Ed25519", "Ed448")
#: Members only a private (or symmetric) JWK has (RFC 7518 sections 6.2.2, 6.3.2 and 6.4).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_RSA_BITS = (2048, 8192)  # below is weak; above only costs us CPU per request
#: A proof is a header line: larger ones are refused before any parsing or crypto.
_MAX_PROOF_CHARS = 8192
_MAX_JTI_CHARS = 256
# The signature may be empty here ("alg": "none"), to be refused by name below.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Defaults for `max_age` and `max_skew`: a proof is accepted from iat - 5 s to iat + 120 s.
MAX_AGE = 120.0
MAX_SKEW = 5.0


class ReplayCache:
    """The `jti` values seen within the last `window_seconds`, safe to share between threads.

    Keys are stored as SHA-256 digests, so memory is bounded by `max_entries` whatever callers
    send. When full of unexpired entries it refuses new proofs rather than forgetting old ones:
    forgetting would let a captured proof be replayed (fail closed, at the price of availability
    under a flood of valid proofs).
    """

    def __init__(self, window_seconds: float = 300, max_entries: int = 100_000):
        if window_seconds <= 0 or max_entries <= 0:
            raise ValueError("A replay cache needs a positive window and size.")
        self.window_seconds = window_seconds
        self.max_entries = max_entries
        self._expiries: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def check_and_remember(self, key: str, now: float) -> None:
        digest = hashlib.sha256(_utf8(key)).digest()
        with self._lock:
            self._forget_expired(now)
            expiry = self._expiries.get(digest)
            if expiry is not None and expiry > now:
                raise InvalidDPoPProof("The DPoP proof was already used (replayed jti).")
            if expiry is None and len(self._expiries) >= self.max_entries:
                self._forget_expired(now, everywhere=True)
                if len(self._expiries) >= self.max_entries:
                    raise InvalidDPoPProof("Too many recent DPoP proofs; try again shortly.")
            self._expiries.pop(digest, None)
            self._expiries[digest] = now + self.window_seconds

    @property
    def size(self) -> int:
        # A property, not __len__: an empty cache must not be falsy (`replay or ReplayCache()`).
        return len(self._expiries)

    def _forget_expired(self, now: float, *, everywhere: bool = False) -> None:
        # Entries are appended in time order, so normally the expired ones are all at the front;
        # a clock that stepped back can leave some behind, hence the full sweep when full.
        if everywhere:
            for digest in [d for d, expiry in self._expiries.items() if expiry <= now]:
                del self._expiries[digest]
            return
        while self._expiries:
            digest, expiry = next(iter(self._expiries.items()))
            if expiry > now:
                break
            del self._expiries[digest]


class SharedReplayCache(ReplayCache):
    """A `ReplayCache` every process of a server shares: an SQLite file with one row per jti.

    With several worker processes an in-memory cache is one per process, and a captured proof
    replays once per worker. Here the row's primary key is the check: an `INSERT` of a digest
    already present (and not expired) fails in whichever process tries it second.
    """

    def __init__(self, path: str | Path, window_seconds: float = 300, max_entries: int = 100_000):
        super().__init__(window_seconds, max_entries)
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL without an fsync per proof: a crash of the process loses nothing; a power cut
            # may lose the last jti, which the proof's own iat window still bounds.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS dpop_jti (digest BLOB PRIMARY KEY, expires REAL)"
            )
            self._db.execute("CREATE INDEX IF NOT EXISTS dpop_jti_expires ON dpop_jti(expires)")

    def check_and_remember(self, key: str, now: float) -> None:
        digest = hashlib.sha256(_utf8(key)).digest()
        with self._lock, self._db:
            self._db.execute("DELETE FROM dpop_jti WHERE expires <= ?", (now,))
            try:
                self._db.execute(
                    "INSERT INTO dpop_jti VALUES (?, ?)", (digest, now + self.window_seconds)
                )
            except sqlite3.IntegrityError:
                raise InvalidDPoPProof("The DPoP proof was already used (replayed jti).") from None
            (count,) = self._db.execute("SELECT count(*) FROM dpop_jti").fetchone()
            if count > self.max_entries:  # fail closed, as the in-memory cache does
                self._db.rollback()
                raise InvalidDPoPProof("Too many recent DPoP proofs; try again shortly.")

    @property
    def size(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM dpop_jti").fetchone()[0])


@dataclass(frozen=True)
class VerifiedProof:
    jkt: str  # RFC 7638 SHA-256 thumbprint of the proof's public key, base64url
    jti: str
    iat: float

    @property
    def replay_key(self) -> str:
        return f"{self.jkt}:{self.jti}"


def verify_dpop_proof(
    proof: str,
    *,
    method: str,
    url: str,
    now: float,
    replay: ReplayCache,
    access_token: str | None = None,
    max_age: float = MAX_AGE,
    max_skew: float = MAX_SKEW,
) -> VerifiedProof:
    """Check one DPoP proof for this request (section 4.3) and remember its `jti`."""
    check_replay_window(replay, max_age, max_skew)
    verified = verify_dpop_proof_stateless(
        proof,
        method=method,
        url=url,
        now=now,
        access_token=access_token,
        max_age=max_age,
        max_skew=max_skew,
    )
    replay.check_and_remember(verified.replay_key, now)
    return verified


def check_replay_window(replay: ReplayCache, max_age: float, max_skew: float) -> None:
    """Raise `ValueError` unless `replay` remembers a jti for as long as its proof is valid.

    A proof is acceptable from iat - max_skew until iat + max_age; forgetting its jti any
    sooner would allow a replay inside that period.
    """
    if replay.window_seconds < max_age + max_skew:
        raise ValueError("The replay cache window is shorter than a proof's acceptance period.")


def verify_dpop_proof_stateless(
    proof: str,
    *,
    method: str,
    url: str,
    now: float,
    access_token: str | None = None,
    max_age: float = MAX_AGE,
    max_skew: float = MAX_SKEW,
) -> VerifiedProof:
    """Every check but the replay check.

    For callers with more checks to make (the access token): they call
    `replay.check_and_remember(result.replay_key, now)` once all else passed, so that invalid
    requests cannot fill the replay cache.
    """
    header, key = _header_and_key(proof)
    claims = _signed_claims(proof, header, key)
    jkt = jwk_thumbprint(header["jwk"])
    if claims.get("htm") != method:
        raise InvalidDPoPProof(f"The DPoP proof is for another HTTP method, not {method}.")
    target, htu = _normalised_or_none(url), claims.get("htu")
    if target is None:  # a Host header can make it so; a 401, not a crash
        raise InvalidDPoPProof("The request URL is not an absolute http(s) URL.")
    if not isinstance(htu, str) or _normalised_or_none(htu) != target:
        raise InvalidDPoPProof("The DPoP proof is for another URL (htu).")
    iat = _check_iat(claims.get("iat"), now, max_age, max_skew)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise InvalidDPoPProof("The DPoP proof has no jti.")
    if len(jti) > _MAX_JTI_CHARS:
        raise InvalidDPoPProof("The DPoP proof's jti is too long.")
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str):
            raise InvalidDPoPProof("The DPoP proof has no ath for the access token.")
        expected = access_token_hash(access_token)
        if not hmac.compare_digest(_utf8(ath), expected.encode("ascii")):
            raise InvalidDPoPProof("The DPoP proof is for another access token (ath).")
    return VerifiedProof(jkt=jkt, jti=jti, iat=iat)


def normalise_htu(url: str) -> str:
    """scheme://host[:port]/path, normalised as RFC 3986 sections 6.2.2 and 6.2.3 say.

    Userinfo, query and fragment are dropped: `htu` carries none of them (section 4.2).
    Raises `ValueError` for anything but an absolute http(s) URL.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname  # lowercased by urlsplit
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    port = parts.port  # raises ValueError for a port that is not a number in range
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _remove_dot_segments(_PERCENT.sub(_normalise_escape, parts.path)) or "/"
    return f"{scheme}://{netloc}{path}"


# --- Internals ----------------------------------------------------------------------------------


def _header_and_key(proof: str) -> tuple[dict[str, Any], jwt.PyJWK]:
    if not isinstance(proof, str) or not proof.strip():
        raise InvalidDPoPProof("The request has no DPoP proof.")
    proof = proof.strip()
    if "," in proof:  # several DPoP header fields, joined by the HTTP layer (section 4.3 step 1)
        raise InvalidDPoPProof("The request carries more than one DPoP proof.")
    if len(proof) > _MAX_PROOF_CHARS or not _COMPACT_JWS.fullmatch(proof):
        raise InvalidDPoPProof("The DPoP proof is not a well-formed JWT.")
    header = _json_segment(proof.partition(".")[0])
    if not isinstance(header, dict):
        raise InvalidDPoPProof("The DPoP proof is not a well-formed JWT.")
    if header.get("typ") != "dpop+jwt":
        raise InvalidDPoPProof("The DPoP proof's typ is not dpop+jwt.")
    if "crit" in header or "b64" in header:
        raise InvalidDPoPProof("The DPoP proof uses JWS extensions we do not support.")
    algorithm = header.get("alg")
    if algorithm not in PROOF_ALGORITHMS:
        raise InvalidDPoPProof(f"The DPoP proof uses a refused algorithm ({algorithm!s:.20}).")
    return header, _public_key(header.get("jwk"), algorithm)


def _public_key(jwk: Any, algorithm: str) -> jwt.PyJWK:
    if not isinstance(jwk, dict):
        raise InvalidDPoPProof("The DPoP proof has no jwk header.")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise InvalidDPoPProof("The DPoP proof's jwk contains a private key.")
    kty = jwk.get("kty")
    expected = "EC" if algorithm.startswith("ES") else "OKP" if algorithm == "EdDSA" else "RSA"
    if kty != expected:
        raise InvalidDPoPProof(
            f"The DPoP proof's jwk is not an {expected} key, as {algorithm} needs."
        )
    crv = jwk.get("crv")
    if (kty == "EC" and crv != _EC_CURVES[algorithm]) or (kty == "OKP" and crv not in _OKP_CURVES):
        raise InvalidDPoPProof(f"The DPoP proof's jwk curve does not fit {algorithm}.")
    for name in REQUIRED_MEMBERS[kty]:
        value = jwk.get(name)
        if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
            raise InvalidDPoPProof(f"The DPoP proof's jwk has no valid {name}.")
    try:
        key = jwt.PyJWK(jwk, algorithm=algorithm)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidDPoPProof("The DPoP proof's jwk is not a usable public key.") from exc
    if (
        isinstance(key.key, rsa.RSAPublicKey)
        and not _RSA_BITS[0] <= key.key.key_size <= _RSA_BITS[1]
    ):
        raise InvalidDPoPProof("The DPoP proof's RSA key size is outside 2048-8192 bits.")
    return key


def _signed_claims(proof: str, header: dict[str, Any], key: jwt.PyJWK) -> dict[str, Any]:
    try:
        jwt.api_jws.PyJWS().decode_complete(proof, key=key.key, algorithms=[header["alg"]])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidDPoPProof("The DPoP proof's signature does not verify.") from exc
    claims = _json_segment(proof.split(".")[1])  # the very bytes the signature covers
    if not isinstance(claims, dict):
        raise InvalidDPoPProof("The DPoP proof's claims are not a JSON object.")
    return claims


def _json_segment(segment: str) -> Any:
    """A base64url JSON segment of a compact JWS; None if it is not one."""
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):
        return None


def _check_iat(iat: Any, now: float, max_age: float, max_skew: float) -> float:
    # JSON parsers accept NaN, which compares false with everything: it would never be too old.
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        raise InvalidDPoPProof("The DPoP proof has no numeric iat.")
    if now - iat > max_age:
        raise InvalidDPoPProof("The DPoP proof is too old (iat).")
    if iat - now > max_skew:
        raise InvalidDPoPProof("The DPoP proof is issued in the future (iat).")
    return float(iat)


def _utf8(text: str) -> bytes:
    # JSON may carry lone surrogates, which strict UTF-8 cannot encode; they must not crash us.
    return text.encode("utf-8", "surrogatepass")


def _normalised_or_none(url: str) -> str | None:
    try:
        return normalise_htu(url)
    except ValueError:
        return None


def _normalise_escape(match: re.Match[str]) -> str:
    """RFC 3986 6.2.2.1 and 6.2.2.2: upper-case hex digits; decode unreserved characters."""
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, used by 6.2.2.3, for the absolute paths of http(s) URLs."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/".join(output)
