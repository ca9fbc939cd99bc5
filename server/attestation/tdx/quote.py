"""The Intel TDX quote, versions 4 and 5, parsed strictly.

Spec: Intel "TDX DCAP Quote Generation Library and Quote Verification Library" (rev. 0.9),
appendix A.3 "Quote Format": a 48-byte header; version 4: the 584-byte TD report body
(TDX 1.0); version 5: a body descriptor (type 2: TDX 1.0, 584 bytes; type 3: TDX 1.5,
648 bytes); then the signature data: the attestation key's ECDSA P-256 signature (r||s,
big-endian) over header and body, the attestation key (x||y), and certification data of
type 6 holding the QE report, its PCK signature, the QE authentication data and a nested
type-5 PCK certificate chain (PEM). Trailing bytes, unknown types and lengths that do not add
up are refused; bytes after the signature data are ignored (see below).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import MalformedEvidence

HEADER_SIZE = 48
TD10_BODY, TD15_BODY = 584, 648
QE_REPORT_SIZE = 384
ATT_KEY_ECDSA_P256 = 2
TEE_TYPE_TDX = 0x81
CERT_QE_REPORT, CERT_PCK_CHAIN = 6, 5
#: TD attribute bit 0 (TUD.DEBUG): the host can read and change the TD's memory.
TD_ATTRIBUTE_DEBUG = 1
MAX_QUOTE_BYTES = 16 * 1024


@dataclass(frozen=True)
class TdReport:
    tee_tcb_svn: bytes
    mrseam: bytes
    mrsignerseam: bytes
    seam_attributes: bytes
    td_attributes: int
    xfam: bytes
    mrtd: bytes
    mrconfigid: bytes
    mrowner: bytes
    mrownerconfig: bytes
    rtmrs: tuple[bytes, bytes, bytes, bytes]
    report_data: bytes


@dataclass(frozen=True)
class QeReport:
    """An SGX report body (SGX developer reference, "sgx_report_body_t")."""

    raw: bytes = field(repr=False)
    cpu_svn: bytes
    misc_select: int
    attributes: bytes
    mr_enclave: bytes
    mr_signer: bytes
    isv_prod_id: int
    isv_svn: int
    report_data: bytes


@dataclass(frozen=True)
class TdxQuote:
    raw: bytes = field(repr=False)
    version: int
    body: TdReport
    signed_bytes: bytes = field(repr=False)
    signature: bytes
    attestation_key: bytes
    qe_report: QeReport
    qe_report_signature: bytes
    qe_auth_data: bytes
    pck_chain_pem: bytes = field(repr=False)


class _Reader:
    def __init__(self, data: bytes, start: int = 0):
        self.data, self.at = data, start

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.at + size > len(self.data):
            raise MalformedEvidence(f"The TDX quote ends inside its {what}.")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def u16(self, what: str) -> int:
        return struct.unpack("<H", self.take(2, what))[0]

    def u32(self, what: str) -> int:
        return struct.unpack("<I", self.take(4, what))[0]


def parse_quote(data: bytes) -> TdxQuote:
    """Parse a TDX quote; raise `MalformedEvidence` saying what is wrong."""
    data = bytes(data)
    if len(data) > MAX_QUOTE_BYTES:
        raise MalformedEvidence(f"The TDX quote is over {MAX_QUOTE_BYTES:,} bytes.")
    reader = _Reader(data)
    header = reader.take(HEADER_SIZE, "header")
    version, key_type, tee_type = struct.unpack_from("<HHI", header)
    if version not in (4, 5):
        raise MalformedEvidence(f"The TDX quote has version {version}; this verifier reads 4, 5.")
    if tee_type != TEE_TYPE_TDX:
        raise MalformedEvidence(f"The quote is for TEE type {tee_type:#x}, not TDX (0x81).")
    if key_type != ATT_KEY_ECDSA_P256:
        raise MalformedEvidence(f"The TDX quote's attestation key type {key_type} is not P-256.")
    body_size = TD10_BODY
    if version == 5:
        body_type, body_size = reader.u16("body type"), reader.u32("body size")
        if (body_type, body_size) not in ((2, TD10_BODY), (3, TD15_BODY)):
            raise MalformedEvidence(f"The TDX quote's body type {body_type} is not TDX 1.0 or 1.5.")
    body = _td_report(reader.take(body_size, "TD report"))
    signed = data[: reader.at]
    sig_len = reader.u32("signature data length")
    sig_data = _Reader(reader.take(sig_len, "signature data"))
    # Bytes after the declared signature data are ignored, as Intel's QVL does: quote buffers
    # come padded from the quote generation service, and nothing there is signed or read.
    signature = sig_data.take(64, "signature")
    att_key = sig_data.take(64, "attestation key")
    cert_type, cert_size = sig_data.u16("certification type"), sig_data.u32("certification size")
    if cert_type != CERT_QE_REPORT:
        raise MalformedEvidence(f"The TDX quote's certification data has type {cert_type}, not 6.")
    cert = _Reader(sig_data.take(cert_size, "certification data"))
    if sig_data.at != sig_len:
        raise MalformedEvidence("The TDX quote's signature data has trailing bytes.")
    qe_raw = cert.take(QE_REPORT_SIZE, "QE report")
    qe_signature = cert.take(64, "QE report signature")
    qe_auth = cert.take(cert.u16("QE auth data size"), "QE auth data")
    inner_type, inner_size = cert.u16("PCK chain type"), cert.u32("PCK chain size")
    if inner_type != CERT_PCK_CHAIN:
        raise MalformedEvidence(f"The TDX quote's PCK data has type {inner_type}, not 5 (PEM).")
    chain = cert.take(inner_size, "PCK certificate chain")
    if cert.at != cert_size:
        raise MalformedEvidence("The TDX quote's certification data has trailing bytes.")
    return TdxQuote(
        raw=data,
        version=version,
        body=body,
        signed_bytes=signed,
        signature=signature,
        attestation_key=att_key,
        qe_report=_qe_report(qe_raw),
        qe_report_signature=qe_signature,
        qe_auth_data=qe_auth,
        pck_chain_pem=chain.rstrip(b"\0"),
    )


def _td_report(raw: bytes) -> TdReport:
    r = _Reader(raw)
    fields = {
        "tee_tcb_svn": r.take(16, "TD report"),
        "mrseam": r.take(48, "TD report"),
        "mrsignerseam": r.take(48, "TD report"),
        "seam_attributes": r.take(8, "TD report"),
        "td_attributes": int.from_bytes(r.take(8, "TD report"), "little"),
        "xfam": r.take(8, "TD report"),
        "mrtd": r.take(48, "TD report"),
        "mrconfigid": r.take(48, "TD report"),
        "mrowner": r.take(48, "TD report"),
        "mrownerconfig": r.take(48, "TD report"),
        "rtmrs": tuple(r.take(48, "TD report") for _ in range(4)),
        "report_data": r.take(64, "TD report"),
    }
    return TdReport(**fields)  # type: ignore[arg-type]


def _qe_report(raw: bytes) -> QeReport:
    return QeReport(
        raw=raw,
        cpu_svn=raw[0:16],
        misc_select=struct.unpack_from("<I", raw, 16)[0],
        attributes=raw[48:64],
        mr_enclave=raw[64:96],
        mr_signer=raw[128:160],
        isv_prod_id=struct.unpack_from("<H", raw, 256)[0],
        isv_svn=struct.unpack_from("<H", raw, 258)[0],
        report_data=raw[320:384],
    )
