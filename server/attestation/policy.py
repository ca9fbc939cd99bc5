"""The hardware half of a trust policy: what a verifier accepts from SEV-SNP and TDX platforms.

One file (TOML, or JSON with the same structure) serves `datacage verify --policy`, the pod
provider's admission app and `datacage push --policy`. Next to the software settings
(server/attestation/admission.py) it may hold one table per platform::

    [sev-snp]
    measurements = ["7a1e5c26..."]          # accepted launch measurements (96 hex, SHA-384)
    min_tcb = {bootloader = 3, tee = 0, snp = 8, microcode = 115}
    allow_smt = true                         # SMT lets a sibling thread share the core
    allow_migration_agent = false            # a migration agent can export the guest's memory
    allow_vlek = true                        # reports signed by a cloud provider's VLEK
    products = ["milan", "genoa", "turin"]
    crl_files = ["milan-crl.der"]            # AMD KDS CRLs (offline collateral), relative
    require_crl = false

    [tdx]
    mrtds = ["6363b804..."]                  # accepted MRTDs (96 hex, SHA-384)
    rtmrs = [["<rtmr0>", "<rtmr1>", "<rtmr2>", "<rtmr3>"]]   # accepted sets; empty: any
    accepted_tcb_status = ["UpToDate"]
    tcb_info_file = "tcb-info.json"          # Intel PCS collateral, fetched beforehand
    qe_identity_file = "qe-identity.json"
    tcb_signing_chain_file = "tcb-signing-chain.pem"
    pck_crl_file = "pckcrl.der"
    root_ca_crl_file = "root-ca-crl.der"

Debug guests are always refused: their memory can be read by the host. Any unknown key or
wrong type is an error naming the key, and so is a platform table with nothing to accept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_HEX96 = re.compile(r"[0-9a-fA-F]{96}")
SNP_PRODUCTS = frozenset({"milan", "genoa", "turin"})
TCB_FIELDS = ("bootloader", "tee", "snp", "microcode", "fmc")
#: Intel's TCB statuses, best first (Intel PCS API v4, TCB info `tcbStatus`).
TDX_STATUSES = (
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
)


class HardwarePolicyError(ValueError):
    """The hardware part of a trust policy is wrong; the message names the setting."""


@dataclass(frozen=True)
class SnpPolicy:
    measurements: frozenset[bytes]
    min_tcb: Mapping[str, int] = field(default_factory=dict)
    allow_smt: bool = True
    allow_migration_agent: bool = False
    allow_vlek: bool = True
    products: frozenset[str] = SNP_PRODUCTS
    crls: tuple[bytes, ...] = ()
    require_crl: bool = False


@dataclass(frozen=True)
class TdxCollateral:
    """Intel's signed collateral for one platform family (FMSPC), as files fetched offline."""

    tcb_info: bytes
    qe_identity: bytes
    tcb_signing_chain: bytes
    pck_crl: bytes
    root_ca_crl: bytes | None = None


@dataclass(frozen=True)
class TdxPolicy:
    mrtds: frozenset[bytes]
    rtmrs: frozenset[tuple[bytes, bytes, bytes, bytes]] = frozenset()
    accepted_tcb_status: frozenset[str] = frozenset({"UpToDate"})
    collateral: TdxCollateral | None = None


@dataclass(frozen=True)
class HardwarePolicy:
    snp: SnpPolicy | None = None
    tdx: TdxPolicy | None = None
    #: The collateral files read (CRLs, TCB info...): a policy file re-read on change must
    #: also be re-read when one of these is replaced by a newer download.
    sources: tuple[Path, ...] = ()


_SNP_KEYS = {
    "measurements",
    "min_tcb",
    "allow_smt",
    "allow_migration_agent",
    "allow_vlek",
    "products",
    "crl_files",
    "require_crl",
}
_TDX_KEYS = {
    "mrtds",
    "rtmrs",
    "accepted_tcb_status",
    "tcb_info_file",
    "qe_identity_file",
    "tcb_signing_chain_file",
    "pck_crl_file",
    "root_ca_crl_file",
}
HARDWARE_KEYS = {"sev-snp", "tdx"}


def hardware_policy(data: Mapping[str, Any], base: Path) -> HardwarePolicy:
    """The `[sev-snp]` and `[tdx]` tables of a policy document; file names relative to `base`."""
    snp = data.get("sev-snp")
    tdx = data.get("tdx")
    snp_table = None if snp is None else _table(snp, "sev-snp", _SNP_KEYS)
    tdx_table = None if tdx is None else _table(tdx, "tdx", _TDX_KEYS)
    sources = [base / n for n in _strings(snp_table or {}, "crl_files", "sev-snp")]
    sources += [base / _string(v, k) for k, v in (tdx_table or {}).items() if k.endswith("_file")]
    return HardwarePolicy(
        snp=None if snp_table is None else _snp(snp_table, base),
        tdx=None if tdx_table is None else _tdx(tdx_table, base),
        sources=tuple(sources),
    )


