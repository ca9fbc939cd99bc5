"""`verify_evidence`: the one check a pod provider runs before letting a datacage read.

The checks, in order (each raises its own `AttestationError`):

1. the document parses strictly (`evidence.parse_evidence`);
2. the provider's verifier accepts its proof (signature or hardware quote), so nothing below
   trusts an unauthenticated claim;
3. `report_data` is the hash of the key the peer proved it holds (the TLS key): evidence copied
   from another datacage is useless without that datacage's private key;
4. the evidence is fresh: not older than `max_age`, not dated in the future beyond a small skew;
5. the datacage code and the bundle are both on the policy's approved lists (for hardware
   evidence the verifier already checked the launch measurement, which covers the code; a
   policy may still list code digests, and then they are checked too).

Comparisons of digests and key hashes are constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from .errors import MeasurementNotApproved, StaleEvidence, WrongKeyBinding
from .evidence import parse_evidence
from .measurement import Measurement, is_digest
from .policy import HardwarePolicy
from .providers import verifier_for

DEFAULT_MAX_AGE = timedelta(hours=1)
#: How far in the future evidence may be dated: clocks of two machines are never equal.
CLOCK_SKEW = timedelta(minutes=5)


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
    _parsed_keys: tuple[ed25519.Ed25519PublicKey, ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "code_digests", frozenset(self.code_digests))
        object.__setattr__(self, "bundle_digests", frozenset(self.bundle_digests))
        object.__setattr__(self, "software_keys", tuple(self.software_keys))
        object.__setattr__(self, "datacage_webids", frozenset(self.datacage_webids))
        for digest in self.code_digests | self.bundle_digests:
            if not is_digest(digest):
                raise ValueError(f"{digest[:80]!r} is not a sha256:<64 hex> digest.")
        if self.max_age <= timedelta(0):
            raise ValueError("max_age must be positive.")
        object.__setattr__(self, "_parsed_keys", tuple(_ed25519(pem) for pem in self.software_keys))

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


def _ed25519(pem: str) -> ed25519.Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise ValueError("A trusted software key is not a PEM public key.") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError("A trusted software key is not an Ed25519 public key.")
    return key


@dataclass(frozen=True)
class VerifiedEvidence:
    provider: str
    hardware_backed: bool
    measurement: Measurement
    issued_at: datetime
    public_key_sha256: str
    #: What the hardware verifier checked (`SnpVerified` or `TdxVerified`); None for software.
    platform: object | None = None


def verify_evidence(
    evidence_bytes: bytes, *, public_key_sha256: str, policy: TrustPolicy, now: datetime
) -> VerifiedEvidence:
    """Check evidence for the peer key `public_key_sha256`; raise `AttestationError` if not."""
    evidence = parse_evidence(evidence_bytes)
    verifier = verifier_for(evidence.provider)
    platform = verifier.verify(evidence, policy, now=now)
    if not hmac.compare_digest(evidence.report_data.encode(), public_key_sha256.encode()):
        raise WrongKeyBinding(
            f"The evidence vouches for the key {evidence.report_data[:16]}..., but the datacage "
            f"connected with the key {public_key_sha256[:16]}...: the evidence was made for "
            "another key."
        )
    issued = datetime.fromtimestamp(evidence.issued_at, UTC)
    _check_fresh(issued, now, policy.max_age, "evidence")
    if policy.code_digests or not verifier.hardware_backed:
        _check_approved("datacage code", evidence.measurement.datacage_code, policy.code_digests)
    _check_approved("algorithm bundle", evidence.measurement.bundle_digest, policy.bundle_digests)
    return VerifiedEvidence(
        provider=evidence.provider,
        hardware_backed=verifier.hardware_backed,
        measurement=evidence.measurement,
        issued_at=issued,
        public_key_sha256=public_key_sha256,
        platform=platform,
    )


def _check_fresh(issued: datetime, now: datetime, max_age: timedelta, what: str) -> None:
    if issued > now + CLOCK_SKEW:
        raise StaleEvidence(
            f"The {what} is dated {issued:%Y-%m-%d %H:%M:%S} UTC, in the future of this "
            f"verifier's clock ({now:%Y-%m-%d %H:%M:%S} UTC)."
        )
    if now - issued > max_age:
        raise StaleEvidence(
            f"The {what} was issued at {issued:%Y-%m-%d %H:%M:%S} UTC, more than "
            f"{_words(max_age)} before {now:%Y-%m-%d %H:%M:%S} UTC; the datacage must attest again."
        )


def _check_approved(what: str, value: str, approved: frozenset[str]) -> None:
    found = False
    for candidate in sorted(approved):  # no early exit: timing says nothing about the list
        found |= hmac.compare_digest(candidate.encode(), value.encode())
    if not found:
        listed = ", ".join(sorted(approved)[:3]) or "none"
        more = f" and {len(approved) - 3} more" if len(approved) > 3 else ""
        raise MeasurementNotApproved(
            f"The datacage runs the {what} {value}, which is not approved; "
            f"approved: {listed}{more}."
        )


def _words(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
