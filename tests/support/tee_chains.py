"""TEST-ONLY vendor chains: AMD-shaped and Intel-shaped CAs whose private keys the tests hold.

The real vectors (tests/fixtures/attestation/) prove the verifiers on genuine hardware
evidence, but nobody outside AMD and Intel can make a *debug* report, a *revoked* PCK or signed
collateral for them. These builders make evidence with the same layouts, signed by test keys,
so every refusal can be shown with its own reason. Nothing here is trusted by default: the
verifiers take these roots only when a test passes them in.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from server.attestation.snp.verify import ProductRoots, SnpRoots

NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2045, 1, 1, tzinfo=UTC)
AMD_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)


def _name(cn: str | x509.Name) -> x509.Name:
    if isinstance(cn, x509.Name):
        return cn
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject, issuer, public_key, signing_key, *, ca, serial, extensions=(), pss=False, padding_=None
):
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    for oid, value in extensions:
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
    if pss:
        return builder.sign(signing_key, hashes.SHA384(), rsa_padding=padding_ or AMD_PSS)
    algorithm = hashes.SHA384() if isinstance(signing_key, rsa.RSAPrivateKey) else hashes.SHA256()
    return builder.sign(signing_key, algorithm)


def make_crl(issuer: x509.Certificate, key, serials, *, last: datetime, next_: datetime, pss=False):
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(last)
        .next_update(next_)
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(last).build()
        )
    if pss:
        crl = builder.sign(key, hashes.SHA384(), rsa_padding=AMD_PSS)
    else:
        crl = builder.sign(key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


# --- AMD SEV-SNP --------------------------------------------------------------------------------

# The real Milan ASK's name: a test VCEK naming it must still be refused (its key differs).
_AMD_MILAN_ASK = x509.Name.from_rfc4514_string(
    "CN=SEV-Milan,O=Advanced Micro Devices,ST=CA,L=Santa Clara,C=US,OU=Engineering"
)


def _der_int(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return bytes([0x02, len(body)]) + body


@dataclass
class SnpChain:
    roots: SnpRoots
    ark_key: rsa.RSAPrivateKey
    ask_key: rsa.RSAPrivateKey
    vcek_key: ec.EllipticCurvePrivateKey
    vcek_der: bytes
    chip_id: bytes
    tcb: dict
    vlek_key: ec.EllipticCurvePrivateKey | None = None
    vlek_der: bytes = b""


@functools.cache
def shared_snp_chain() -> SnpChain:
    """One chain per test session: RSA key generation is slow on a busy machine."""
    return snp_chain()


@functools.cache
def shared_tdx_chain() -> TdxChain:
    return tdx_chain()


def snp_chain(tcb: dict | None = None, chip_id: bytes = b"\x42" * 64) -> SnpChain:
    tcb = tcb or {"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}
    ark_key = rsa.generate_private_key(65537, 2048)
    ask_key = rsa.generate_private_key(65537, 2048)
    vcek_key = ec.generate_private_key(ec.SECP384R1())
    ark = _cert(
        "ARK-Milan", "ARK-Milan", ark_key.public_key(), ark_key, ca=True, serial=1, pss=True
    )
    ask = _cert(
        _AMD_MILAN_ASK, "ARK-Milan", ask_key.public_key(), ark_key, ca=True, serial=2, pss=True
    )
    asvk = _cert(
        "SEV-VLEK-Milan", "ARK-Milan", ask_key.public_key(), ark_key, ca=True, serial=3, pss=True
    )
    amd = "1.3.6.1.4.1.3704.1."
    oids = {"bootloader": "3.1", "tee": "3.2", "snp": "3.3", "microcode": "3.8"}
    extensions = [(x509.ObjectIdentifier(amd + oids[k]), _der_int(v)) for k, v in tcb.items()]
    extensions.append((x509.ObjectIdentifier(amd + "4"), chip_id))
    vcek = _cert(
        "SEV-VCEK", _AMD_MILAN_ASK, vcek_key.public_key(), ask_key,
        ca=False, serial=4, extensions=extensions, pss=True,
    )  # fmt: skip
    vlek_key = ec.generate_private_key(ec.SECP384R1())
    vlek = _cert(
        "SEV-VLEK", "SEV-VLEK-Milan", vlek_key.public_key(), ask_key,
        ca=False, serial=5, extensions=extensions[:-1], pss=True,
    )  # fmt: skip
    return SnpChain(
        vlek_key=vlek_key,
        vlek_der=vlek.public_bytes(serialization.Encoding.DER),
        roots=SnpRoots({"milan": ProductRoots(ark, ask, asvk)}),
        ark_key=ark_key,
        ask_key=ask_key,
        vcek_key=vcek_key,
        vcek_der=vcek.public_bytes(serialization.Encoding.DER),
        chip_id=chip_id,
        tcb=tcb,
    )


def vcek_with_padding(chain: SnpChain, pss: padding.PSS) -> bytes:
    """The chain's VCEK again, but signed by its ASK with other RSA-PSS parameters."""
    vcek = x509.load_der_x509_certificate(chain.vcek_der)
    extensions = [
        (e.oid, e.value.value)
        for e in vcek.extensions
        if e.oid.dotted_string.startswith("1.3.6.1.4.1.3704")
    ]
    again = _cert(
        "SEV-VCEK", _AMD_MILAN_ASK, vcek.public_key(), chain.ask_key,
        ca=False, serial=4, extensions=extensions, pss=True, padding_=pss,
    )  # fmt: skip
    return again.public_bytes(serialization.Encoding.DER)


