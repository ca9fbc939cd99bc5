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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import MeasurementNotApproved, StaleEvidence, WrongKeyBinding
from .evidence import parse_evidence
from .measurement import Measurement
from .providers import verifier_for
from .trust import TrustPolicy

#: How far in the future evidence may be dated: clocks of two machines are never equal.
CLOCK_SKEW = timedelta(minutes=5)


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
