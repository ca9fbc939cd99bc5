"""The configfs-tsm attester, against a STAND-IN for the kernel interface.

`FakeTsm` is a temporary folder with the files Linux's configfs-tsm makes in a report entry
(`inblob`, `outblob`, `auxblob`, `provider`, `generation`); it is not the kernel. Its `outblob`
is a named pipe: when the attester reads it, the stand-in reads what the attester wrote to
`inblob` and answers, as the kernel answers a read of `outblob` with a report for `inblob`. It
is fed with the real vectors (the Milan report, the Sapphire Rapids quote) or, to answer for
any REPORT_DATA, with reports signed by the test chain.
"""

from __future__ import annotations

import os
import shutil
import struct
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.attestation import EnclaveKey, Measurement, SoftwareAttestationProvider
from server.attestation.errors import ReportDataMismatch
from server.attestation.evidence import parse_evidence
from server.attestation.hardware import hardware_report_data
from server.attestation.policy import HardwarePolicy, SnpPolicy
from server.attestation.snp import verify as snp_verify
from server.attestation.snp import verify_report
from server.attestation.tdx import parse_quote
from server.attestation.tsm import (
    VCEK_GUID,
    AttesterError,
    Entries,
    TsmAttestationProvider,
    endorsement_key_from_auxblob,
    select_provider,
    tsm_report,
)
from server.attestation.verify import TrustPolicy, verify_evidence
from tests.support.tee_chains import shared_snp_chain, snp_report

FIXTURES = Path(__file__).parents[1] / "fixtures" / "attestation"
REPORT = bytes.fromhex((FIXTURES / "sev-snp-milan" / "report.hex").read_text())
VCEK = (FIXTURES / "sev-snp-milan" / "vcek.der").read_bytes()
QUOTE = (FIXTURES / "tdx-sapphire-rapids" / "quote.dat").read_bytes()
NOW = datetime(2025, 6, 1, tzinfo=UTC)
BUNDLE = "sha256:" + "b" * 64
CODE = "sha256:" + "c" * 64


def certificate_table(vcek: bytes) -> bytes:
    """AMD's certificate table (GHCB spec): GUID, offset, length entries, a zero entry, data."""
    header = VCEK_GUID.bytes_le + struct.pack("<II", 48, len(vcek)) + bytes(24)
    return header + vcek