def _snp(table: Mapping[str, Any], base: Path) -> SnpPolicy:
    min_tcb = table.get("min_tcb", {})
    if not isinstance(min_tcb, dict) or not all(
        k in TCB_FIELDS and type(v) is int and 0 <= v < 256 for k, v in min_tcb.items()
    ):
        raise HardwarePolicyError(
            f"[sev-snp] min_tcb must map some of {', '.join(TCB_FIELDS)} to numbers 0-255."
        )
    products = frozenset(_strings(table, "products", "sev-snp", sorted(SNP_PRODUCTS)))
    if not products <= SNP_PRODUCTS:
        raise HardwarePolicyError(
            f"[sev-snp] products must be among {', '.join(sorted(SNP_PRODUCTS))}."
        )
    return SnpPolicy(
        measurements=_digests(table, "measurements", "sev-snp"),
        min_tcb=dict(min_tcb),
        allow_smt=_flag(table, "allow_smt", "sev-snp", True),
        allow_migration_agent=_flag(table, "allow_migration_agent", "sev-snp", False),
        allow_vlek=_flag(table, "allow_vlek", "sev-snp", True),
        products=products,
        crls=tuple(_read(base, n, "sev-snp") for n in _strings(table, "crl_files", "sev-snp")),
        require_crl=_flag(table, "require_crl", "sev-snp", False),
    )


def _tdx(table: Mapping[str, Any], base: Path) -> TdxPolicy:
    rtmrs = table.get("rtmrs", [])
    if not isinstance(rtmrs, list) or not all(
        isinstance(s, list) and len(s) == 4 and all(_is_hex96(v) for v in s) for s in rtmrs
    ):
        raise HardwarePolicyError("[tdx] rtmrs must be a list of sets of four 96-hex values.")
    statuses = frozenset(_strings(table, "accepted_tcb_status", "tdx", ["UpToDate"]))
    if not statuses or not statuses <= set(TDX_STATUSES):
        raise HardwarePolicyError(
            f"[tdx] accepted_tcb_status must be among {', '.join(TDX_STATUSES)}."
        )
    files = [f for f in _TDX_KEYS if f.endswith("_file")]
    given = {f: table[f] for f in files if f in table}
    collateral = None
    if given:
        needed = {"tcb_info_file", "qe_identity_file", "tcb_signing_chain_file", "pck_crl_file"}
        if not needed <= given.keys():
            missing = ", ".join(sorted(needed - given.keys()))
            raise HardwarePolicyError(f"[tdx] collateral is incomplete: missing {missing}.")
        read = {f: _read(base, _string(v, f), "tdx") for f, v in given.items()}
        collateral = TdxCollateral(
            tcb_info=read["tcb_info_file"],
            qe_identity=read["qe_identity_file"],
            tcb_signing_chain=read["tcb_signing_chain_file"],
            pck_crl=read["pck_crl_file"],
            root_ca_crl=read.get("root_ca_crl_file"),
        )
    return TdxPolicy(
        mrtds=_digests(table, "mrtds", "tdx"),
        rtmrs=frozenset(tuple(bytes.fromhex(v) for v in s) for s in rtmrs),  # type: ignore[misc]
        accepted_tcb_status=statuses,
        collateral=collateral,
    )


def _table(value: object, name: str, keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise HardwarePolicyError(f"[{name}] must be a table.")
    unknown = set(value) - keys
    if unknown:
        raise HardwarePolicyError(f"[{name}]: unknown setting(s) {', '.join(sorted(unknown))}.")
    return value


def _digests(table: Mapping[str, Any], key: str, name: str) -> frozenset[bytes]:
    values = _strings(table, key, name, [])
    if not values or not all(_HEX96.fullmatch(v) for v in values):
        raise HardwarePolicyError(
            f"[{name}] {key} must list at least one accepted value of 96 hex digits (SHA-384)."
        )
    return frozenset(bytes.fromhex(v) for v in values)


def _is_hex96(value: object) -> bool:
    return isinstance(value, str) and _HEX96.fullmatch(value) is not None


def _strings(
    table: Mapping[str, Any], key: str, name: str, default: list[str] | None = None
) -> list[str]:
    value = table.get(key, default if default is not None else [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise HardwarePolicyError(f"[{name}] {key} must be a list of strings.")
    return value


def _string(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise HardwarePolicyError(f"[tdx] {key} must be a file name.")
    return value


def _flag(table: Mapping[str, Any], key: str, name: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise HardwarePolicyError(f"[{name}] {key} must be true or false.")
    return value


def _read(base: Path, name: str, table: str) -> bytes:
    try:
        return (base / name).read_bytes()
    except OSError as exc:
        raise HardwarePolicyError(f"[{table}] cannot read {name}: {exc.strerror}.") from None


def accepted_from_terms(values: tuple[str, ...] | list[str]) -> dict[str, frozenset[bytes]]:
    """A space's accepted measurements ("sev-snp:<hex>", "tdx:<hex>") by platform, as bytes:
    what a pod provider copies into its `[sev-snp] measurements` and `[tdx] mrtds`."""
    found: dict[str, set[bytes]] = {"sev-snp": set(), "tdx": set()}
    for value in values:
        platform, _, digest = value.partition(":")
        if platform not in found or not _HEX96.fullmatch(digest):
            raise HardwarePolicyError(f"{value[:60]!r} is not platform:<96 hex>.")
        found[platform].add(bytes.fromhex(digest))
    return {k: frozenset(v) for k, v in found.items()}
