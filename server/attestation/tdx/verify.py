"""Verify an Intel TDX quote up to the Intel SGX Root CA, then hold it to a policy.

1. the attestation key's ECDSA P-256 signature over the header and TD report;
2. the QE report's signature by the PCK certificate, and the QE report binding the attestation
   key: its REPORT_DATA is SHA-256(attestation key || QE auth data) then 32 zero bytes;
3. the PCK chain carried in the quote (PCK -> PCK Platform/Processor CA -> Intel SGX Root CA)
   against the root shipped in server/attestation/roots/, each certificate current;
4. revocation: the PCK CRL (and the Root CA CRL when given), offline collateral;
5. Intel's TCB info and TD QE identity (offline collateral, signed, current), giving the TCB
   status of the platform and of the quoting enclave; both must be accepted by the policy;
6. never a debug TD; the MRTD (and the RTMRs when the policy lists them) accepted;
7. REPORT_DATA equals what the caller expects (the enclave key and claim, or a nonce).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ..certs import (
    check_issued_by,
    check_not_revoked,
    check_valid_at,
    load_certificate,
    load_certificates,
    load_crl,
    shipped_root,
)
from ..errors import (
    BadSignature,
    CollateralError,
    GuestPolicyRefused,
    MeasurementNotApproved,
    ReportDataMismatch,
    TcbNotAccepted,
    UntrustedChain,
)
from ..policy import TdxPolicy
from .collateral import module_status, qe_identity_status, tdx_tcb_status, verify_signed_json
from .pck import pck_info
from .quote import TD_ATTRIBUTE_DEBUG, TdxQuote, parse_quote

_PCK_CAS = ("Intel SGX PCK Platform CA", "Intel SGX PCK Processor CA")


def intel_root() -> x509.Certificate:
    return load_certificate(shipped_root("intel-sgx-root-ca.pem"), "Intel SGX Root CA")


@dataclass(frozen=True)
class TdxVerified:
    version: int
    fmspc: str
    mrtd: str
    rtmrs: tuple[str, str, str, str]
    report_data: str
    tcb_status: str
    tcb_date: str
    qe_tcb_status: str
    quote: TdxQuote = field(repr=False)


def verify_quote(
    quote: bytes,
    *,
    policy: TdxPolicy,
    report_data: bytes,
    now: datetime,
    root: x509.Certificate | None = None,
    collateral_root: x509.Certificate | None = None,
) -> TdxVerified:
    """Check a TDX quote against Intel's root, the collateral and `policy`; raise if not.

    `root` and `collateral_root` default to the Intel SGX Root CA shipped in the package;
    tests pass their own to exercise the TCB logic on collateral they sign.
    """
    parsed = parse_quote(quote)
    root = root or intel_root()
    collateral_root = collateral_root or root
    pck, ca = verify_signatures(parsed, root, now)
    collateral = policy.collateral
    if collateral is None:
        raise CollateralError(
            "The policy supplies no Intel collateral (TCB info, QE identity, PCK CRL), so the "
            "platform's TCB status and revocation cannot be checked; the quote is refused."
        )
    check_not_revoked(pck, load_crl(collateral.pck_crl, "PCK CRL"), ca, now, "PCK certificate")
    if collateral.root_ca_crl is not None:
        root_crl = load_crl(collateral.root_ca_crl, "Intel Root CA CRL")
        check_not_revoked(ca, root_crl, root, now, "PCK CA certificate")
    chain = collateral.tcb_signing_chain
    tcb_info = verify_signed_json(collateral.tcb_info, "tcbInfo", chain, collateral_root, now).body
    identity = verify_signed_json(
        collateral.qe_identity, "enclaveIdentity", chain, collateral_root, now
    ).body
    info = pck_info(pck)
    body = parsed.body
    module = module_status(tcb_info, body.tee_tcb_svn, body.mrsignerseam, body.seam_attributes)
    status, date = tdx_tcb_status(
        tcb_info, info.fmspc, info.pce_id, info.sgx_svns, info.pce_svn, body.tee_tcb_svn
    )
    qe_status = qe_identity_status(identity, parsed.qe_report)
    if status == "Unsupported":
        raise TcbNotAccepted(
            "Intel's TCB info lists no level this platform meets: the TCB in its PCK "
            f"certificate or the TDX module is older than every level for FMSPC "
            f"{info.fmspc.hex()}; its firmware must be updated."
        )
    checked = (("platform", status), ("TDX module", module), ("quoting enclave", qe_status))
    for what, value in checked:
        if value not in policy.accepted_tcb_status:
            raise TcbNotAccepted(
                f"Intel rates the {what}'s TCB {value!r} (TCB date {date}), which this policy "
                f"does not accept ({', '.join(sorted(policy.accepted_tcb_status))})."
            )
    _check_td(parsed, policy)
    if not hmac.compare_digest(parsed.body.report_data, report_data):
        raise ReportDataMismatch(
            f"The TDX quote's REPORT_DATA ({parsed.body.report_data.hex()[:16]}...) is not the "
            f"expected {report_data.hex()[:16]}...: it does not bind this enclave key (or this "
            "verifier's nonce)."
        )
    return TdxVerified(
        version=parsed.version,
        fmspc=info.fmspc.hex(),
        mrtd=body.mrtd.hex(),
        rtmrs=tuple(r.hex() for r in body.rtmrs),  # type: ignore[arg-type]
        report_data=body.report_data.hex(),
        tcb_status=status,
        tcb_date=date,
        qe_tcb_status=qe_status,
        quote=parsed,
    )


def verify_signatures(
    quote: TdxQuote, root: x509.Certificate, now: datetime
) -> tuple[x509.Certificate, x509.Certificate]:
    """Steps 1 to 3: the quote's, the QE report's and the PCK chain's signatures; (PCK, CA)."""
    _check_quote_signature(quote)
    pck, ca = _check_pck_chain(quote, root, now)
    _check_qe_report(quote, pck)
    return pck, ca


