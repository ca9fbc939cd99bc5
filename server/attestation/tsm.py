"""The hardware attester: evidence from Linux's configfs-tsm report interface.

Linux (6.7 and later) exposes SEV-SNP and TDX guest reports through one interface,
`/sys/kernel/config/tsm/report` (kernel ABI: Documentation/ABI/testing/configfs-tsm-report):
make a directory, write up to 64 bytes to `inblob` (our REPORT_DATA), read the report or quote
from `outblob`, the certificates the host supplied from `auxblob` (SEV-SNP: AMD's certificate
table, which holds the VCEK), the platform from `provider` (`sev_guest`, `tdx_guest`), and
`generation`, which counts writes to the entry: if it moved between our write and our read,
another writer raced us and the report may be for their data, so we refuse it.

`select_provider` picks this attester when the interface is present and the software stand-in
(with its warning) otherwise.
"""

from __future__ import annotations

import logging
import secrets
import struct
import uuid
from datetime import UTC, datetime
from pathlib import Path

from .enclave_key import EnclaveKey
from .errors import AttestationError
from .evidence import Evidence
from .hardware import b64url, hardware_report_data
from .measurement import Measurement
from .snp.report import parse_report
from .software import SoftwareAttestationProvider
from .tdx.quote import parse_quote

log = logging.getLogger(__name__)

TSM_REPORT_ROOT = Path("/sys/kernel/config/tsm/report")
PROVIDERS = {"sev_guest": "sev-snp", "tdx_guest": "tdx"}
# AMD's certificate table GUIDs (GHCB spec, "SNP Extended Guest Request", certificate table).
VCEK_GUID = uuid.UUID("63da758d-e664-4564-adc5-f4b93be8accd")
VLEK_GUID = uuid.UUID("a8074bc2-a25a-483e-aae6-39c045a0b8a1")


class AttesterError(AttestationError):
    """The platform's attestation interface did not give a usable report."""


class Entries:
    """How entries are made and removed: configfs makes the attribute files on `mkdir`.

    Tests replace this with a stand-in that writes those files into a temporary folder.
    """

    def make(self, entry: Path) -> None:
        entry.mkdir(mode=0o700)

    def remove(self, entry: Path) -> None:
        entry.rmdir()


def tsm_report(
    report_data: bytes, root: Path = TSM_REPORT_ROOT, entries: Entries | None = None
) -> tuple[str, bytes, bytes]:
    """(provider, outblob, auxblob) for `report_data` (64 bytes), from a fresh configfs entry."""
    if len(report_data) != 64:
        raise ValueError("REPORT_DATA must be 64 bytes.")
    entries = entries or Entries()
    entry = root / f"datacage-{secrets.token_hex(8)}"
    entries.make(entry)
    try:
        (entry / "inblob").write_bytes(report_data)
        written = _generation(entry)
        outblob = (entry / "outblob").read_bytes()
        aux = entry / "auxblob"
        auxblob = aux.read_bytes() if aux.exists() else b""
        provider = (entry / "provider").read_text().strip()
        if _generation(entry) != written:
            raise AttesterError(
                "Another writer changed the attestation request while it was served "
                "(configfs-tsm generation moved); the report may not be ours, so it is dropped."
            )
    finally:
        entries.remove(entry)
    if provider not in PROVIDERS:
        raise AttesterError(f"The platform's attestation provider {provider!r} is not supported.")
    return PROVIDERS[provider], outblob, auxblob


def _generation(entry: Path) -> int:
    try:
        return int((entry / "generation").read_text().strip())
    except (OSError, ValueError):
        raise AttesterError("The configfs-tsm entry has no readable generation.") from None


def endorsement_key_from_auxblob(auxblob: bytes) -> bytes | None:
    """The VCEK (or VLEK) DER from AMD's certificate table, or None if the host sent none."""
    at = 0
    while at + 24 <= len(auxblob):
        guid = uuid.UUID(bytes_le=auxblob[at : at + 16])
        offset, length = struct.unpack_from("<II", auxblob, at + 16)
        if guid.int == 0:
            return None
        if guid in (VCEK_GUID, VLEK_GUID) and offset + length <= len(auxblob):
            return auxblob[offset : offset + length]
        at += 24
    return None


