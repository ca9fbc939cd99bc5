"""Hardware evidence verifiers: AMD SEV-SNP and Intel TDX, and the SGX name that is reserved.

A hardware provider (server/attestation/tsm.py) puts the raw report or quote in the evidence's
`proof` and binds the whole claim through the report's 64-byte REPORT_DATA::

    REPORT_DATA = sha256(enclave public key, DER SPKI) || sha256(claim bytes)

so the key, the measurement of code and bundle, and `issued_at` are all under the hardware
signature. The verifier recomputes that value from the evidence and hands it to the platform
verifier (snp/verify.py, tdx/verify.py), which checks the chain to the vendor's root, the TCB,
the guest settings and the launch measurement against the policy's `[sev-snp]` / `[tdx]` table.

Proof members (base64url, no padding): SEV-SNP `report` and `vcek` (the VCEK or VLEK, DER);
TDX `quote` (its PCK chain travels inside).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .errors import MalformedEvidence, UntrustedProvider, VerifierUnavailable
from .evidence import Evidence
from .providers import register
from .snp import SnpVerified, verify_report
from .tdx import TdxVerified, verify_quote

if TYPE_CHECKING:
    from .trust import TrustPolicy


def hardware_report_data(key_sha256_hex: str, claim_bytes: bytes) -> bytes:
    """The 64 bytes a hardware report must carry for this key and claim."""
    return bytes.fromhex(key_sha256_hex) + hashlib.sha256(claim_bytes).digest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64url(text: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise MalformedEvidence(f"The evidence's {what} is not base64url.") from None


def _proof(evidence: Evidence, members: set[str], label: str) -> dict[str, bytes]:
    if set(evidence.proof) != members:
        raise MalformedEvidence(
            f"The {label} proof must hold exactly {', '.join(sorted(members))}."
        )
    return {k: _unb64url(v, f"{label} {k}") for k, v in evidence.proof.items()}


@register
class SevSnpVerifier:
    provider = "sev-snp"
    label = "AMD SEV-SNP"
    hardware_backed = True

    def verify(
        self, evidence: Evidence, policy: TrustPolicy, now: datetime | None = None
    ) -> SnpVerified:
        snp = policy.hardware.snp
        if snp is None:
            raise UntrustedProvider(
                "The evidence comes from AMD SEV-SNP, and this policy has no [sev-snp] section "
                "naming the launch measurements it accepts."
            )
        proof = _proof(evidence, {"report", "vcek"}, self.label)
        return verify_report(
            proof["report"],
            proof["vcek"],
            policy=snp,
            report_data=hardware_report_data(evidence.report_data, evidence.claim_bytes()),
            now=now or datetime.now(UTC),
        )


@register
class TdxVerifier:
    provider = "tdx"
    label = "Intel TDX"
    hardware_backed = True

    def verify(
        self, evidence: Evidence, policy: TrustPolicy, now: datetime | None = None
    ) -> TdxVerified:
        tdx = policy.hardware.tdx
        if tdx is None:
            raise UntrustedProvider(
                "The evidence comes from Intel TDX, and this policy has no [tdx] section naming "
                "the MRTDs it accepts."
            )
        proof = _proof(evidence, {"quote"}, self.label)
        return verify_quote(
            proof["quote"],
            policy=tdx,
            report_data=hardware_report_data(evidence.report_data, evidence.claim_bytes()),
            now=now or datetime.now(UTC),
        )


@register
class SgxDcapVerifier:
    """Reserved: SGX enclaves are not a datacage platform here; refused with the reason."""

    provider = "sgx-dcap"
    label = "Intel SGX (DCAP)"
    hardware_backed = True

    def verify(self, evidence: Evidence, policy: TrustPolicy, now: datetime | None = None) -> None:
        raise VerifierUnavailable(
            f"No verifier for {self.label} evidence is installed on this machine, so it cannot "
            "be checked and is refused. Installing one means checking the SGX quote with "
            "Intel's DCAP quote verification and collateral, registered with "
            "server.attestation.providers.register."
        )