class FakeTsm(Entries):
    """STAND-IN for configfs-tsm: makes the entry's files where the kernel would."""

    def __init__(
        self,
        provider: str,
        answer: Callable[[bytes], bytes],
        auxblob: bytes = b"",
        race: bool = False,
    ):
        self.provider, self.answer, self.auxblob, self.race = provider, answer, auxblob, race
        self.inblobs: list[bytes] = []
        self._threads: list[threading.Thread] = []

    def make(self, entry: Path) -> None:
        entry.mkdir()
        (entry / "provider").write_text(self.provider + "\n")
        (entry / "generation").write_text("0\n")
        if self.auxblob:
            (entry / "auxblob").write_bytes(self.auxblob)
        os.mkfifo(entry / "outblob")
        thread = threading.Thread(target=self._serve, args=(entry,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _serve(self, entry: Path) -> None:
        try:
            with open(entry / "outblob", "wb") as out:  # blocks until someone reads
                if not (entry / "inblob").exists():  # a probe entry: nothing was asked
                    return
                inblob = (entry / "inblob").read_bytes()
                self.inblobs.append(inblob)
                if self.race:  # another writer's request lands while ours is served
                    (entry / "generation").write_text("2\n")
                out.write(self.answer(inblob))
        except (FileNotFoundError, BrokenPipeError):
            pass

    def remove(self, entry: Path) -> None:
        # A probe entry's pipe was never read: hold a read end open until its server is done.
        reader = os.open(entry / "outblob", os.O_RDONLY | os.O_NONBLOCK)
        try:
            for thread in self._threads:
                thread.join(timeout=5)
        finally:
            os.close(reader)
        shutil.rmtree(entry)


@pytest.fixture
def tsm_root(tmp_path) -> Path:
    root = tmp_path / "sys-kernel-config-tsm-report"
    root.mkdir()
    return root


def test_the_real_snp_report_comes_through_the_interface_and_verifies(tsm_root):
    wanted = REPORT[0x50:0x90]
    fake = FakeTsm("sev_guest", lambda _inblob: REPORT, certificate_table(VCEK))
    provider, outblob, auxblob = tsm_report(wanted, tsm_root, fake)
    assert (provider, outblob) == ("sev-snp", REPORT)
    assert fake.inblobs == [wanted]
    vcek = endorsement_key_from_auxblob(auxblob)
    assert vcek == VCEK
    policy = SnpPolicy(measurements=frozenset({REPORT[0x90:0xC0]}))
    assert verify_report(outblob, vcek, policy=policy, report_data=wanted, now=NOW)
    assert list(tsm_root.iterdir()) == []  # the entry is removed


def test_the_real_tdx_quote_comes_through_the_interface(tsm_root):
    wanted = parse_quote(QUOTE).body.report_data
    fake = FakeTsm("tdx_guest", lambda _inblob: QUOTE)
    assert tsm_report(wanted, tsm_root, fake)[:2] == ("tdx", QUOTE)


def test_a_report_for_other_report_data_is_refused_by_the_attester(tsm_root):
    # The real report answers whatever we ask: it cannot bind our key, and the attester sees it.
    fake = FakeTsm("sev_guest", lambda _inblob: REPORT, certificate_table(VCEK))
    attester = TsmAttestationProvider(tsm_root, entries=fake)
    with pytest.raises(AttesterError, match="other REPORT_DATA than was asked for"):
        attester.attest(EnclaveKey.generate(), Measurement(CODE, BUNDLE), NOW)


def test_a_generation_that_moves_while_served_is_refused(tsm_root):
    fake = FakeTsm("sev_guest", lambda _inblob: REPORT, race=True)
    with pytest.raises(AttesterError, match="generation moved"):
        tsm_report(REPORT[0x50:0x90], tsm_root, fake)


def test_an_unknown_provider_is_refused(tsm_root):
    fake = FakeTsm("arm_cca_guest", lambda _inblob: REPORT)
    with pytest.raises(AttesterError, match="'arm_cca_guest' is not supported"):
        tsm_report(bytes(64), tsm_root, fake)


def test_hardware_evidence_binds_key_and_claim_end_to_end(tsm_root, monkeypatch):
    chain = shared_snp_chain()
    measurement = b"\x33" * 48

    def answer(inblob: bytes) -> bytes:  # the "hardware" signs a report for what was asked
        return snp_report(chain, measurement=measurement, report_data=inblob)

    fake = FakeTsm("sev_guest", answer, certificate_table(chain.vcek_der))
    key = EnclaveKey.generate()
    evidence = TsmAttestationProvider(tsm_root, entries=fake).attest(
        key, Measurement(CODE, BUNDLE), NOW
    )
    assert evidence.provider == "sev-snp"
    assert fake.inblobs[-1] == hardware_report_data(evidence.report_data, evidence.claim_bytes())
    monkeypatch.setattr(snp_verify, "_SHIPPED", chain.roots)  # the test chain as AMD's roots
    policy = TrustPolicy(
        frozenset(),
        frozenset({BUNDLE}),
        hardware=HardwarePolicy(snp=SnpPolicy(measurements=frozenset({measurement}))),
    )
    verified = verify_evidence(
        evidence.to_bytes(), public_key_sha256=key.public_key_sha256(), policy=policy, now=NOW
    )
    assert verified.hardware_backed
    assert verified.platform.measurement == measurement.hex()
    # The claim is under the hardware signature: another bundle in the same proof is refused.
    document = parse_evidence(evidence.to_bytes())
    changed = document.__class__(
        document.provider,
        document.report_data,
        Measurement(CODE, "sha256:" + "d" * 64),
        document.issued_at,
        document.proof,
    )
    wider = TrustPolicy(
        frozenset(), frozenset({BUNDLE, "sha256:" + "d" * 64}), hardware=policy.hardware
    )
    with pytest.raises(ReportDataMismatch):
        verify_evidence(
            changed.to_bytes(), public_key_sha256=key.public_key_sha256(), policy=wider, now=NOW
        )


def test_the_attester_picks_hardware_when_present_and_says_so_otherwise(tmp_path, caplog):
    present = tmp_path / "tsm"
    present.mkdir()
    fake = FakeTsm("tdx_guest", lambda _inblob: QUOTE)
    assert isinstance(
        select_provider(tmp_path / "a", present, entries=fake), TsmAttestationProvider
    )
    fallback = select_provider(tmp_path / "b", tmp_path / "absent")
    assert isinstance(fallback, SoftwareAttestationProvider)
    assert "absent): falling back to the SOFTWARE attestation stand-in" in caplog.text


def test_configfs_tsm_without_a_tee_behind_it_falls_back_to_the_stand_in(tmp_path, caplog):
    present = tmp_path / "tsm"
    present.mkdir()  # entries made here get no provider file: no TEE serves them
    fallback = select_provider(tmp_path / "c", present)
    assert isinstance(fallback, SoftwareAttestationProvider)
    assert "serves no supported TEE" in caplog.text
    unknown = FakeTsm("arm_cca_guest", lambda _inblob: b"")
    assert isinstance(
        select_provider(tmp_path / "d", present, entries=unknown), SoftwareAttestationProvider
    )


def test_the_certificate_table_without_a_vcek_gives_none():
    other = uuid.uuid4().bytes_le + struct.pack("<II", 48, 4) + bytes(24) + b"abcd"
    assert endorsement_key_from_auxblob(other) is None
    assert endorsement_key_from_auxblob(b"") is None
