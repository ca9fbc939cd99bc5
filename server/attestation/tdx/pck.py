"""The Intel SGX extensions of a PCK certificate: FMSPC, PCE-ID and the platform's TCB.

Spec: Intel "SGX PCK Certificate and Certificate Revocation List Profile Specification",
section 3.5: extension 1.2.840.113741.1.13.1 is a DER SEQUENCE of (OID, value) pairs; its TCB
member (.2) holds 16 component SVNs (.2.1 to .2.16), the PCE SVN (.2.17) and the CPU SVN.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from ..errors import UntrustedChain

_SGX = "1.2.840.113741.1.13.1"


@dataclass(frozen=True)
class PckInfo:
    fmspc: bytes
    pce_id: bytes
    sgx_svns: list[int]
    pce_svn: int


def pck_info(cert: x509.Certificate) -> PckInfo:
    try:
        raw = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(_SGX)).value
        tag, content, _ = _tlv(raw.value, 0)  # type: ignore[attr-defined]
        if tag != 0x30:
            raise ValueError("not a SEQUENCE")
        members = dict(_pairs(content))
        tcb_tag, tcb_content = members[_SGX + ".2"]
        if tcb_tag != 0x30:
            raise ValueError("not a SEQUENCE")
        tcb = dict(_pairs(tcb_content))
        svns = [_integer(tcb[f"{_SGX}.2.{i}"]) for i in range(1, 17)]
        return PckInfo(
            fmspc=_octets(members[_SGX + ".4"]),
            pce_id=_octets(members[_SGX + ".3"]),
            sgx_svns=svns,
            pce_svn=_integer(tcb[_SGX + ".2.17"]),
        )
    except (x509.ExtensionNotFound, KeyError, ValueError, IndexError, AttributeError):
        raise UntrustedChain(
            "The PCK certificate lacks readable Intel SGX extensions (FMSPC, PCE-ID, TCB)."
        ) from None


def _tlv(data: bytes, at: int) -> tuple[int, bytes, int]:
    tag, first = data[at], data[at + 1]
    at += 2
    if first & 0x80:
        size = first & 0x7F
        length = int.from_bytes(data[at : at + size], "big")
        at += size
    else:
        length = first
    if at + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[at : at + length], at + length


def _items(data: bytes) -> list[tuple[int, bytes]]:
    items, at = [], 0
    while at < len(data):
        tag, value, at = _tlv(data, at)
        items.append((tag, value))
    return items


def _pairs(content: bytes) -> list[tuple[str, tuple[int, bytes]]]:
    """The (OID, value) pairs inside a SEQUENCE's content."""
    pairs = []
    for item_tag, item in _items(content):
        if item_tag != 0x30:
            raise ValueError("not a SEQUENCE")
        (oid_tag, oid), value = _items(item)[:2]
        if oid_tag != 0x06:
            raise ValueError("not an OID")
        pairs.append((_oid(oid), value))
    return pairs


def _oid(data: bytes) -> str:
    parts, value = [], 0
    for byte in data:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    first = min(parts[0] // 40, 2)
    return ".".join(map(str, [first, parts[0] - 40 * first, *parts[1:]]))


def _integer(item: tuple[int, bytes]) -> int:
    if item[0] != 0x02:
        raise ValueError("not an INTEGER")
    return int.from_bytes(item[1], "big")


def _octets(item: tuple[int, bytes]) -> bytes:
    if item[0] != 0x04:
        raise ValueError("not an OCTET STRING")
    return item[1]
