"""Intel TDX: a genuine Sapphire Rapids quote (v4) verifies up to the Intel SGX Root CA, with
Intel's real PCK CRL, TCB info and QE identity (from Google's go-tdx-guest test data, as of a
date they were current); every tampering, swapped certificate, debug TD, old TCB, revoked PCK
and unbound report data is refused with its own reason.

Intel's real TCB info lists no level the sample platform meets (its PCK certificate's SGX TCB
is older than every level), so the real collateral gives a real "old TCB" refusal; the
accepting path uses the same quote with TCB info we sign with a test TCB-signing chain
(tests/support/tee_chains.py), which the verifier takes only when a test passes its root in.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

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
from server.attestation.policy import TdxCollateral, TdxPolicy
from server.attestation.tdx import parse_quote, verify_quote
from tests.support.tee_chains import (
    make_crl,
    qe_identity,
    shared_tdx_chain,
    sign_collateral,
    tcb_info,
    tdx_quote,
)

VECTORS = Path(__file__).parents[1] / "fixtures" / "attestation" / "tdx-sapphire-rapids"
QUOTE = (VECTORS / "quote.dat").read_bytes()
MRTD = bytes.fromhex(
    "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f"
    "22fc00b8dcd404bc10d5e119d7215cbb"
)
REPORT_DATA = parse_quote(QUOTE).body.report_data
#: The real PCK CRL, TCB info and QE identity were all current on this day.
NOW = datetime(2023, 7, 1, 12, 0, tzinfo=UTC)
PCK_SVNS = [3, 3, 2, 2, 2, 1, 0, 2] + [0] * 8
TEE_TCB = [3, 0, 4] + [0] * 13


def _read(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


REAL_COLLATERAL = TdxCollateral(
    tcb_info=_read("tcb-info.json"),
    qe_identity=_read("qe-identity.json"),
    tcb_signing_chain=_read("tcb-signing-chain.pem"),
    pck_crl=_read("pckcrl-sample"),
    root_ca_crl=_read("root-ca-crl.der"),
)


@pytest.fixture(scope="module")
def signer():
    """A test TCB-signing chain (and PCK chain) whose keys the tests hold."""
    return shared_tdx_chain()


def _collateral(signer, *, status="UpToDate", pck_crl=None, now=NOW, tdx=None) -> TdxCollateral:
    level = (PCK_SVNS, 11, tdx or TEE_TCB, status)
    return TdxCollateral(
        tcb_info=sign_collateral(signer, "tcbInfo", tcb_info([level], now=now)),
        qe_identity=sign_collateral(signer, "enclaveIdentity", qe_identity(now=now)),
        tcb_signing_chain=signer.tcb_signer_pem,
        pck_crl=pck_crl or _read("pckcrl-sample"),
    )


def _policy(collateral, **kw) -> TdxPolicy:
    return TdxPolicy(mrtds=frozenset({MRTD}), collateral=collateral, **kw)


def _verify(signer, quote=QUOTE, policy=None, report_data=REPORT_DATA, now=NOW, **kw):
    policy = policy or _policy(_collateral(signer))
    kw.setdefault("collateral_root", signer.root)
    return verify_quote(quote, policy=policy, report_data=report_data, now=now, **kw)


def _flip(offset: int) -> bytes:
    raw = bytearray(QUOTE)
    raw[offset] ^= 0x01
    return bytes(raw)


def _test_crl(signer, serials=()):
    return make_crl(
        signer.ca,
        signer.ca_key,
        serials,
        last=NOW - timedelta(days=1),
        next_=NOW + timedelta(days=7),
    )


def test_the_real_quote_verifies_with_the_real_pck_chain_and_crl(signer):
    verified = _verify(signer)
    assert verified.version == 4
    assert verified.fmspc == "50806f000000"
    assert verified.mrtd.startswith("6363b804")
    assert verified.report_data.startswith("6c62dec1")
    assert (verified.tcb_status, verified.qe_tcb_status) == ("UpToDate", "UpToDate")


def test_intels_real_collateral_verifies_and_rates_this_platforms_tcb_too_old():
    # Signature, dates and signing chain of Intel's real TCB info and QE identity all check;
    # the status it gives is the refusal.
    with pytest.raises(TcbNotAccepted, match=r"lists no level this platform meets.*50806f000000"):
        verify_quote(QUOTE, policy=_policy(REAL_COLLATERAL), report_data=REPORT_DATA, now=NOW)


def test_changed_real_tcb_info_is_refused():
    forged = _read("tcb-info.json").replace(b'"tcbStatus":"OutOfDate"', b'"tcbStatus":"UpToDate"')
    collateral = TdxCollateral(**{**REAL_COLLATERAL.__dict__, "tcb_info": forged})
    with pytest.raises(CollateralError, match="changed after Intel signed it"):
        verify_quote(QUOTE, policy=_policy(collateral), report_data=REPORT_DATA, now=NOW)


def test_collateral_signed_by_a_test_key_is_refused_against_intels_root(signer):
    with pytest.raises(CollateralError, match="signature does not verify with the key of"):
        verify_quote(QUOTE, policy=_policy(_collateral(signer)), report_data=REPORT_DATA, now=NOW)


_BODY = 48  # the TD report starts after the 48-byte header


@pytest.mark.parametrize(
    ("offset", "error", "message"),
    [
        (0x0C, BadSignature, "header and TD report does not verify"),
        (_BODY + 0, BadSignature, "header and TD report does not verify"),
        (_BODY + 120, BadSignature, "header and TD report does not verify"),
        (_BODY + 136, BadSignature, "header and TD report does not verify"),
        (_BODY + 328, BadSignature, "header and TD report does not verify"),
        (_BODY + 520, BadSignature, "header and TD report does not verify"),
        (636, BadSignature, "header and TD report does not verify"),
        (700, BadSignature, "header and TD report does not verify"),
        (770 + 100, BadSignature, "not signed by the PCK certificate"),
        (770 + 384, BadSignature, "not signed by the PCK certificate"),
        (1220, BadSignature, "does not vouch for the key that signed the quote"),
        (1500, UntrustedChain, "PCK"),
    ],
    ids=[
        "header",
        "tee-tcb-svn",
        "td-attributes",
        "mrtd",
        "rtmr0",
        "report-data",
        "quote-signature",
        "attestation-key",
        "qe-report",
        "qe-report-signature",
        "qe-auth-data",
        "pck-certificate",
    ],
)
def test_any_flipped_byte_of_a_signed_part_is_refused(signer, offset, error, message):
    with pytest.raises(error, match=message):
        _verify(signer, quote=_flip(offset))


def test_a_quote_under_another_root_is_refused(signer):
    quote = tdx_quote(signer, mrtd=MRTD, report_data=REPORT_DATA)
    with pytest.raises(UntrustedChain, match="ends at another root than Intel's"):
        verify_quote(quote, policy=_policy(_collateral(signer)), report_data=REPORT_DATA, now=NOW)


def test_a_debug_td_is_refused(signer):
    quote = tdx_quote(signer, mrtd=MRTD, report_data=REPORT_DATA, td_attributes=0x10000001)
    crl = _test_crl(signer)
    with pytest.raises(GuestPolicyRefused, match="debug mode"):
        _verify(signer, quote, _policy(_collateral(signer, pck_crl=crl)), root=signer.root)


def test_a_revoked_pck_is_refused(signer):
    quote = tdx_quote(signer, mrtd=MRTD, report_data=REPORT_DATA)
    crl = _test_crl(signer, [0x1234])
    with pytest.raises(Revoked, match=r"PCK certificate \(serial 1234\) was revoked"):
        _verify(signer, quote, _policy(_collateral(signer, pck_crl=crl)), root=signer.root)


def test_the_real_pck_crl_is_checked_as_of_its_validity(signer):
    later = datetime(2023, 7, 9, tzinfo=UTC)  # the real CRL's next update was 2023-07-08
    with pytest.raises(CollateralError, match="revocation list for the PCK certificate covers"):
        _verify(signer, policy=_policy(_collateral(signer, now=later)), now=later)


def test_a_pck_crl_from_another_issuer_is_refused(signer):
    crl = _test_crl(signer)
    with pytest.raises(CollateralError, match="not by its issuer"):
        _verify(signer, policy=_policy(_collateral(signer, pck_crl=crl)))


def test_an_old_tcb_is_refused(signer):
    with pytest.raises(TcbNotAccepted, match="platform's TCB 'OutOfDate'"):
        _verify(signer, policy=_policy(_collateral(signer, status="OutOfDate")))
    accepting = _policy(
        _collateral(signer, status="OutOfDate"),
        accepted_tcb_status=frozenset({"UpToDate", "OutOfDate"}),
    )
    assert _verify(signer, policy=accepting).tcb_status == "OutOfDate"


def test_tcb_info_for_another_module_version_is_refused(signer):
    quote = tdx_quote(
        signer, mrtd=MRTD, report_data=REPORT_DATA, tee_tcb_svn=bytes([3, 1, 5]) + bytes(13)
    )
    policy = _policy(_collateral(signer, pck_crl=_test_crl(signer), tdx=[3, 0, 5] + [0] * 13))
    with pytest.raises(CollateralError, match="does not cover this TDX module version"):
        _verify(signer, quote, policy, root=signer.root)


def test_expired_collateral_is_refused(signer):
    old = _collateral(signer, now=NOW - timedelta(days=60))
    with pytest.raises(CollateralError, match="fetch current collateral from Intel"):
        _verify(signer, policy=_policy(old))


def test_a_quote_without_collateral_is_refused():
    with pytest.raises(CollateralError, match="no Intel collateral"):
        verify_quote(QUOTE, policy=_policy(None), report_data=REPORT_DATA, now=NOW)


def test_an_unapproved_mrtd_or_rtmr_set_is_refused(signer):
    policy = TdxPolicy(mrtds=frozenset({bytes(48)}), collateral=_collateral(signer))
    with pytest.raises(MeasurementNotApproved, match="MRTD 6363b804"):
        _verify(signer, policy=policy)
    rtmrs = frozenset({(bytes(48),) * 4})
    with pytest.raises(MeasurementNotApproved, match="RTMRs"):
        _verify(signer, policy=_policy(_collateral(signer), rtmrs=rtmrs))
    real = tuple(parse_quote(QUOTE).body.rtmrs)
    assert _verify(signer, policy=_policy(_collateral(signer), rtmrs=frozenset({real})))


def test_report_data_that_does_not_bind_the_key_is_refused(signer):
    with pytest.raises(ReportDataMismatch, match="does not bind this enclave key"):
        _verify(signer, report_data=bytes(64))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda q: b"\x03" + q[1:], "version 3"),
        (lambda q: q[:4] + b"\x00" + q[5:], "not TDX"),
        (lambda q: q[:900], "ends inside"),
    ],
    ids=["version-3", "sgx-quote", "truncated"],
)
def test_quotes_this_verifier_cannot_read_are_refused(change, message):
    with pytest.raises(MalformedEvidence, match=message):
        parse_quote(change(QUOTE))


def test_the_real_qe_identity_matches_the_real_quoting_enclave():
    from server.attestation.tdx.collateral import qe_identity_status

    identity = json.loads(_read("qe-identity.json"))["enclaveIdentity"]
    assert qe_identity_status(identity, parse_quote(QUOTE).qe_report) == "UpToDate"


# --- Quote version 5 (TDX 1.5), with Intel's real TDX 1.5 TCB info ----------------------------

V5 = Path(__file__).parents[1] / "fixtures" / "attestation" / "tdx-v5"
V5_NOW = datetime(2026, 2, 15, tzinfo=UTC)  # inside the v5 PCK's and TCB info's validity


def test_a_real_v5_quote_verifies_to_intels_root_and_its_tcb_via_module_identities():
    from server.attestation.certs import load_certificates
    from server.attestation.tdx.collateral import module_status, signed_part, tdx_tcb_status
    from server.attestation.tdx.pck import pck_info
    from server.attestation.tdx.verify import intel_root, verify_signatures

    quote = parse_quote((V5 / "quote-v5.dat").read_bytes())
    assert quote.version == 5
    pck, _ca = verify_signatures(quote, intel_root(), V5_NOW)
    # Intel renewed its TCB signing certificate (the one we hold expired 2025-05-21) with the
    # same key: the real v5 TCB info verifies with that key.
    signer = load_certificates(_read("tcb-signing-chain.pem"), "chain")[0]
    info = json.loads(
        signed_part((V5 / "tcb-info-v5.json").read_bytes(), "tcbInfo", signer.public_key())
    )
    assert "tdxModuleIdentities" in info
    pck_tcb, body = pck_info(pck), quote.body
    status = tdx_tcb_status(
        info, pck_tcb.fmspc, pck_tcb.pce_id, pck_tcb.sgx_svns, pck_tcb.pce_svn, body.tee_tcb_svn
    )
    assert status == ("UpToDate", "2024-11-13T00:00:00Z")
    assert (
        module_status(info, body.tee_tcb_svn, body.mrsignerseam, body.seam_attributes) == "UpToDate"
    )
    # Intel's TDX_01 identity rates module SVNs 6+ UpToDate, 2 to 5 OutOfDate, older unsupported.
    for svn, expected in ((5, "OutOfDate"), (1, "Unsupported")):
        older = bytes([svn]) + body.tee_tcb_svn[1:]
        assert module_status(info, older, body.mrsignerseam, body.seam_attributes) == expected


def test_a_changed_v5_quote_is_refused():
    from server.attestation.tdx.verify import intel_root, verify_signatures

    raw = bytearray((V5 / "quote-v5.dat").read_bytes())
    raw[48 + 6 + 136] ^= 0x01  # MRTD, after the v5 body descriptor
    with pytest.raises(BadSignature, match="header and TD report does not verify"):
        verify_signatures(parse_quote(bytes(raw)), intel_root(), V5_NOW)
