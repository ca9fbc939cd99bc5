"""What a pod provider accepts of a datacage's evidence: its `TrustPolicy`.

Kept apart from the verification (`verify.py`) because the verifiers of each provider
(`providers.py`, `software.py`, `hardware.py`) read the policy while `verify_evidence` looks the
verifiers up: with the policy in `verify.py` the two would import each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from .measurement import Measurement, is_digest
from .policy import HardwarePolicy

DEFAULT_MAX_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class TrustPolicy:
    """What a pod provider accepts: approved code and bundles, and which providers' evidence.

    `software_keys` are Ed25519 public keys (PEM) of software stand-ins the provider chose to
    trust; they count only with `allow_software`. For hardware evidence the launch
    measurement (in `hardware`) stands for the datacage code, so `code_digests` may be empty.
    """

    code_digests: frozenset[str]
    bundle_digests: frozenset[str]
    allow_software: bool = False
    software_keys: tuple[str, ...] = ()
    max_age: timedelta = DEFAULT_MAX_AGE
    #: What SEV-SNP and TDX evidence must show (server/attestation/policy.py); none by default.
    hardware: HardwarePolicy = field(default_factory=HardwarePolicy)
    #: WebIDs of datacages, which read pods only through the attestation gateway: the ordinary
    #: entrance refuses their access tokens (server/attestation/entrance.py).
    datacage_webids: frozenset[str] = frozenset()
    #: Ed25519 public keys (PEM) of fleet key services whose statements of a fleet key a data
    #: provider accepts (server/keyrelease/statement.py); none by default.
    key_service_keys: tuple[str, ...] = ()
    _parsed_keys: tuple[ed25519.Ed25519PublicKey, ...] = field(
        default=(), init=False, repr=False, compare=False
    )
    _service_keys: tuple[ed25519.Ed25519PublicKey, ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "code_digests", frozenset(self.code_digests))
        object.__setattr__(self, "bundle_digests", frozenset(self.bundle_digests))
        object.__setattr__(self, "software_keys", tuple(self.software_keys))
        object.__setattr__(self, "datacage_webids", frozenset(self.datacage_webids))
        object.__setattr__(self, "key_service_keys", tuple(self.key_service_keys))
        for digest in self.code_digests | self.bundle_digests:
            if not is_digest(digest):
                raise ValueError(f"{digest[:80]!r} is not a sha256:<64 hex> digest.")
        if self.max_age <= timedelta(0):
            raise ValueError("max_age must be positive.")
        object.__setattr__(self, "_parsed_keys", tuple(_ed25519(pem) for pem in self.software_keys))
        object.__setattr__(
            self, "_service_keys", tuple(_ed25519(pem) for pem in self.key_service_keys)
        )

    @classmethod
    def approving(cls, measurements: Iterable[Measurement], **options: object) -> TrustPolicy:
        """A policy approving exactly the code and bundles of these measurements."""
        measurements = list(measurements)
        return cls(
            frozenset(m.datacage_code for m in measurements),
            frozenset(m.bundle_digest for m in measurements),
            **options,  # type: ignore[arg-type]
        )

    def software_public_keys(self) -> tuple[ed25519.Ed25519PublicKey, ...]:
        return self._parsed_keys

    def key_service_public_keys(self) -> tuple[ed25519.Ed25519PublicKey, ...]:
        return self._service_keys


def _ed25519(pem: str) -> ed25519.Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise ValueError("A trusted software key is not a PEM public key.") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError("A trusted software key is not an Ed25519 public key.")
    return key
