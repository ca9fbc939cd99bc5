"""The release decision: a fleet key goes only to a worker whose evidence the policy accepts.

`KeyReleaser` is the small interface a key service implements: the statements it makes about
its active keys (published by workers for providers), and `release`. The software stand-in,
`SoftwareKeyService`, checks in this process, with the verifier and trust policy
`datacage admission` uses (server/attestation), in this order:

1. the request's form and size;
2. the evidence verifies against the policy for the public key sent with it (its proof, its
   binding to that key, its age, approved code and bundle): `verify_evidence`;
3. the request is signed by that key (the requester holds the enclave key), is for this fleet,
   fresh within `REQUEST_WINDOW` and not seen before;
4. the bundle has active fleet keys.

Then every active key of that bundle is sealed to the worker's enclave key. A refusal raises
`ReleaseRefused` in plain words. Logs name key ids (public-key hashes), never a private key.
A cloud KMS with attestation-bound release would implement `KeyReleaser` by handing the
evidence to the KMS's own release policy instead of step 2.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..attestation import AttestationError, TrustPolicy, public_key_sha256, verify_evidence
from .errors import ReleaseRefused
from .request import (
    MAX_REQUEST_BYTES,
    REQUEST_WINDOW,
    SUITE,
    b64,
    release_info,
    signed_bytes,
    unb64,
)
from .statement import SOFTWARE_NOTICE, SOFTWARE_SERVICE, make_statement, release_policy_of
from .store import KeyStore

log = logging.getLogger(__name__)
_BODY_KEYS = {"evidence", "public_key", "request", "signature"}


class KeyReleaser(Protocol):
    """What a key service offers: statements about its keys, and the release itself."""

    def statements(self, bundle_digest: str) -> list[dict[str, str]]: ...

    def release(self, body: bytes, now: datetime) -> dict[str, Any]: ...


class SoftwareKeyService:
    """The software stand-in: keys in a 0600 file, the release check in this process."""

    name = SOFTWARE_SERVICE

    def __init__(
        self, store: KeyStore, policy: TrustPolicy, clock: Callable[[], datetime] | None = None
    ):
        self.store = store
        self.policy = policy
        self.clock = clock or (lambda: datetime.now(UTC))
        self._seen: dict[str, float] = {}  # request nonce -> when it stops mattering
        self._lock = threading.Lock()
        log.warning(
            "SOFTWARE key service stand-in in use: fleet keys in %s, released after a software "
            "check of the evidence (fleet %s)",
            store.path,
            store.fleet,
        )

    def statements(self, bundle_digest: str) -> list[dict[str, str]]:
        """The signed statements of the bundle's active keys, newest first."""
        return [self._statement(pair) for pair in self.store.active(bundle_digest)]

    def _statement(self, pair) -> dict[str, str]:
        return make_statement(
            fleet=self.store.fleet,
            bundle_digest=pair.bundle_digest,
            public_key=pair.public_key,
            created_at=pair.created_at,
            release_policy=release_policy_of(self.policy),
            signing_key=self.store.signing_key,
        )

    def release(self, body: bytes, now: datetime) -> dict[str, Any]:
        request = _parse(body)
        key = _p256(request["public_key"])
        recipient = public_key_sha256(key)
        try:
            verified = verify_evidence(
                request["evidence"].encode(),
                public_key_sha256=recipient,
                policy=self.policy,
                now=now,
            )
        except AttestationError as exc:
            log.warning(
                "fleet key refused: evidence not accepted",
                extra={"recipient": recipient[:16], "why": str(exc)},
            )
            raise ReleaseRefused(
                f"Your evidence does not satisfy the key service's release policy: {exc}"
            ) from None
        self._check_request(request, key, now)
        bundle = verified.measurement.bundle_digest
        pairs = self.store.active(bundle)
        if not pairs:
            raise ReleaseRefused(
                f"The fleet {self.store.fleet} has no active key for the algorithm bundle "
                f"{bundle[:23]}...; the operator adds one with `datacage key-service add-key`."
            )
        released = []
        for pair in pairs:
            info = release_info(self.store.fleet, pair.key_sha256, recipient)
            sealed = SUITE.encrypt(pair.private_der(), key, info)
            released.append({**self._statement(pair), "sealed_key": b64(sealed)})
        log.info(
            "fleet keys released (software check)",
            extra={
                "fleet": self.store.fleet,
                "bundle": bundle,
                "keys": [p.key_sha256[:16] for p in pairs],
                "recipient": recipient[:16],
                "evidence_provider": verified.provider,
            },
        )
        return {"service": self.name, "notice": SOFTWARE_NOTICE, "keys": released}

    def _check_request(self, request: dict[str, str], key, now: datetime) -> None:
        try:
            key.verify(
                unb64(request["signature"]),
                signed_bytes(request["request"], request["evidence"]),
                ec.ECDSA(hashes.SHA256()),
            )
        except (InvalidSignature, ValueError):
            raise ReleaseRefused(
                "The request is not signed by the enclave key its evidence vouches for."
            ) from None
        try:
            claims = json.loads(request["request"])
            audience, issued, nonce = claims["audience"], claims["issued_at"], claims["nonce"]
            if set(claims) != {"audience", "issued_at", "nonce"} or type(issued) is not int:
                raise ValueError
            if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
                raise ValueError
        except (ValueError, TypeError, KeyError):
            raise ReleaseRefused("The request's claims are malformed.") from None
        if not isinstance(audience, str) or not hmac.compare_digest(
            audience.encode(), self.store.fleet.encode()
        ):
            raise ReleaseRefused(f"The request is for another fleet, not {self.store.fleet}.")
        age = now.timestamp() - issued
        window = REQUEST_WINDOW.total_seconds()
        if age > window:
            raise ReleaseRefused(
                f"The request was made {int(age)} s before this key service's clock; it must "
                f"be at most {int(window)} s old: ask again."
            )
        if age < -window:
            raise ReleaseRefused(
                f"The request is dated {int(-age)} s ahead of this key service's clock; "
                "check both clocks."
            )
        with self._lock:
            stamp = now.timestamp()
            for seen, until in list(self._seen.items()):
                if until < stamp:
                    del self._seen[seen]
            if nonce in self._seen:
                log.warning("fleet key refused: a request was replayed")
                raise ReleaseRefused("This request was used before; a replay is refused.")
            self._seen[nonce] = issued + 2 * window


def _parse(body: bytes) -> dict[str, str]:
    if len(body) > MAX_REQUEST_BYTES:
        raise ReleaseRefused("The request is larger than any real one.")
    try:
        request = json.loads(body)
    except ValueError:
        raise ReleaseRefused("The request is not JSON.") from None
    if (
        not isinstance(request, dict)
        or set(request) != _BODY_KEYS
        or not all(isinstance(v, str) for v in request.values())
    ):
        raise ReleaseRefused('Send {"evidence", "public_key", "request", "signature"}, all text.')
    return request


def _p256(pem: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise ReleaseRefused("The public key is not a PEM public key.") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ReleaseRefused("The public key is not an EC P-256 enclave key.")
    return key
