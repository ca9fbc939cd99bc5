"""ES256 JSON Web Signatures with a detached payload (RFC 7515 Appendix F, RFC 7518 3.4).

The compact form is `<header>..<signature>`: the payload (the canonical graph) is left out and
recomputed by the verifier from the document it holds. The protected header carries the public
key as a JWK (RFC 7517) and its RFC 7638 thumbprint as `kid`, so the verifier needs nothing else
to check the signature, and then checks that this key is the one the attestation evidence binds.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from connectors.rfc7638 import jwk_thumbprint

from .errors import MalformedResult, ResultNotAuthentic

TYPE = "datacage-result+jws"
_MAX_HEADER = 4096


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64(_int(numbers.x)), "y": _b64(_int(numbers.y))}


def sign_detached(payload: bytes, public_key: ec.EllipticCurvePublicKey, sign) -> str:
    """`sign(bytes) -> DER ECDSA signature` (the enclave key's own method; its key never leaves)."""
    jwk = public_jwk(public_key)
    header = {"alg": "ES256", "typ": TYPE, "jwk": jwk, "kid": jwk_thumbprint(jwk)}
    encoded = _b64(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())
    r, s = decode_dss_signature(sign(f"{encoded}.{_b64(payload)}".encode()))
    return f"{encoded}..{_b64(_int(r) + _int(s))}"


def verify_detached(jws: str, payload: bytes) -> ec.EllipticCurvePublicKey:
    """Check the signature over `payload`; return the key that made it (raises, never False)."""
    parts = jws.split(".")
    if len(parts) != 3 or parts[1] != "" or len(parts[0]) > _MAX_HEADER:
        raise MalformedResult(
            "The signature is not a detached compact JWS (<header>..<signature>)."
        )
    header = _header(parts[0])
    key = _key(header.get("jwk"))
    raw = _unb64(parts[2])
    if len(raw) != 64:
        raise ResultNotAuthentic("The signature is not an ES256 signature (64 bytes).")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, f"{parts[0]}.{_b64(payload)}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ResultNotAuthentic(
            "The signature does not match this graph: the result was changed after the datacage "
            "signed it, or the signature belongs to another result."
        ) from None
    return key


def _header(encoded: str) -> dict[str, Any]:
    try:
        header = json.loads(_unb64(encoded))
    except ValueError:
        raise MalformedResult("The signature's header is not base64url JSON.") from None
    if not isinstance(header, dict) or header.get("alg") != "ES256" or header.get("typ") != TYPE:
        raise MalformedResult(f"The signature's header must say alg ES256 and typ {TYPE}.")
    if set(header) - {"alg", "typ", "jwk", "kid"}:
        raise MalformedResult("The signature's header has members this verifier does not know.")
    return header


def _key(jwk: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise MalformedResult("The signature's header does not carry an EC P-256 public key.")
    try:
        x, y = (int.from_bytes(_unb64(str(jwk[c])), "big") for c in ("x", "y"))
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except (KeyError, ValueError):
        raise MalformedResult("The signature's public key is not a point on P-256.") from None


def _int(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise MalformedResult("The signature holds something that is not base64url.") from None
