"""Verify an SEV-SNP attestation report up to AMD's root, then hold it to a policy.

Order matters: nothing in the report is believed before its signature chain is checked.

1. the chain ARK -> ASK -> VCEK (or ARK -> ASVK -> VLEK), with AMD's roots shipped in
   server/attestation/roots/, each link RSA-PSS SHA-384, each certificate in its validity period;
2. revocation of the ASK/ASVK from AMD's CRL (ARK-signed), supplied as offline collateral;
3. the report's ECDSA P-384 signature by the VCEK over bytes 0x000-0x29F;
4. the VCEK was issued for this report's `reported_tcb` and this chip (`chip_id`), read from
   the VCEK's extensions (VCEK spec, table 8: OIDs 1.3.6.1.4.1.3704.1.3.x and .1.4);
5. the guest policy: never debug; SMT and a migration agent only if the policy allows them;
6. the TCB is at least the policy's minimum; 7. the launch measurement is accepted;
8. REPORT_DATA equals what the caller expects (the enclave key and claim, or a nonce).
"""

from __future__ import annotations

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
from ..policy import SnpPolicy
from .report import SIGNING_KEY_VCEK, SIGNING_KEY_VLEK, SnpReport, TcbVersion, parse_report

_AMD = "1.3.6.1.4.1.3704.1."
_TCB_OIDS = {"bootloader": "3.1", "tee": "3.2", "snp": "3.3", "microcode": "3.8", "fmc": "3.9"}
_HWID_OID = x509.ObjectIdentifier(_AMD + "4")


@dataclass(frozen=True)
class ProductRoots:
    ark: x509.Certificate
    ask: x509.Certificate
    asvk: x509.Certificate


@dataclass(frozen=True)
class SnpRoots:
    """AMD's roots per product; `shipped()` loads the ones in the package."""

    products: dict[str, ProductRoots]

    @classmethod
    def shipped(cls) -> SnpRoots:
        products = {}
        for name in ("milan", "genoa", "turin"):
            ark = load_certificate(shipped_root(f"{name}-ark.pem"), f"AMD {name} ARK")
            ask = load_certificate(shipped_root(f"{name}-ask.pem"), f"AMD {name} ASK")
            vlek_chain = shipped_root(f"ask-ark-{name}-vlek.pem")
            asvk = load_certificates(vlek_chain, f"AMD {name} ASVK")[0]
            products[name] = ProductRoots(ark, ask, asvk)
        return cls(products)


_SHIPPED: SnpRoots | None = None


def shipped_roots() -> SnpRoots:
    global _SHIPPED
    if _SHIPPED is None:
        _SHIPPED = SnpRoots.shipped()
    return _SHIPPED


@dataclass(frozen=True)
class SnpVerified:
    product: str
    signing_key: str  # "VCEK" or "VLEK"
    measurement: str
    report_data: str
    reported_tcb: TcbVersion
    tcb_status: str
    guest_policy: str
    report: SnpReport = field(repr=False)


def verify_report(
    report: bytes,
    endorsement_key: bytes,
    *,
    policy: SnpPolicy,
    report_data: bytes,
    now: datetime,
    roots: SnpRoots | None = None,
) -> SnpVerified:
    """Check `report` signed by `endorsement_key` (VCEK/VLEK, DER or PEM); raise if not."""
    parsed = parse_report(report)
    leaf = load_certificate(endorsement_key, "VCEK/VLEK certificate")
    kind = _key_kind(parsed, policy)
    product, chain = _chain_for(leaf, kind, roots or shipped_roots(), policy)
    intermediate = chain.ask if kind == "VCEK" else chain.asvk
    _check_chain(chain.ark, intermediate, leaf, kind, now)
    _check_revocation(chain.ark, intermediate, policy, now)
    _check_signature(parsed, leaf, kind)
    turin = product == "turin"
    tcb = parsed.reported_tcb(turin)
    _check_endorsed_tcb(leaf, kind, tcb, parsed)
    _check_guest_policy(parsed, policy)
    status = _check_min_tcb(tcb, policy)
    _check_measurement(parsed.measurement, policy)
    if not hmac.compare_digest(parsed.report_data, report_data):
        raise ReportDataMismatch(
            f"The SEV-SNP report's REPORT_DATA ({parsed.report_data.hex()[:16]}...) is not "
            f"the expected {report_data.hex()[:16]}...: it does not bind this enclave key "
            "(or this verifier's nonce)."
        )
    return SnpVerified(
        product=product,
        signing_key=kind,
        measurement=parsed.measurement.hex(),
        report_data=parsed.report_data.hex(),
        reported_tcb=tcb,
        tcb_status=status,
        guest_policy=_describe_policy(parsed),
        report=parsed,
    )


def _key_kind(report: SnpReport, policy: SnpPolicy) -> str:
    if report.signing_key == SIGNING_KEY_VCEK:
        return "VCEK"
    if report.signing_key == SIGNING_KEY_VLEK:
        if not policy.allow_vlek:
            raise UntrustedChain(
                "The SEV-SNP report is signed by a VLEK (a cloud provider's endorsement key) "
                "and this policy accepts only VCEK-signed reports."
            )
        return "VLEK"
    raise UntrustedChain("The SEV-SNP report says it is signed by no endorsement key.")


def _chain_for(
    leaf: x509.Certificate, kind: str, roots: SnpRoots, policy: SnpPolicy
) -> tuple[str, ProductRoots]:
    for product, chain in roots.products.items():
        intermediate = chain.ask if kind == "VCEK" else chain.asvk
        if leaf.issuer == intermediate.subject:
            if product not in policy.products:
                raise UntrustedChain(
                    f"The {kind} is from an AMD {product.title()} processor, which this "
                    f"policy does not accept ({', '.join(sorted(policy.products))})."
                )
            return product, chain
    raise UntrustedChain(
        f"The {kind} is issued by {leaf.issuer.rfc4514_string()!r}, which is none of AMD's "
        "SEV-SNP signing keys for Milan, Genoa or Turin."
    )