def _p256_verify(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> None:
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    key.verify(der, data, ec.ECDSA(hashes.SHA256()))


def _check_quote_signature(quote: TdxQuote) -> None:
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b"\x04" + quote.attestation_key
        )
        _p256_verify(key, quote.signature, quote.signed_bytes)
    except (InvalidSignature, ValueError):
        raise BadSignature(
            "The TDX quote's signature over its header and TD report does not verify with its "
            "attestation key: the quote was changed."
        ) from None


def _check_pck_chain(
    quote: TdxQuote, root: x509.Certificate, now: datetime
) -> tuple[x509.Certificate, x509.Certificate]:
    chain = load_certificates(quote.pck_chain_pem, "PCK certificate chain")
    if len(chain) != 3:
        raise UntrustedChain(
            f"The quote's PCK chain has {len(chain)} certificates, not PCK, CA and root."
        )
    pck, ca, carried_root = chain
    if carried_root != root:
        raise UntrustedChain("The quote's PCK chain ends at another root than Intel's SGX Root CA.")
    names = [a.value for a in ca.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    if len(names) != 1 or names[0] not in _PCK_CAS:
        raise UntrustedChain("The PCK certificate's issuer is not an Intel SGX PCK CA.")
    check_issued_by(root, root, "Intel SGX Root CA")
    check_issued_by(ca, root, "Intel PCK CA certificate")
    check_issued_by(pck, ca, "PCK certificate")
    for cert, what in ((root, "Intel SGX Root CA"), (ca, "PCK CA"), (pck, "PCK certificate")):
        check_valid_at(cert, now, what)
    return pck, ca


def _check_qe_report(quote: TdxQuote, pck: x509.Certificate) -> None:
    key = pck.public_key()
    try:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("not EC")
        _p256_verify(key, quote.qe_report_signature, quote.qe_report.raw)
    except (InvalidSignature, ValueError):
        raise BadSignature(
            "The quoting enclave's report is not signed by the PCK certificate: the quote was "
            "changed or its certificate swapped."
        ) from None
    expected = hashlib.sha256(quote.attestation_key + quote.qe_auth_data).digest() + bytes(32)
    if not hmac.compare_digest(quote.qe_report.report_data, expected):
        raise BadSignature(
            "The quoting enclave's report does not vouch for the key that signed the quote "
            "(SHA-256 of attestation key and QE auth data differs)."
        )


def _check_td(quote: TdxQuote, policy: TdxPolicy) -> None:
    body = quote.body
    if body.td_attributes & TD_ATTRIBUTE_DEBUG:
        raise GuestPolicyRefused(
            "The trust domain runs in debug mode: the host can read and change its memory, so "
            "its evidence proves nothing."
        )
    found = False
    for accepted in sorted(policy.mrtds):
        found |= hmac.compare_digest(accepted, body.mrtd)
    if not found:
        raise MeasurementNotApproved(
            f"The trust domain's MRTD {body.mrtd.hex()} is not an accepted datacage release."
        )
    if policy.rtmrs and tuple(body.rtmrs) not in policy.rtmrs:
        raise MeasurementNotApproved(
            "The trust domain's RTMRs (firmware, kernel and command line measured at boot) are "
            "not an accepted set."
        )
