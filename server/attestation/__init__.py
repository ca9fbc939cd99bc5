"""Attestation: the enclave key, evidence of what runs behind it, and how pods check it.

The datacage side: `EnclaveKey.generate()`, `measure_datacage_code()`, a provider's
`attest(key, Measurement(code, bundle))`, then `client_certificate(key, evidence)` and
`key.tls_files(certificate)` for mutual TLS. The pod provider's side: `TrustPolicy`,
`verify_peer_certificate` / `verify_evidence`, and the `admission` app behind nginx.
Hardware evidence: `snp.verify_report` (AMD SEV-SNP), `tdx.verify_quote` (Intel TDX), the
trust policy's hardware tables (`policy.py`) and the configfs-tsm attester (`tsm.py`).
See docs/attestation.md.
"""

from . import hardware as _hardware  # noqa: F401  (registers the SEV-SNP and TDX verifiers)
from .enclave_key import EnclaveKey, public_key_sha256
from .errors import (
    AttestationError,
    BadSignature,
    CollateralError,
    GuestPolicyRefused,
    MalformedEvidence,
    MeasurementNotApproved,
    ReportDataMismatch,
    Revoked,
    StaleEvidence,
    TcbNotAccepted,
    UnknownProvider,
    UntrustedChain,
    UntrustedProvider,
    VerifierUnavailable,
    WrongKeyBinding,
)
from .evidence import FORMAT, Evidence, parse_evidence
from .measurement import Measurement, measure_datacage_code
from .providers import AttestationProvider, EvidenceVerifier, register, registered_providers
from .ratls import (
    EVIDENCE_OID,
    client_certificate,
    evidence_from_certificate,
    verify_peer_certificate,
)
from .software import SoftwareAttestationProvider
from .trust import TrustPolicy
from .verify import VerifiedEvidence, verify_evidence

__all__ = [
    "EVIDENCE_OID",
    "FORMAT",
    "AttestationError",
    "AttestationProvider",
    "BadSignature",
    "CollateralError",
    "EnclaveKey",
    "Evidence",
    "EvidenceVerifier",
    "GuestPolicyRefused",
    "MalformedEvidence",
    "Measurement",
    "MeasurementNotApproved",
    "ReportDataMismatch",
    "Revoked",
    "SoftwareAttestationProvider",
    "StaleEvidence",
    "TcbNotAccepted",
    "TrustPolicy",
    "UnknownProvider",
    "UntrustedChain",
    "UntrustedProvider",
    "VerifiedEvidence",
    "VerifierUnavailable",
    "WrongKeyBinding",
    "client_certificate",
    "evidence_from_certificate",
    "measure_datacage_code",
    "parse_evidence",
    "public_key_sha256",
    "register",
    "registered_providers",
    "verify_evidence",
    "verify_peer_certificate",
]