def _check_chain(
    ark: x509.Certificate,
    intermediate: x509.Certificate,
    leaf: x509.Certificate,
    kind: str,
    now: datetime,
) -> None:
    check_issued_by(ark, ark, "AMD root key (ARK)")
    name = "ASK" if kind == "VCEK" else "ASVK"
    check_issued_by(intermediate, ark, f"AMD {name}")
    check_issued_by(leaf, intermediate, kind)
    for cert, what in ((ark, "AMD root key (ARK)"), (intermediate, f"AMD {name}"), (leaf, kind)):
        check_valid_at(cert, now, what)


def _check_revocation(
    ark: x509.Certificate, intermediate: x509.Certificate, policy: SnpPolicy, now: datetime
) -> None:
    # AMD's KDS CRL is signed by the ARK and lists revoked ASKs/ASVKs (VCEKs are per TCB).
    matching = [crl for crl in map(_crl, policy.crls) if crl.issuer == ark.subject]
    if policy.require_crl and not matching:
        raise CollateralError(
            f"The policy requires AMD's revocation list for {ark.subject.rfc4514_string()!r}, "
            "and none was supplied."
        )
    for crl in matching:
        check_not_revoked(intermediate, crl, ark, now, "AMD signing key")


def _crl(data: bytes) -> x509.CertificateRevocationList:
    return load_crl(data, "AMD revocation list")


def _check_signature(report: SnpReport, leaf: x509.Certificate, kind: str) -> None:
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        raise UntrustedChain(f"The {kind} does not hold an ECDSA P-384 key.")
    try:
        signature = encode_dss_signature(report.signature_r, report.signature_s)
        key.verify(signature, report.signed_bytes, ec.ECDSA(hashes.SHA384()))
    except (InvalidSignature, ValueError):
        raise BadSignature(
            f"The SEV-SNP report's signature does not verify with the {kind}: the report was "
            "changed, or was signed by another chip."
        ) from None


def _check_endorsed_tcb(
    leaf: x509.Certificate, kind: str, tcb: TcbVersion, report: SnpReport
) -> None:
    endorsed = {}
    for name, suffix in _TCB_OIDS.items():
        value = _extension(leaf, _AMD + suffix)
        if value is not None:
            endorsed[name] = _der_integer(value, name)
    reported = tcb.as_dict()
    wrong = [f"{k} {v} vs {reported[k]}" for k, v in endorsed.items() if reported[k] != v]
    if wrong or not endorsed:
        raise UntrustedChain(
            f"The {kind} was issued for another TCB than the report's reported_tcb "
            f"({'; '.join(wrong) or 'no TCB extensions'}): fetch the {kind} for this TCB."
        )
    if kind == "VCEK" and not report.mask_chip_id:
        hwid = _extension(leaf, _HWID_OID.dotted_string)
        if hwid is not None and hwid[:2] == b"\x04\x40":  # some KDS versions wrap it in DER
            hwid = hwid[2:]
        if hwid is None or not hmac.compare_digest(hwid, report.chip_id):
            raise UntrustedChain("The VCEK was issued for another chip than the report's chip_id.")


def _extension(cert: x509.Certificate, oid: str) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value
    except x509.ExtensionNotFound:
        return None
    return value.value if isinstance(value, x509.UnrecognizedExtension) else None


def _der_integer(data: bytes, what: str) -> int:
    if len(data) < 3 or data[0] != 0x02 or data[1] != len(data) - 2 or data[1] > 2:
        raise UntrustedChain(f"The VCEK's {what} patch level is not a small DER integer.")
    return int.from_bytes(data[2:], "big", signed=True)


def _check_guest_policy(report: SnpReport, policy: SnpPolicy) -> None:
    if report.debug:
        raise GuestPolicyRefused(
            "The confidential VM was launched with debugging allowed: the host can read and "
            "change its memory, so its evidence proves nothing."
        )
    if report.smt_allowed and not policy.allow_smt:
        raise GuestPolicyRefused(
            "The confidential VM allows SMT (a sibling hardware thread shares its core), "
            "which this policy refuses."
        )
    if report.migration_agent and not policy.allow_migration_agent:
        raise GuestPolicyRefused(
            "The confidential VM is bound to a migration agent, which could move its memory "
            "elsewhere; this policy refuses that."
        )


def _check_min_tcb(tcb: TcbVersion, policy: SnpPolicy) -> str:
    have = tcb.as_dict()
    low = [f"{k} {have[k]} < {v}" for k, v in sorted(policy.min_tcb.items()) if have[k] < v]
    if low:
        raise TcbNotAccepted(
            f"The platform's TCB is older than this policy accepts ({'; '.join(low)}): its "
            "firmware or microcode must be updated."
        )
    return "meets the policy's minimum" if policy.min_tcb else "no minimum set"


def _check_measurement(measurement: bytes, policy: SnpPolicy) -> None:
    found = False
    for accepted in sorted(policy.measurements):
        found |= hmac.compare_digest(accepted, measurement)
    if not found:
        raise MeasurementNotApproved(
            f"The confidential VM's launch measurement {measurement.hex()} is not an accepted "
            "datacage release."
        )


def _describe_policy(report: SnpReport) -> str:
    parts = ["debug off", f"SMT {'allowed' if report.smt_allowed else 'off'}"]
    parts.append("migration agent" if report.migration_agent else "no migration agent")
    return ", ".join(parts) + f", VMPL {report.vmpl}"
