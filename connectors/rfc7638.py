"""JSON Web Key (JWK) Thumbprint, RFC 7638: the one place it is computed.

DPoP keys (RFC 9449 `jkt`), the DPoP proofs a pod server or our own API checks, and the enclave
key whose thumbprint a signed result states all use this function, so the planes can never
disagree on a key's name. It imports nothing of ours, so both planes may use it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping

#: RFC 7638 section 3.2: the required members a thumbprint is computed over, per key type.
REQUIRED_MEMBERS: dict[str, tuple[str, ...]] = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),  # RFC 8037 section 2
}


def jwk_thumbprint(jwk: Mapping[str, object]) -> str:
    """The base64url SHA-256 thumbprint of a public EC, RSA or OKP key (RFC 7638 section 3).

    Only the key type's required members count, in lexicographic order, with no whitespace
    (section 3.3); a key type without a defined thumbprint or a missing member raises
    `ValueError`.
    """
    kty = jwk.get("kty")
    if kty not in REQUIRED_MEMBERS:
        raise ValueError(f"RFC 7638 defines no thumbprint for the key type {kty!r}")
    missing = [name for name in REQUIRED_MEMBERS[kty] if not isinstance(jwk.get(name), str)]
    if missing:
        raise ValueError(f"the {kty} key has no {', '.join(map(repr, missing))} member")
    required = {name: jwk[name] for name in REQUIRED_MEMBERS[kty]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode("utf-8")
    digest = hashlib.sha256(canonical).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
