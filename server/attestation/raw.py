"""Raw hardware evidence (an SEV-SNP report, a TDX quote) as `datacage verify` meets it in a file.

A raw report carries no `datacage-evidence-v1` claim, so what it must bind is given by the
verifier: the 64 bytes of REPORT_DATA it expects (the enclave key's hash and a nonce it chose,
or what the datacage published). `describe` says in words what a verifier accepted.
"""

from __future__ import annotations

import struct
from datetime import datetime

from .errors import MalformedEvidence, UntrustedProvider
from .snp import SnpVerified, verify_report
from .snp.report import REPORT_SIZE
from .tdx import TdxVerified, verify_quote
from .tdx.quote import TEE_TYPE_TDX
from .trust import TrustPolicy


def detect_raw(data: bytes) -> str | None:
    """ "sev-snp", "tdx", or None when `data` is neither a raw report nor a raw quote."""
    if len(data) >= 48:
        version, _key_type, tee_type = struct.unpack_from("<HHI", data)
        if version in (4, 5) and tee_type == TEE_TYPE_TDX:
            return "tdx"
    stripped = data.strip()
    # A binary report starts with its version as a little-endian u32: NUL bytes no text has.
    if (len(data) == REPORT_SIZE and data[1:4] == b"\0\0\0") or (
        len(stripped) == 2 * REPORT_SIZE and all(c in b"0123456789abcdefABCDEF" for c in stripped)
    ):
        return "sev-snp"
    return None


def verify_raw(
    data: bytes,
    kind: str,
    *,
    policy: TrustPolicy,
    report_data: bytes,
    now: datetime,
    endorsement_key: bytes | None = None,
) -> SnpVerified | TdxVerified:
    if len(report_data) != 64:
        raise MalformedEvidence("The expected REPORT_DATA must be 64 bytes (128 hex digits).")
    if kind == "sev-snp":
        if policy.hardware.snp is None:
            raise UntrustedProvider("The policy has no [sev-snp] section for this SEV-SNP report.")
        if endorsement_key is None:
            raise MalformedEvidence(
                "An SEV-SNP report needs the VCEK (or VLEK) certificate that signed it (--vcek)."
            )
        return verify_report(
            data,
            endorsement_key,
            policy=policy.hardware.snp,
            report_data=report_data,
            now=now,
        )
    if policy.hardware.tdx is None:
        raise UntrustedProvider("The policy has no [tdx] section for this TDX quote.")
    return verify_quote(data, policy=policy.hardware.tdx, report_data=report_data, now=now)


def describe(platform: object) -> list[str]:
    """What was verified, one indented line per fact."""
    if isinstance(platform, SnpVerified):
        return [
            f"  platform:      AMD SEV-SNP ({platform.product.title()}, report version "
            f"{platform.report.version}, signed by its {platform.signing_key})",
            f"  measurement:   {platform.measurement}",
            f"  TCB:           {platform.reported_tcb} ({platform.tcb_status})",
            f"  guest policy:  {platform.guest_policy}",
            f"  report data:   {platform.report_data}",
        ]
    if isinstance(platform, TdxVerified):
        return [
            f"  platform:      Intel TDX (quote version {platform.version}, "
            f"FMSPC {platform.fmspc})",
            f"  MRTD:          {platform.mrtd}",
            *(f"  RTMR{i}:         {value}" for i, value in enumerate(platform.rtmrs)),
            f"  TCB status:    {platform.tcb_status} (TCB date {platform.tcb_date}; quoting "
            f"enclave {platform.qe_tcb_status})",
            f"  report data:   {platform.report_data}",
        ]
    return []
