"""A key service in this process for unit tests: the real store, release check and keyring,
with the HTTP hop replaced by a direct call (the HTTP app has tests of its own)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from server.attestation import EnclaveKey, Measurement, SoftwareAttestationProvider, TrustPolicy
from server.datacage.fleet_keys import FleetKeyring, FleetKeyUnavailable
from server.keyrelease.errors import ReleaseRefused
from server.keyrelease.release import SoftwareKeyService
from server.keyrelease.request import make_request
from server.keyrelease.store import create

FLEET = "unit-fleet"
CODE, BUNDLE, OTHER = ("sha256:" + c * 64 for c in "123")
NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def pem(key: EnclaveKey) -> str:
    return key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@dataclass
class InProcessClient:
    """The keyring's view of the key service, calling the service directly."""

    service: SoftwareKeyService
    now: datetime = NOW
    signing_keys: tuple = field(default=())

    def __post_init__(self) -> None:
        self.signing_keys = (self.service.store.signing_key.public_key(),)

    def fleet(self) -> str:
        return self.service.store.fleet

    def release(self, body: dict[str, str]) -> dict:
        try:
            return self.service.release(json.dumps(body).encode(), self.now)
        except ReleaseRefused as exc:
            raise FleetKeyUnavailable(f"The key service refused: {exc}") from None


class Fleet:
    """A key file with one key for BUNDLE and one for OTHER, and a policy trusting one
    software attestation key, which `attest` signs with."""

    def __init__(self, folder: Path):
        self.attestation = SoftwareAttestationProvider(folder / "attestation")
        self.store = create(folder / "keys.json", FLEET)
        self.store.add_key(BUNDLE, int(NOW.timestamp()))
        self.store.add_key(OTHER, int(NOW.timestamp()))
        self.policy = TrustPolicy(
            frozenset({CODE}),
            frozenset({BUNDLE, OTHER}),
            allow_software=True,
            software_keys=(self.attestation.public_key_pem(),),
        )
        self.service = SoftwareKeyService(self.store, self.policy, clock=lambda: NOW)

    def evidence(self, key: EnclaveKey, bundle: str = BUNDLE, code: str = CODE, when=NOW) -> str:
        return self.attestation.attest(key, Measurement(code, bundle), now=when).to_bytes().decode()

    def request(self, key: EnclaveKey, evidence: str | None = None, **options) -> bytes:
        audience = options.get("audience", FLEET)
        issued = int(options.get("issued", NOW).timestamp())
        sign = options.get("sign", key.sign_es256)
        body = make_request(evidence or self.evidence(key), pem(key), audience, issued, sign)
        return json.dumps(body).encode()

    def keyring(self, key: EnclaveKey) -> FleetKeyring:
        client = InProcessClient(self.service)
        return FleetKeyring(client, key, lambda b: self.evidence(key, b), wall_clock=lambda: NOW)
