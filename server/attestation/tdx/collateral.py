"""Intel's signed TDX collateral, checked offline: TCB info and the TD QE identity.

Both come from Intel's PCS (API v4, `/tdx/certification/v4/tcb?fmspc=...` and
`/tdx/certification/v4/qe/identity`) as `{"tcbInfo": {...}, "signature": "<hex r||s>"}`: an
ECDSA P-256 SHA-256 signature over the exact bytes of the inner object, by the "Intel SGX TCB
Signing" certificate, itself issued by the Intel SGX Root CA (the response's issuer-chain
header, kept as a PEM file). Checked: the signing chain to the root, the signature over the
bytes as received, `issueDate` <= now <= `nextUpdate`, and the ids and versions we read.

TCB status follows Intel's TDX algorithm (PCS API v4, "TCB Info" for TDX): the first TCB
level, in Intel's order, whose 16 SGX components and PCE SVN are met by the PCK certificate
and whose 16 TDX components are met by the TD report's TEE_TCB_SVN; for TDX 1.0 modules
(`tdxModuleIdentities` absent) all 16 bytes are compared; for TDX 1.5 the module's identity
and SVN are matched against `tdxModuleIdentities` (see `tdx_tcb_status`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ..certs import check_issued_by, check_valid_at, load_certificates
from ..errors import CollateralError, UntrustedChain

_SIGNATURE_TAIL = re.compile(rb',"signature":"([0-9a-fA-F]{128})"}\s*$')
TCB_SIGNING_CN = "Intel SGX TCB Signing"


@dataclass(frozen=True)
class SignedCollateral:
    body: dict[str, Any]
    issue_date: datetime
    next_update: datetime


def verify_signed_json(
    document: bytes, member: str, chain_pem: bytes, root: x509.Certificate, now: datetime
) -> SignedCollateral:
    """Check one signed collateral document; return its inner object."""
    what = "TCB info" if member == "tcbInfo" else "QE identity"
    signer = _signing_certificate(chain_pem, root, now, what)
    signed = signed_part(document, member, signer.public_key())
    try:
        body = json.loads(signed)
        issued = _date(body["issueDate"])
        update = _date(body["nextUpdate"])
    except (ValueError, KeyError, TypeError):
        raise CollateralError(f"The {what} lacks readable issueDate/nextUpdate.") from None
    if not issued <= now <= update:
        raise CollateralError(
            f"The {what} was issued {issued:%Y-%m-%d} and is current until {update:%Y-%m-%d}, "
            f"not at {now:%Y-%m-%d %H:%M} UTC: fetch current collateral from Intel."
        )
    return SignedCollateral(body, issued, update)


def signed_part(document: bytes, member: str, key: object) -> bytes:
    """The signed inner object's bytes, once its signature verifies with `key`."""
    what = "TCB info" if member == "tcbInfo" else "QE identity"
    prefix = b'{"' + member.encode() + b'":'
    tail = _SIGNATURE_TAIL.search(document)
    if not document.startswith(prefix) or tail is None:
        raise CollateralError(
            f"The {what} is not Intel's signed JSON ({{{member!r}: ..., 'signature': ...}})."
        )
    signed = document[len(prefix) : tail.start()]
    signature = bytes.fromhex(tail.group(1).decode())
    try:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("not an EC key")
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise CollateralError(
            f"The {what}'s signature does not verify with Intel's TCB signing key: it was "
            "changed after Intel signed it."
        ) from None
    return signed