class TsmAttestationProvider:
    """Makes SEV-SNP or TDX evidence through configfs-tsm, binding key and claim."""

    def __init__(
        self,
        root: Path = TSM_REPORT_ROOT,
        vcek_file: Path | None = None,
        entries: Entries | None = None,
    ):
        self.root = Path(root)
        self.vcek_file = vcek_file
        self.entries = entries or Entries()
        self.name = "hardware (configfs-tsm)"

    def attest(
        self, key: EnclaveKey, measurement: Measurement, now: datetime | None = None
    ) -> Evidence:
        issued = int((now or datetime.now(UTC)).timestamp())
        # The provider's name is part of the claim, so ask the interface which one it is first.
        platform = self._platform()
        unsigned = Evidence(platform, key.public_key_sha256(), measurement, issued)
        wanted = hardware_report_data(unsigned.report_data, unsigned.claim_bytes())
        provider, outblob, auxblob = tsm_report(wanted, self.root, self.entries)
        if provider != platform:
            raise AttesterError("The platform's attestation provider changed while attesting.")
        if platform == "sev-snp":
            got = parse_report(outblob).report_data
            vcek = endorsement_key_from_auxblob(auxblob)
            if vcek is None and self.vcek_file is not None:
                vcek = self.vcek_file.read_bytes()
            if vcek is None:
                raise AttesterError(
                    "The host supplied no VCEK with the SEV-SNP report and no VCEK file is "
                    "configured: fetch it from AMD's key distribution service."
                )
            proof = {"report": b64url(outblob), "vcek": b64url(vcek)}
        else:
            got = parse_quote(outblob).body.report_data
            proof = {"quote": b64url(outblob)}
        if got != wanted:
            raise AttesterError(
                "The platform returned a report for other REPORT_DATA than was asked for."
            )
        return Evidence(platform, unsigned.report_data, measurement, issued, proof)

    def _platform(self) -> str:
        # A throwaway entry tells which TEE serves this guest without asking for a report.
        entry = self.root / f"datacage-probe-{secrets.token_hex(4)}"
        self.entries.make(entry)
        try:
            provider = (entry / "provider").read_text().strip()
        finally:
            self.entries.remove(entry)
        if provider not in PROVIDERS:
            raise AttesterError(f"The attestation provider {provider!r} is not supported.")
        return PROVIDERS[provider]


def select_provider(
    directory: Path,
    tsm_root: Path = TSM_REPORT_ROOT,
    vcek_file: Path | None = None,
    entries: Entries | None = None,
) -> TsmAttestationProvider | SoftwareAttestationProvider:
    """The hardware attester when configfs-tsm serves a TEE here, else the software stand-in."""
    reason = f"{tsm_root} is absent"
    if tsm_root.is_dir():
        hardware = TsmAttestationProvider(tsm_root, vcek_file, entries)
        try:
            # configfs-tsm can be there with no TEE behind it (the module without a provider).
            platform = hardware._platform()
        except (OSError, AttesterError) as exc:
            reason = f"{tsm_root} serves no supported TEE ({exc})"
        else:
            log.info("attesting with %s through configfs-tsm at %s", platform, tsm_root)
            return hardware
    log.warning(
        "no confidential-computing hardware found (%s): falling back to the SOFTWARE "
        "attestation stand-in, which proves nothing about hardware",
        reason,
    )
    return SoftwareAttestationProvider(directory)


def configured_provider(
    setting: str, directory: Path, tsm_root: Path = TSM_REPORT_ROOT
) -> TsmAttestationProvider | SoftwareAttestationProvider:
    """The provider DATACAGE_ATTESTATION_PROVIDER names (server/config.py).

    'software-unattested' is the stand-in, which says so in its evidence and logs;
    'configfs-tsm' insists on the hardware and raises AttesterError where there is none;
    'auto' is `select_provider`: the hardware where a TEE is found, else the stand-in.
    """
    if setting == "software-unattested":
        return SoftwareAttestationProvider(directory)
    if setting == "auto":
        return select_provider(directory, tsm_root)
    if setting != "configfs-tsm":
        raise AttesterError(f"no attestation provider is called {setting!r}")
    if not tsm_root.is_dir():
        raise AttesterError(f"configfs-tsm is asked for, but {tsm_root} is absent")
    hardware = TsmAttestationProvider(tsm_root)
    try:
        hardware._platform()
    except OSError as exc:
        raise AttesterError(f"{tsm_root} serves no supported TEE ({exc})") from None
    return hardware
