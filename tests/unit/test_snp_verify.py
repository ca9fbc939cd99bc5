"""AMD SEV-SNP: a genuine Milan report verifies up to AMD's shipped roots; every tampering,
swapped certificate, debug guest, old TCB, revoked signing key and unbound report data is
refused with its own reason. Refusals that need AMD's private keys (a debug report, a revoked
ASK) use the test chain of tests/support/tee_chains.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from server.attestation.errors import (
    BadSignature,
    CollateralError,
    GuestPolicyRefused,
    MalformedEvidence,
    MeasurementNotApproved,
    ReportDataMismatch,
    Revoked,
    TcbNotAccepted,
    UntrustedChain,
)
from server.attestation.policy import SnpPolicy
from server.attestation.snp import parse_report, verify_report
from server.attestation.snp.report import POLICY_DEBUG, POLICY_MIGRATE_MA
from server.attestation.snp.verify import shipped_roots
from tests.support.tee_chains import make_crl, shared_snp_chain, snp_report, vcek_with_padding

VECTORS = Path(__file__).parents[1] / "fixtures" / "attestation" / "sev-snp-milan"
REPORT = (VECTORS / "report.hex").read_bytes()
VCEK = (VECTORS / "vcek.der").read_bytes()
MEASUREMENT = bytes.fromhex(
    "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d"
    "3e1a0dc39b2c60bd95b9c480cd81841f"
)
REPORT_DATA = bytes.fromhex(
    "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c64581"
    "0b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd"
)
NOW = datetime(2025, 6, 1, tzinfo=UTC)
POLICY = SnpPolicy(
    measurements=frozenset({MEASUREMENT}), min_tcb={"bootloader": 3, "snp": 8, "microcode": 115}
)


def _verify(report=REPORT, vcek=VCEK, policy=POLICY, report_data=REPORT_DATA, now=NOW, **kw):
    return verify_report(report, vcek, policy=policy, report_data=report_data, now=now, **kw)


def _flip(offset: int) -> bytes:
    raw = bytearray(bytes.fromhex(REPORT.decode()))
    raw[offset] ^= 0x01
    return bytes(raw)


@pytest.fixture(scope="module")
def chain():
    return shared_snp_chain()


def test_the_real_milan_report_verifies_up_to_amds_shipped_roots():
    verified = _verify()
    assert verified.product == "milan"
    assert verified.signing_key == "VCEK"
    assert verified.measurement.startswith("7a1e5c26")
    assert verified.report_data.startswith("d447b55d")
    assert str(verified.reported_tcb) == "bootloader=3, tee=0, snp=8, microcode=115"
    assert "debug off" in verified.guest_policy


def test_the_shipped_roots_cover_milan_genoa_and_turin_and_their_vlek_chains():
    roots = shipped_roots()
    assert sorted(roots.products) == ["genoa", "milan", "turin"]
    for name, chain in roots.products.items():
        assert chain.ark.subject.rfc4514_string().startswith(f"CN=ARK-{name.title()}")
        assert "VLEK" in chain.asvk.subject.rfc4514_string()


@pytest.mark.parametrize(
    "offset",
    [0x0A, 0x30, 0x38, 0x50, 0x8F, 0x90, 0xC0, 0x140, 0x180, 0x1A0, 0x1F0, 0x29F, 0x2A0, 0x2E8],
    ids=[
        "guest-policy",
        "vmpl",
        "current-tcb",
        "report-data",
        "report-data-end",
        "measurement",
        "host-data",
        "report-id",
        "reported-tcb",
        "chip-id",
        "launch-tcb",
        "last-signed-byte",
        "signature-r",
        "signature-s",
    ],
)
def test_any_flipped_byte_of_the_signed_report_breaks_its_signature(offset):
    with pytest.raises(BadSignature, match="signature does not verify with the VCEK"):
        _verify(report=_flip(offset))


def test_a_vcek_from_another_chain_is_refused(chain):
    # Same names as AMD's Milan VCEK (issuer "SEV-Milan"), but signed by a test key.
    with pytest.raises(UntrustedChain, match="signature does not verify with the key of"):
        _verify(vcek=chain.vcek_der)


def test_a_certificate_that_is_no_vcek_is_refused():
    genoa_ask = shipped_roots().products["genoa"].ask.public_bytes(Encoding.DER)
    with pytest.raises(UntrustedChain, match="none of AMD's SEV-SNP signing keys"):
        _verify(vcek=genoa_ask)


def test_a_product_the_policy_does_not_accept_is_refused():
    policy = SnpPolicy(measurements=frozenset({MEASUREMENT}), products=frozenset({"genoa"}))
    with pytest.raises(UntrustedChain, match="Milan processor, which this policy does not"):
        _verify(policy=policy)


def test_an_old_tcb_is_refused():
    policy = SnpPolicy(measurements=frozenset({MEASUREMENT}), min_tcb={"snp": 9, "microcode": 115})
    with pytest.raises(TcbNotAccepted, match="snp 8 < 9"):
        _verify(policy=policy)


def test_smt_is_refused_when_the_policy_says_so():
    policy = SnpPolicy(measurements=frozenset({MEASUREMENT}), allow_smt=False)
    with pytest.raises(GuestPolicyRefused, match="allows SMT"):
        _verify(policy=policy)


def test_an_unapproved_measurement_is_refused():
    policy = SnpPolicy(measurements=frozenset({bytes(48)}))
    with pytest.raises(MeasurementNotApproved, match=r"7a1e5c26.*not an accepted datacage"):
        _verify(policy=policy)


def test_report_data_that_does_not_bind_the_key_is_refused():
    with pytest.raises(ReportDataMismatch, match="does not bind this enclave key"):
        _verify(report_data=bytes(64))


def test_a_report_outside_the_vceks_validity_is_refused():
    with pytest.raises(UntrustedChain, match="VCEK is valid from 2023-04-03"):
        _verify(now=datetime(2031, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(("version", "message"), [(1, "version 1"), (9, "version 9")])
def test_report_versions_this_verifier_cannot_read_are_refused(version, message):
    raw = bytearray(bytes.fromhex(REPORT.decode()))
    raw[0] = version
    with pytest.raises(MalformedEvidence, match=message):
        _verify(report=bytes(raw))


def test_a_truncated_report_is_refused():
    with pytest.raises(MalformedEvidence, match="1184 bytes; this one is 100"):
        parse_report(b"\0" * 100)


# --- refusals that need a signer: the test chain ----------------------------------------------


def _test_policy(**kw) -> SnpPolicy:
    return SnpPolicy(measurements=frozenset({b"\x11" * 48}), **kw)


def _signed(chain, **kw) -> bytes:
    return snp_report(chain, measurement=b"\x11" * 48, report_data=b"\x22" * 64, **kw)


def test_the_test_chain_report_verifies_with_its_own_roots(chain):
    verified = _verify(
        _signed(chain), chain.vcek_der, _test_policy(), b"\x22" * 64, NOW, roots=chain.roots
    )
    assert verified.product == "milan"


def test_a_debug_guest_is_refused(chain):
    report = _signed(chain, policy=0x30000 | POLICY_DEBUG)
    with pytest.raises(GuestPolicyRefused, match="debugging allowed"):
        _verify(report, chain.vcek_der, _test_policy(), b"\x22" * 64, NOW, roots=chain.roots)


def test_a_migration_agent_is_refused_unless_allowed(chain):
    report = _signed(chain, policy=0x30000 | POLICY_MIGRATE_MA)
    with pytest.raises(GuestPolicyRefused, match="migration agent"):
        _verify(report, chain.vcek_der, _test_policy(), b"\x22" * 64, NOW, roots=chain.roots)
    policy = _test_policy(allow_migration_agent=True)
    _verify(report, chain.vcek_der, policy, b"\x22" * 64, NOW, roots=chain.roots)


def test_a_vcek_issued_for_another_tcb_is_refused(chain):
    report = _signed(chain, tcb={"bootloader": 3, "tee": 0, "snp": 9, "microcode": 115})
    with pytest.raises(UntrustedChain, match=r"another TCB.*snp 8 vs 9"):
        _verify(report, chain.vcek_der, _test_policy(), b"\x22" * 64, NOW, roots=chain.roots)


def test_a_revoked_ask_is_refused(chain):
    ark = chain.roots.products["milan"].ark
    crl = make_crl(
        ark,
        chain.ark_key,
        [2],
        last=NOW - timedelta(days=1),
        next_=NOW + timedelta(days=7),
        pss=True,
    )
    with pytest.raises(Revoked, match=r"serial 2.*revoked by"):
        _verify(
            _signed(chain),
            chain.vcek_der,
            _test_policy(crls=(crl,)),
            b"\x22" * 64,
            NOW,
            roots=chain.roots,
        )


def test_a_crl_that_does_not_list_the_ask_lets_it_pass_and_an_old_one_is_refused(chain):
    ark = chain.roots.products["milan"].ark
    clean = make_crl(
        ark,
        chain.ark_key,
        [99],
        last=NOW - timedelta(days=1),
        next_=NOW + timedelta(days=7),
        pss=True,
    )
    _verify(
        _signed(chain),
        chain.vcek_der,
        _test_policy(crls=(clean,)),
        b"\x22" * 64,
        NOW,
        roots=chain.roots,
    )
    later = NOW + timedelta(days=30)
    with pytest.raises(CollateralError, match="fetch a current one"):
        _verify(
            _signed(chain),
            chain.vcek_der,
            _test_policy(crls=(clean,)),
            b"\x22" * 64,
            later,
            roots=chain.roots,
        )


def test_a_policy_requiring_a_crl_refuses_without_one(chain):
    with pytest.raises(CollateralError, match="requires AMD's revocation list"):
        _verify(
            _signed(chain),
            chain.vcek_der,
            _test_policy(require_crl=True),
            b"\x22" * 64,
            NOW,
            roots=chain.roots,
        )


def test_a_vlek_signed_report_verifies_through_the_asvk_unless_the_policy_refuses_vleks(chain):
    report = _signed(chain, vlek=True)
    verified = _verify(report, chain.vlek_der, _test_policy(), b"\x22" * 64, NOW, roots=chain.roots)
    assert verified.signing_key == "VLEK"
    with pytest.raises(UntrustedChain, match="signed by a VLEK"):
        _verify(
            report,
            chain.vlek_der,
            _test_policy(allow_vlek=False),
            b"\x22" * 64,
            NOW,
            roots=chain.roots,
        )
    # A VLEK report presented with the VCEK is refused: the VCEK is not issued by the ASVK.
    with pytest.raises(UntrustedChain, match="none of AMD's SEV-SNP signing keys"):
        _verify(report, chain.vcek_der, _test_policy(), b"\x22" * 64, NOW, roots=chain.roots)


def test_a_vcek_signed_with_weaker_pss_parameters_is_refused(chain):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    weak = vcek_with_padding(chain, padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=0))
    # `cryptography`'s own check follows the parameters the certificate names, and passes ...
    ask = chain.roots.products["milan"].ask
    x509.load_der_x509_certificate(weak).verify_directly_issued_by(ask)
    # ... while the verifier pins AMD's (SHA-384, 48-byte salt) and refuses.
    with pytest.raises(UntrustedChain, match="VCEK's signature does not verify"):
        _verify(_signed(chain), weak, _test_policy(), b"\x22" * 64, NOW, roots=chain.roots)