def _signing_certificate(
    chain_pem: bytes, root: x509.Certificate, now: datetime, what: str
) -> x509.Certificate:
    certs = load_certificates(chain_pem, f"{what} signing chain")
    if not certs:
        raise CollateralError(f"The {what} signing chain is empty.")
    signer = certs[0]
    names = [a.value for a in signer.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    if names != [TCB_SIGNING_CN]:
        raise CollateralError(f"The {what} is not signed by an {TCB_SIGNING_CN!r} certificate.")
    try:
        check_issued_by(signer, root, f"{what} signing certificate")
        check_valid_at(signer, now, f"{what} signing certificate")
    except UntrustedChain as exc:
        raise CollateralError(str(exc)) from None
    return signer


def _date(text: object) -> datetime:
    if not isinstance(text, str):
        raise ValueError("not a date")
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def tdx_tcb_status(
    tcb_info: dict[str, Any],
    fmspc: bytes,
    pce_id: bytes,
    sgx_svns: list[int],
    pce_svn: int,
    tee_tcb_svn: bytes,
) -> tuple[str, str]:
    """(status, tcbDate) of the platform, per Intel's TDX TCB level matching.

    With `tdxModuleIdentities` (TDX 1.5 TCB info) and a module of major version > 0
    (TEE_TCB_SVN[1]), the first two TDX components are the module's own SVN and version, which
    `module_status` checks against the module's identity; the levels compare from index 2.
    Without them, all 16 are compared and the level's module version must equal the quote's.
    """
    if tcb_info.get("id") != "TDX" or tcb_info.get("version") != 3:
        raise CollateralError("The TCB info is not Intel's TDX TCB info (id TDX, version 3).")
    if str(tcb_info.get("fmspc", "")).lower() != fmspc.hex():
        raise CollateralError(
            f"The TCB info is for FMSPC {tcb_info.get('fmspc')}, but the PCK certificate is "
            f"for {fmspc.hex()}: fetch the TCB info of this platform."
        )
    if str(tcb_info.get("pceId", "")).lower() != pce_id.hex():
        raise CollateralError("The TCB info is for another PCE than the PCK certificate.")
    by_identity = bool(tcb_info.get("tdxModuleIdentities")) and tee_tcb_svn[1] > 0
    start = 2 if by_identity else 0
    try:
        for level in tcb_info["tcbLevels"]:
            tcb = level["tcb"]
            sgx = [c["svn"] for c in tcb["sgxtcbcomponents"]]
            tdx = [c["svn"] for c in tcb["tdxtcbcomponents"]]
            if len(sgx) != 16 or len(tdx) != 16:
                raise CollateralError("A TCB level does not have 16 SGX and 16 TDX components.")
            if (
                all(a >= b for a, b in zip(sgx_svns, sgx, strict=True))
                and pce_svn >= tcb["pcesvn"]
                and all(a >= b for a, b in zip(tee_tcb_svn[start:], tdx[start:], strict=True))
            ):
                if not by_identity and tdx[1] != tee_tcb_svn[1]:  # a level for another module
                    raise CollateralError(
                        "The TCB info does not cover this TDX module version "
                        f"({tee_tcb_svn[1]}, the level is for {tdx[1]})."
                    )
                return str(level["tcbStatus"]), str(level.get("tcbDate", "?"))
    except (KeyError, TypeError):
        raise CollateralError("The TCB info's levels are not in Intel's format.") from None
    return "Unsupported", "-"


def module_status(
    tcb_info: dict[str, Any], tee_tcb_svn: bytes, mrsignerseam: bytes, seam_attributes: bytes
) -> str:
    """The TDX module's identity (signer, attributes) and, for TDX 1.5, its own TCB status."""
    version = tee_tcb_svn[1]
    identities = tcb_info.get("tdxModuleIdentities")
    if identities and version > 0:
        wanted = f"TDX_{version:02X}"
        found = [i for i in identities if isinstance(i, dict) and i.get("id") == wanted]
        if not found:
            raise CollateralError(f"The TCB info has no identity for the TDX module {wanted}.")
        module = found[0]
    else:
        module = tcb_info.get("tdxModule")
    if not isinstance(module, dict):
        raise CollateralError("The TCB info has no tdxModule identity.")
    try:
        mask = bytes.fromhex(module["attributesMask"])
        masked = bytes(a & m for a, m in zip(seam_attributes, mask, strict=True))
        same = bytes.fromhex(module["mrsigner"]) == mrsignerseam and masked == bytes.fromhex(
            module["attributes"]
        )
        if not same:
            raise UntrustedChain("The TDX module (MRSIGNERSEAM, attributes) is not Intel's.")
        if not (identities and version > 0):
            return "UpToDate"  # TDX 1.0: the module's SVN is part of the platform's level
        for level in module["tcbLevels"]:
            if tee_tcb_svn[0] >= level["tcb"]["isvsvn"]:
                return str(level["tcbStatus"])
    except (KeyError, ValueError, TypeError):
        raise CollateralError("The TCB info's TDX module identity is not Intel's format.") from None
    return "Unsupported"


def qe_identity_status(identity: dict[str, Any], qe: Any) -> str:
    """Check the QE report against Intel's TD QE identity; return its TCB status."""
    if identity.get("id") != "TD_QE" or identity.get("version") != 2:
        raise CollateralError("The QE identity is not Intel's TD QE identity (version 2).")
    try:
        mask = int(identity["miscselectMask"], 16)
        attributes_mask = bytes.fromhex(identity["attributesMask"])
        same = (
            bytes.fromhex(identity["mrsigner"]) == qe.mr_signer
            and identity["isvprodid"] == qe.isv_prod_id
            and (qe.misc_select & mask) == int(identity["miscselect"], 16)
            and bytes(a & m for a, m in zip(qe.attributes, attributes_mask, strict=True))
            == bytes.fromhex(identity["attributes"])
        )
        if not same:
            raise CollateralError(
                "The quoting enclave is not the one Intel publishes for TDX (MRSIGNER, product, "
                "MISCSELECT or ATTRIBUTES differ)."
            )
        for level in identity["tcbLevels"]:
            if qe.isv_svn >= level["tcb"]["isvsvn"]:
                return str(level["tcbStatus"])
    except (KeyError, TypeError, ValueError):
        raise CollateralError("The QE identity is not in Intel's format.") from None
    return "Unsupported"
