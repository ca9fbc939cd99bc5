"""The worker's fleet keys: asked of the key service per bundle, held only in this process.

A worker attests to a bundle (evidence bound to its enclave key), signs a fresh release request
with the enclave key and posts both to the key service (server/keyrelease). The answer seals
each fleet key of that bundle to the enclave key; the worker opens them here, checks each
statement as a data provider does (signed by the key service it trusts, for this bundle, for
this key), and keeps the keys in memory: never in a file, never pickled.

Keys are asked again after `REFRESH_S`, and at once when an envelope names a key not held:
the key service decides which keys are retired, and a retired key stops opening data within
that time. The newest key's statement is what the worker publishes for providers.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import urllib3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ..attestation import EnclaveKey, public_key_sha256
from ..keyrelease.errors import KeyReleaseError
from ..keyrelease.request import SUITE, make_request, release_info, unb64
from ..keyrelease.statement import FleetKeyStatement, verify_statement
from ..push.errors import EnclaveKeyGone, PushError

log = logging.getLogger(__name__)

#: How long a worker uses the keys it was given before asking again (retirement takes effect).
REFRESH_S = 60.0
_TIMEOUT_S = 30.0
_MAX_ANSWER_BYTES = 1 << 20


class FleetKeyUnavailable(PushError):
    """The key service could not be reached, or refused this worker its keys."""


class FleetKey:
    """One fleet private key, in memory; opens what providers sealed to the fleet."""

    def __init__(
        self, private_key: ec.EllipticCurvePrivateKey, statement: FleetKeyStatement, signature: str
    ):
        self.__private = private_key
        self.statement = statement
        self.signature = signature  # the key service's, over the statement: published with it

    def public_key_sha256(self) -> str:
        return self.statement.key_sha256

    def open_sealed(self, suite: object, sealed: bytes, info: bytes) -> bytes:
        return suite.decrypt(sealed, self.__private, info)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"FleetKey({self.statement.bundle_digest[:23]}..., {self.public_key_sha256()[:16]})"

    def __reduce__(self) -> object:
        raise TypeError("A fleet key cannot be pickled or copied out of the process.")


@dataclass(frozen=True)
class KeyServiceClient:
    """Where the key service is, and the statement-signing key this worker trusts."""

    url: str
    signing_keys: tuple[ed25519.Ed25519PublicKey, ...]
    ca_bundle: str | None = None

    @classmethod
    def from_files(cls, url: str, key_file: str, ca_bundle: str | None = None):
        key = serialization.load_pem_public_key(Path(key_file).read_bytes())
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise ValueError(f"{key_file} does not hold the key service's Ed25519 public key.")
        return cls(url.rstrip("/") + "/", (key,), ca_bundle)

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # the CA bundle of the environment must not override ours
        session.verify = self.ca_bundle or True
        return session

    def fleet(self) -> str:
        """The fleet's name, which a release request is addressed to."""
        fleet = self._json("GET", "").get("fleet")
        if not isinstance(fleet, str) or not fleet:
            raise FleetKeyUnavailable(f"The key service at {self.url} names no fleet.")
        return fleet

    def release(self, body: dict[str, str]) -> dict[str, Any]:
        return self._json("POST", "release", body)

    def _json(self, method: str, path: str, body: dict | None = None) -> dict[str, Any]:
        try:
            with self._session() as session:
                response = session.request(
                    method, self.url + path, json=body, timeout=_TIMEOUT_S, stream=True
                )
                data = response.raw.read(_MAX_ANSWER_BYTES + 1, decode_content=True)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise FleetKeyUnavailable(
                f"The key service at {self.url} could not be reached ({type(exc).__name__})."
            ) from None
        if len(data) > _MAX_ANSWER_BYTES:
            raise FleetKeyUnavailable("The key service answered with more than any real answer.")
        try:
            answer = json.loads(data)
        except ValueError:
            answer = {}
        if response.status_code >= 400 or not isinstance(answer, dict):
            detail = answer.get("detail") if isinstance(answer, dict) else None
            raise FleetKeyUnavailable(
                f"The key service refused this datacage its fleet key ({response.status_code}): "
                f"{detail or 'no reason given'}"
            )
        return answer