def snp_report(
    chain: SnpChain,
    *,
    measurement: bytes,
    report_data: bytes,
    policy: int = 0x30000,
    tcb: dict | None = None,
    version: int = 2,
    vlek: bool = False,
) -> bytes:
    """An ATTESTATION_REPORT laid out as the SNP ABI spec says, signed by the test VCEK
    (or, with `vlek`, by the test VLEK, as a cloud provider's report is)."""
    t = tcb or chain.tcb
    tcb_raw = bytes([t["bootloader"], t["tee"], 0, 0, 0, 0, t["snp"], t["microcode"]])
    report = bytearray(0x4A0)
    struct.pack_into("<IIQ", report, 0, version, 0, policy)
    struct.pack_into("<III", report, 0x30, 0, 1, 0)
    struct.pack_into("<I", report, 0x48, (1 << 2) if vlek else 0)  # signing key: VLEK or VCEK
    report[0x38:0x40] = tcb_raw
    report[0x50:0x90] = report_data
    report[0x90:0xC0] = measurement
    report[0x180:0x188] = tcb_raw
    report[0x1A0:0x1E0] = chain.chip_id
    report[0x1E0:0x1E8] = tcb_raw
    report[0x1F0:0x1F8] = tcb_raw
    signer = chain.vlek_key if vlek else chain.vcek_key
    signature = signer.sign(bytes(report[:0x2A0]), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(signature)
    report[0x2A0 : 0x2A0 + 72] = r.to_bytes(72, "little")
    report[0x2A0 + 72 : 0x2A0 + 144] = s.to_bytes(72, "little")
    return bytes(report)


# --- Intel TDX ----------------------------------------------------------------------------------

_SGX = "1.2.840.113741.1.13.1"
# The real root's name: collateral signed under a test root of that name must still be refused.
_INTEL_ROOT = x509.Name.from_rfc4514_string(
    "C=US,ST=CA,L=Santa Clara,O=Intel Corporation,CN=Intel SGX Root CA"
)


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + content


def _der_oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body += bytes(reversed(chunk))
    return _der(0x06, bytes(body))


def _pair(oid: str, value: bytes) -> bytes:
    return _der(0x30, _der_oid(oid) + value)


def sgx_extension(fmspc: bytes, svns: list[int], pce_svn: int, pce_id: bytes = b"\0\0") -> bytes:
    tcb = b"".join(_pair(f"{_SGX}.2.{i + 1}", _der_int(v)) for i, v in enumerate(svns))
    tcb += _pair(f"{_SGX}.2.17", _der_int(pce_svn)) + _pair(f"{_SGX}.2.18", _der(0x04, bytes(16)))
    members = (
        _pair(f"{_SGX}.1", _der(0x04, bytes(16)))
        + _pair(f"{_SGX}.2", _der(0x30, tcb))
        + _pair(f"{_SGX}.3", _der(0x04, pce_id))
        + _pair(f"{_SGX}.4", _der(0x04, fmspc))
    )
    return _der(0x30, members)


@dataclass
class TdxChain:
    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    ca: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    pck: x509.Certificate
    pck_key: ec.EllipticCurvePrivateKey
    tcb_signer_pem: bytes
    tcb_signer_key: ec.EllipticCurvePrivateKey

    def chain_pem(self) -> bytes:
        return b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (self.pck, self.ca, self.root)
        )


