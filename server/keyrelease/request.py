"""The worker's release request and the service's sealed answer: the wire format both share.

A worker asks with its evidence, its enclave public key and a short request it signs with the
enclave key (ECDSA P-256, SHA-256)::

    {"evidence": "<datacage-evidence-v1 JSON>", "public_key": "<PEM>",
     "request": "{\"audience\":\"shop-fleet\",\"issued_at\":1735689600,\"nonce\":\"<32 hex>\"}",
     "signature": "<base64url DER signature>"}

The signature covers a domain prefix, the request text and the evidence's SHA-256: it proves
the requester holds the enclave key the evidence is bound to, now (`issued_at`, checked
within `REQUEST_WINDOW`), once (`nonce`, remembered for that window). Evidence copied from a
worker's publication, or a request captured on the way, is refused.

The answer seals each fleet private key (PKCS#8 DER) with HPKE (RFC 9180, the push
envelope's suite) to that enclave key; the HPKE `info` binds the fleet, the fleet key and the
recipient, so a sealed key opens only in the worker that asked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import timedelta

from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

#: How old (or how far ahead of the service's clock) a request may be.
REQUEST_WINDOW = timedelta(seconds=120)
MAX_REQUEST_BYTES = 96 * 1024
_REQUEST_PREFIX = b"datacage-fleet-key-v1 release request\n"
_RELEASE_PREFIX = b"datacage-fleet-key-v1 release\n"
#: The push envelope's HPKE suite (RFC 9180 base mode, DHKEM(P-256), HKDF-SHA256, AES-256-GCM).
SUITE = Suite(KEM.P256, KDF.HKDF_SHA256, AEAD.AES_256_GCM)


def signed_bytes(request_text: str, evidence: str) -> bytes:
    digest = hashlib.sha256(evidence.encode()).hexdigest()
    return _REQUEST_PREFIX + request_text.encode() + b"\n" + digest.encode()


def make_request(
    evidence: str,
    public_key_pem: str,
    audience: str,
    now: int,
    sign: Callable[[bytes], bytes],
) -> dict[str, str]:
    """The body a worker posts; `sign` is the enclave key's ES256 signer."""
    text = canonical({"audience": audience, "issued_at": now, "nonce": secrets.token_hex(16)})
    signature = sign(signed_bytes(text, evidence))
    return {
        "evidence": evidence,
        "public_key": public_key_pem,
        "request": text,
        "signature": b64(signature),
    }


def release_info(fleet: str, key_sha256: str, recipient_sha256: str) -> bytes:
    return (
        _RELEASE_PREFIX
        + canonical(
            {"fleet": fleet, "key_sha256": key_sha256, "recipient_sha256": recipient_sha256}
        ).encode()
    )


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    if not isinstance(text, str) or len(text) > 4096:
        raise ValueError("not base64url text")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
