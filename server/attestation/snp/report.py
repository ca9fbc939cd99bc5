"""The SEV-SNP ATTESTATION_REPORT, parsed strictly (SNP ABI spec, table 23).

A report is 0x4A0 bytes: the signed part 0x000-0x29F, then the signature (ECDSA P-384 with
SHA-384: R and S as 72-byte little-endian fields, then reserved zeros). Versions 2 and later
share this layout; version 3 adds the CPUID family/model/stepping at 0x188, version 5 the
mitigation vectors at 0x1F8. Older or unknown versions are refused by name.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import MalformedEvidence

REPORT_SIZE = 0x4A0
SIGNED_END = 0x2A0
MIN_VERSION, MAX_VERSION = 2, 5
SIG_ALGO_ECDSA_P384_SHA384 = 1
# Guest policy bits (SNP ABI spec, table 9 "Guest Policy Structure").
POLICY_SMT = 1 << 16
POLICY_RESERVED_ONE = 1 << 17
POLICY_MIGRATE_MA = 1 << 18
POLICY_DEBUG = 1 << 19
POLICY_SINGLE_SOCKET = 1 << 20
# Report flags at 0x48: which key signed the report.
SIGNING_KEY_VCEK, SIGNING_KEY_VLEK, SIGNING_KEY_NONE = 0, 1, 7
#: CPUID family of Turin (Zen 5); Milan and Genoa are family 0x19.
TURIN_FAMILY = 0x1A


@dataclass(frozen=True)
class TcbVersion:
    """A TCB_VERSION: the security patch levels of each firmware part (table 3)."""

    bootloader: int
    tee: int
    snp: int
    microcode: int
    fmc: int = 0  # Turin only: the firmware mask ROM patch level

    @classmethod
    def from_u64(cls, value: int, turin: bool = False) -> TcbVersion:
        b = value.to_bytes(8, "little")
        if turin:  # Turin moved the fields: fmc, bootloader, tee, snp, reserved x3, microcode
            return cls(bootloader=b[1], tee=b[2], snp=b[3], microcode=b[7], fmc=b[0])
        return cls(bootloader=b[0], tee=b[1], snp=b[6], microcode=b[7])

    def as_dict(self) -> dict[str, int]:
        return {
            "bootloader": self.bootloader,
            "tee": self.tee,
            "snp": self.snp,
            "microcode": self.microcode,
            "fmc": self.fmc,
        }

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self.as_dict().items() if k != "fmc" or v]
        return ", ".join(parts)


@dataclass(frozen=True)
class SnpReport:
    raw: bytes = field(repr=False)
    version: int
    guest_svn: int
    policy: int
    family_id: bytes
    image_id: bytes
    vmpl: int
    signature_algo: int
    current_tcb_raw: int
    platform_info: int
    signing_key: int
    mask_chip_id: bool
    report_data: bytes
    measurement: bytes
    host_data: bytes
    id_key_digest: bytes
    author_key_digest: bytes
    report_id: bytes
    reported_tcb_raw: int
    cpuid_family: int | None
    chip_id: bytes
    committed_tcb_raw: int
    launch_tcb_raw: int
    signature_r: int
    signature_s: int

    @property
    def signed_bytes(self) -> bytes:
        return self.raw[:SIGNED_END]

    @property
    def debug(self) -> bool:
        return bool(self.policy & POLICY_DEBUG)

    @property
    def smt_allowed(self) -> bool:
        return bool(self.policy & POLICY_SMT)

    @property
    def migration_agent(self) -> bool:
        return bool(self.policy & POLICY_MIGRATE_MA)

    def reported_tcb(self, turin: bool = False) -> TcbVersion:
        return TcbVersion.from_u64(self.reported_tcb_raw, turin)


def parse_report(data: bytes) -> SnpReport:
    """Parse a raw report (bytes, or its hex); raise `MalformedEvidence` saying what is wrong."""
    stripped = bytes(data).strip()
    if len(stripped) == 2 * REPORT_SIZE:  # hex, as snpguest and the test vectors keep it
        try:
            data = bytes.fromhex(stripped.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise MalformedEvidence("The SEV-SNP report is neither raw bytes nor hex.") from None
    if len(data) != REPORT_SIZE:
        raise MalformedEvidence(
            f"An SEV-SNP attestation report is {REPORT_SIZE} bytes; this one is {len(data)}."
        )
    version, guest_svn, policy = struct.unpack_from("<IIQ", data, 0)
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise MalformedEvidence(
            f"The SEV-SNP report has version {version}; this verifier reads versions "
            f"{MIN_VERSION} to {MAX_VERSION} (older firmware must be updated)."
        )
    vmpl, sig_algo, current_tcb, platform_info, flags = struct.unpack_from("<IIQQI", data, 0x30)
    if sig_algo != SIG_ALGO_ECDSA_P384_SHA384:
        raise MalformedEvidence(
            f"The SEV-SNP report's signature algorithm is {sig_algo}, not ECDSA P-384 (1)."
        )
    if any(data[SIGNED_END + 144 :]):
        raise MalformedEvidence("The SEV-SNP report's reserved signature bytes are not zero.")
    reported_tcb, committed_tcb, launch_tcb = (
        struct.unpack_from("<Q", data, offset)[0] for offset in (0x180, 0x1E0, 0x1F0)
    )
    return SnpReport(
        raw=bytes(data),
        version=version,
        guest_svn=guest_svn,
        policy=policy,
        family_id=data[0x10:0x20],
        image_id=data[0x20:0x30],
        vmpl=vmpl,
        signature_algo=sig_algo,
        current_tcb_raw=current_tcb,
        platform_info=platform_info,
        signing_key=(flags >> 2) & 0b111,
        mask_chip_id=bool(flags & 0b10),
        report_data=data[0x50:0x90],
        measurement=data[0x90:0xC0],
        host_data=data[0xC0:0xE0],
        id_key_digest=data[0xE0:0x110],
        author_key_digest=data[0x110:0x140],
        report_id=data[0x140:0x160],
        reported_tcb_raw=reported_tcb,
        cpuid_family=data[0x188] if version >= 3 else None,
        chip_id=data[0x1A0:0x1E0],
        committed_tcb_raw=committed_tcb,
        launch_tcb_raw=launch_tcb,
        signature_r=int.from_bytes(data[SIGNED_END : SIGNED_END + 72], "little"),
        signature_s=int.from_bytes(data[SIGNED_END + 72 : SIGNED_END + 144], "little"),
    )