def tdx_chain(svns: list[int] | None = None, pce_svn: int = 11) -> TdxChain:
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(4)]
    root_key, ca_key, pck_key, signer_key = keys
    root = _cert(_INTEL_ROOT, _INTEL_ROOT, root_key.public_key(), root_key, ca=True, serial=1)
    ca = _cert(
        "Intel SGX PCK Platform CA", _INTEL_ROOT, ca_key.public_key(), root_key, ca=True, serial=2
    )
    extension = sgx_extension(
        bytes.fromhex("50806f000000"), svns or [3, 3, 2, 2, 2, 1, 0, 2] + [0] * 8, pce_svn
    )
    pck = _cert(
        "Intel SGX PCK Certificate", "Intel SGX PCK Platform CA", pck_key.public_key(), ca_key,
        ca=False, serial=0x1234, extensions=[(x509.ObjectIdentifier(_SGX), extension)],
    )  # fmt: skip
    signer = _cert(
        "Intel SGX TCB Signing", _INTEL_ROOT, signer_key.public_key(), root_key, ca=False, serial=3
    )
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (signer, root))
    return TdxChain(root, root_key, ca, ca_key, pck, pck_key, pem, signer_key)


def _raw_p256(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def tdx_quote(
    chain: TdxChain,
    *,
    mrtd: bytes,
    report_data: bytes,
    td_attributes: int = 0x10000000,
    tee_tcb_svn: bytes = bytes([3, 0, 5]) + bytes(13),
    rtmrs: tuple[bytes, ...] = (bytes(48),) * 4,
    qe_isv_svn: int = 4,
) -> bytes:
    """A version-4 TDX quote laid out as Intel's DCAP spec says, signed by test keys."""
    header = struct.pack("<HHIHH", 4, 2, 0x81, 0, 0) + bytes(16) + bytes(20)
    body = (
        tee_tcb_svn + bytes(48) + bytes(48) + bytes(8) + td_attributes.to_bytes(8, "little")
        + bytes(8) + mrtd + bytes(48 * 3) + b"".join(rtmrs) + report_data
    )  # fmt: skip
    att_key = ec.generate_private_key(ec.SECP256R1())
    point = att_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )[1:]
    qe_auth = b"test qe auth data"
    qe = bytearray(384)
    qe[48:64] = bytes.fromhex("11000000000000000000000000000000")
    qe[128:160] = bytes.fromhex("DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5")
    struct.pack_into("<HH", qe, 256, 2, qe_isv_svn)
    qe[320:352] = hashlib.sha256(point + qe_auth).digest()
    pem = chain.chain_pem()
    inner = struct.pack("<HI", 5, len(pem)) + pem
    cert_data = bytes(qe) + _raw_p256(chain.pck_key, bytes(qe)) + struct.pack("<H", len(qe_auth))
    cert_data += qe_auth + inner
    signature = _raw_p256(att_key, header + body)
    sig_data = signature + point + struct.pack("<HI", 6, len(cert_data)) + cert_data
    return header + body + struct.pack("<I", len(sig_data)) + sig_data


def sign_collateral(chain: TdxChain, member: str, body: dict) -> bytes:
    """Intel's signed-JSON shape, signed by the test TCB signing key."""
    inner = json.dumps(body, separators=(",", ":")).encode()
    signature = _raw_p256(chain.tcb_signer_key, inner)
    return (
        b'{"'
        + member.encode()
        + b'":'
        + inner
        + b',"signature":"'
        + signature.hex().encode()
        + b'"}'
    )


def tcb_info(levels: list[tuple[list[int], int, list[int], str]], *, now: datetime) -> dict:
    return {
        "id": "TDX",
        "version": 3,
        "issueDate": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nextUpdate": (now + timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fmspc": "50806f000000",
        "pceId": "0000",
        "tcbType": 0,
        "tcbEvaluationDataNumber": 99,
        "tdxModule": {"mrsigner": "00" * 48, "attributes": "00" * 8, "attributesMask": "FF" * 8},
        "tcbLevels": [
            {
                "tcb": {
                    "sgxtcbcomponents": [{"svn": v} for v in sgx],
                    "pcesvn": pce,
                    "tdxtcbcomponents": [{"svn": v} for v in tdx],
                },
                "tcbDate": "2023-02-15T00:00:00Z",
                "tcbStatus": status,
            }
            for sgx, pce, tdx, status in levels
        ],
    }


def qe_identity(*, now: datetime, isvsvn: int = 4) -> dict:
    return {
        "id": "TD_QE",
        "version": 2,
        "issueDate": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nextUpdate": (now + timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tcbEvaluationDataNumber": 99,
        "miscselect": "00000000",
        "miscselectMask": "FFFFFFFF",
        "attributes": "11000000000000000000000000000000",
        "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
        "mrsigner": "DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5",
        "isvprodid": 2,
        "tcbLevels": [
            {"tcb": {"isvsvn": isvsvn}, "tcbDate": "2023-02-15T00:00:00Z", "tcbStatus": "UpToDate"}
        ],
    }