class FleetKeyring:
    """The fleet keys this worker was given, per bundle digest."""

    def __init__(
        self,
        client: KeyServiceClient,
        enclave_key: EnclaveKey,
        attest: Callable[[str], str],  # bundle digest -> fresh evidence JSON for it
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),  # dates the requests
    ):
        self.client = client
        self.enclave_key = enclave_key
        self.attest = attest
        self.clock = clock
        self.wall_clock = wall_clock
        self._held: dict[str, tuple[float, list[FleetKey]]] = {}
        self._fleet: str | None = None
        self._lock = threading.Lock()

    def keys_for(self, bundle_digest: str, *, refresh: bool = False) -> list[FleetKey]:
        """The bundle's fleet keys, newest first; asked of the key service when not held,
        older than `REFRESH_S`, or when `refresh`."""
        with self._lock:
            held = self._held.get(bundle_digest)
            if held and not refresh and self.clock() - held[0] < REFRESH_S:
                return held[1]
            keys = self._ask(bundle_digest)
            self._held[bundle_digest] = (self.clock(), keys)
            return keys

    def published_statement(self, bundle_digest: str) -> dict[str, str]:
        """The signed statement of the newest key: what providers seal to."""
        newest = self.keys_for(bundle_digest)[0]
        return {"statement": newest.statement.text, "signature": newest.signature}

    def opener(self, key_sha256: str, bundle_digest: str, dataset: str) -> FleetKey:
        """The fleet key that opens an envelope sealed to `key_sha256` in a run of
        `bundle_digest`; raises in plain words when this run may not open it."""
        for refresh in (False, True):
            for key in self.keys_for(bundle_digest, refresh=refresh):
                if hmac.compare_digest(key.public_key_sha256(), key_sha256):
                    return key
        for other, (_, keys) in list(self._held.items()):
            if other != bundle_digest and any(k.public_key_sha256() == key_sha256 for k in keys):
                raise EnclaveKeyGone(
                    f"The dataset {dataset[:80]!r} was encrypted to the fleet key of the "
                    f"algorithm {other[:23]}..., not of the one this run uses "
                    f"({bundle_digest[:23]}...); its provider must push it again for this "
                    "algorithm."
                )
        raise EnclaveKeyGone(
            f"The dataset {dataset[:80]!r} was encrypted to the key {key_sha256[:16]}..., "
            "which the key service does not release for this algorithm (a retired fleet key, "
            "or one of another fleet or datacage); push it again."
        )

    def _ask(self, bundle_digest: str) -> list[FleetKey]:
        if self._fleet is None:
            self._fleet = self.client.fleet()
        pem = self.enclave_key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        body = make_request(
            self.attest(bundle_digest),
            pem,
            self._fleet,
            int(self.wall_clock().timestamp()),
            self.enclave_key.sign_es256,
        )
        answer = self.client.release(body)
        keys = []
        recipient = self.enclave_key.public_key_sha256()
        for item in answer.get("keys") or []:
            keys.append(self._open(item, bundle_digest, recipient))
        if not keys:
            raise FleetKeyUnavailable("The key service released no fleet key for this bundle.")
        log.info(
            "fleet keys received",
            extra={"bundle": bundle_digest, "keys": [k.public_key_sha256()[:16] for k in keys]},
        )
        return keys

    def _open(self, item: Any, bundle_digest: str, recipient: str) -> FleetKey:
        try:
            signed = {"statement": item["statement"], "signature": item["signature"]}
            statement = verify_statement(signed, self.client.signing_keys)
            if statement.bundle_digest != bundle_digest or statement.fleet != self._fleet:
                raise FleetKeyUnavailable(
                    "The key service sent a fleet key for another bundle or fleet."
                )
            info = release_info(statement.fleet, statement.key_sha256, recipient)
            der = self.enclave_key.open_sealed(SUITE, unb64(item["sealed_key"]), info)
            private = serialization.load_der_private_key(der, None)
        except (KeyError, TypeError, ValueError, KeyReleaseError) as exc:
            raise FleetKeyUnavailable(
                f"The key service's answer does not check out: {exc}"
            ) from None
        if not isinstance(private, ec.EllipticCurvePrivateKey) or not hmac.compare_digest(
            public_key_sha256(private.public_key()), statement.key_sha256
        ):
            raise FleetKeyUnavailable("The fleet key sent is not the key its statement names.")
        return FleetKey(private, statement, signed["signature"])
