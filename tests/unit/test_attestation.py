"""Attestation unit tests: hostile evidence, every refusal, RA-TLS, the key file, the CLI."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from server.attestation import (
    EVIDENCE_OID,
    AttestationError,
    BadSignature,
    EnclaveKey,
    Evidence,
    MalformedEvidence,
    Measurement,
    MeasurementNotApproved,
    SoftwareAttestationProvider,
    StaleEvidence,
    TrustPolicy,
    UnknownProvider,
    UntrustedProvider,
    VerifierUnavailable,
    WrongKeyBinding,
    client_certificate,
    evidence_from_certificate,
    measure_datacage_code,
    parse_evidence,
    verify_evidence,
    verify_peer_certificate,
)
from server.attestation.admission import create_app, load_policy
from server.attestation.cli import admission_command, commands, verify_command
from server.attestation.evidence import MAX_EVIDENCE_BYTES
from server.attestation.measurement import code_digest

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CODE = "sha256:" + "c" * 64
BUNDLE = "sha256:" + "b" * 64
APPROVED = Measurement(CODE, BUNDLE)


@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> SoftwareAttestationProvider:
    return SoftwareAttestationProvider(tmp_path_factory.mktemp("cage") / "attestation")


@pytest.fixture
def policy(provider) -> TrustPolicy:
    return TrustPolicy.approving(
        [APPROVED], allow_software=True, software_keys=(provider.public_key_pem(),)
    )


@pytest.fixture
def key() -> EnclaveKey:
    return EnclaveKey.generate()


def _check(evidence: Evidence | bytes, key: EnclaveKey, policy: TrustPolicy, now=NOW):
    data = evidence.to_bytes() if isinstance(evidence, Evidence) else evidence
    return verify_evidence(data, public_key_sha256=key.public_key_sha256(), policy=policy, now=now)


# --- Evidence parsing: hostile input -----------------------------------------------------------


def _document(provider, key) -> dict:
    return json.loads(provider.attest(key, APPROVED, NOW).to_bytes())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("proof"), "missing proof"),
        (lambda d: d.update(extra=1), "unexpected 'extra'"),
        (lambda d: d.update(format="datacage-evidence-v2"), "not one this verifier knows"),
        (lambda d: d.update(provider="Software Unattested!"), "short lowercase name"),
        (lambda d: d.update(report_data="AB" * 32), "64 lowercase hex"),
        (lambda d: d.update(issued_at=True), "whole seconds"),
        (lambda d: d.update(issued_at=1.5), "whole seconds"),
        (lambda d: d.update(issued_at=-1), "whole seconds"),
        (lambda d: d.update(measurement=[]), "measurement is not a JSON object"),
        (lambda d: d["measurement"].update(bundle_digest="md5:x"), "sha256:<hex>"),
        (lambda d: d.update(proof={"signature": 5}), "must all be strings"),
        (lambda d: d.update(proof={str(i): "" for i in range(17)}), "more than 16"),
    ],
)
def test_malformed_evidence_is_refused_with_the_reason(provider, key, change, message):
    document = _document(provider, key)
    change(document)
    with pytest.raises(MalformedEvidence, match=message):
        parse_evidence(json.dumps(document).encode())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "not a valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"format": NaN}', "not a valid JSON"),
        (b'{"format": 1, "format": 2}', "duplicate member 'format'"),
        (b"[" * 60_000, "not a valid JSON"),
        (b" " * (MAX_EVIDENCE_BYTES + 1), "over the limit"),
    ],
)
def test_evidence_that_is_not_a_small_json_object_is_refused(data, message):
    with pytest.raises(MalformedEvidence, match=message):
        parse_evidence(data)


def test_evidence_round_trips_exactly(provider, key):
    evidence = provider.attest(key, APPROVED, NOW)
    assert parse_evidence(evidence.to_bytes()) == evidence
    assert evidence.proof["notice"].startswith("software stand-in")


# --- verify_evidence: every failure mode ----------------------------------------------------------


def test_good_evidence_verifies_and_says_it_is_software(provider, key, policy):
    verified = _check(provider.attest(key, APPROVED, NOW), key, policy)
    assert verified.measurement == APPROVED
    assert verified.provider == "software-unattested"
    assert not verified.hardware_backed


def test_evidence_for_another_key_is_refused(provider, key, policy):
    evidence = provider.attest(EnclaveKey.generate(), APPROVED, NOW)
    with pytest.raises(WrongKeyBinding, match="made for another key"):
        _check(evidence, key, policy)


@pytest.mark.parametrize(
    ("measurement", "named"),
    [
        (Measurement("sha256:" + "d" * 64, BUNDLE), "datacage code sha256:dddd"),
        (Measurement(CODE, "sha256:" + "e" * 64), "algorithm bundle sha256:eeee"),
    ],
)
def test_an_unapproved_measurement_names_which_and_both_values(
    provider, key, policy, measurement, named
):
    with pytest.raises(MeasurementNotApproved, match=named) as raised:
        _check(provider.attest(key, measurement, NOW), key, policy)
    assert (CODE if "code" in named else BUNDLE) in str(raised.value)


@pytest.mark.parametrize(
    ("issued", "message"),
    [
        (NOW - timedelta(hours=1, seconds=1), "more than 1 h before"),
        (NOW + timedelta(hours=1), "future"),
    ],
)
def test_stale_or_future_evidence_is_refused(provider, key, policy, issued, message):
    with pytest.raises(StaleEvidence, match=message):
        _check(provider.attest(key, APPROVED, issued), key, policy)


def test_software_evidence_needs_the_policy_to_allow_it(provider, key):
    strict = TrustPolicy.approving([APPROVED], software_keys=(provider.public_key_pem(),))
    with pytest.raises(UntrustedProvider, match="does not allow software evidence"):
        _check(provider.attest(key, APPROVED, NOW), key, strict)


def test_an_untrusted_software_key_is_refused(key, policy, tmp_path):
    stranger = SoftwareAttestationProvider(tmp_path / "attestation")
    with pytest.raises(UntrustedProvider, match="software key this policy does not trust"):
        _check(stranger.attest(key, APPROVED, NOW), key, policy)


def test_a_changed_claim_breaks_the_signature(provider, key, policy):
    document = _document(provider, key)
    document["issued_at"] += 1
    with pytest.raises(BadSignature, match="does not verify"):
        _check(json.dumps(document).encode(), key, policy)
    document = _document(provider, key)
    document["proof"]["signature"] = "A" * 86
    with pytest.raises(BadSignature):
        _check(json.dumps(document).encode(), key, policy)


def test_an_unknown_provider_is_refused(provider, key, policy):
    document = _document(provider, key)
    document["provider"] = "homebrew-tee"
    with pytest.raises(UnknownProvider, match=r"'homebrew-tee'.*known: sev-snp"):
        _check(json.dumps(document).encode(), key, policy)


def test_sgx_evidence_without_a_verifier_is_refused_clearly(provider, key, policy):
    document = _document(provider, key)
    document["provider"] = "sgx-dcap"
    with pytest.raises(VerifierUnavailable, match=r"No verifier for Intel SGX \(DCAP\) evidence"):
        _check(json.dumps(document).encode(), key, policy)


@pytest.mark.parametrize(("name", "section"), [("sev-snp", r"\[sev-snp\]"), ("tdx", r"\[tdx\]")])
def test_hardware_evidence_needs_the_policy_to_name_its_platform(
    provider, key, policy, name, section
):
    document = _document(provider, key)
    document["provider"] = name
    with pytest.raises(UntrustedProvider, match=f"this policy has no {section} section"):
        _check(json.dumps(document).encode(), key, policy)


def test_a_policy_refuses_malformed_digests_and_keys():
    with pytest.raises(ValueError, match="not a sha256"):
        TrustPolicy(frozenset({"sha256:abc"}), frozenset())
    with pytest.raises(ValueError, match="not a PEM public key"):
        TrustPolicy(frozenset(), frozenset(), software_keys=("nonsense",))


# --- RA-TLS certificates --------------------------------------------------------------------------


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_the_evidence_extension_round_trips_and_is_not_critical(provider, key, policy):
    evidence = provider.attest(key, APPROVED, NOW)
    certificate = client_certificate(key, evidence, NOW)
    extension = certificate.extensions.get_extension_for_oid(EVIDENCE_OID)
    assert not extension.critical
    assert EVIDENCE_OID.dotted_string.startswith("2.25.")
    assert evidence_from_certificate(certificate) == evidence.to_bytes()
    assert certificate.public_key() == key.public_key
    assert verify_peer_certificate(_pem(certificate), policy, NOW).measurement == APPROVED


def test_large_evidence_uses_long_form_der_lengths(key):
    payload = b"x" * 5000
    assert evidence_from_certificate(client_certificate(key, payload, NOW)) == payload


def test_a_certificate_without_evidence_or_out_of_date_is_refused(provider, key, policy):
    certificate = client_certificate(key, provider.attest(key, APPROVED, NOW), NOW)
    with pytest.raises(StaleEvidence, match="validity period"):
        verify_peer_certificate(_pem(certificate), policy, NOW + timedelta(hours=2))
    with pytest.raises(MalformedEvidence, match="not a valid self-signed"):
        verify_peer_certificate(b"-----BEGIN CERTIFICATE-----\nAAAA\n", policy, NOW)


def test_a_certificate_carrying_copied_evidence_is_refused(provider, key, policy):
    stolen = provider.attest(EnclaveKey.generate(), APPROVED, NOW)
    certificate = client_certificate(key, stolen, NOW)
    with pytest.raises(WrongKeyBinding):
        verify_peer_certificate(_pem(certificate), policy, NOW)


# --- The enclave key and the software key file ----------------------------------------------------


def test_the_enclave_key_is_only_lent_as_sealed_memfds(provider, key):
    certificate = client_certificate(key, provider.attest(key, APPROVED, NOW), NOW)
    with key.tls_files(certificate) as (cert_path, key_path):
        assert key_path.startswith("/proc/self/fd/")
        target = os.readlink(key_path)
        assert target.startswith("/memfd:datacage-enclave-key")
        assert Path(key_path).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        with pytest.raises(PermissionError):  # sealed against writes
            Path(key_path).write_bytes(b"swapped")
        assert Path(cert_path).read_bytes() == _pem(certificate)
    assert not Path(key_path).exists() or os.readlink(key_path) != target
    with pytest.raises(TypeError, match="cannot be pickled"):
        __import__("pickle").dumps(key)
    assert "PRIVATE" not in repr(key)


def test_the_software_key_file_is_private_and_reused(tmp_path, key):
    folder = tmp_path / "attestation"
    first = SoftwareAttestationProvider(folder)
    key_file = folder / "software-provider.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert SoftwareAttestationProvider(folder).public_key_pem() == first.public_key_pem()
    key_file.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        SoftwareAttestationProvider(folder)


def test_the_code_measurement_is_a_listing_digest():
    assert measure_datacage_code() == measure_datacage_code()
    assert measure_datacage_code().startswith("sha256:")
    assert code_digest({"a.py": b"1"}) != code_digest({"a.py": b"2"})
    assert code_digest({"a.py": b"1", "b.py": b""}) == code_digest({"b.py": b"", "a.py": b"1"})


# --- The admission app ---------------------------------------------------------------------------


def test_admission_answers_204_or_403(provider, key, policy, caplog):
    app = create_app(policy, clock=lambda: NOW).test_client()
    good = _pem(client_certificate(key, provider.attest(key, APPROVED, NOW), NOW))
    assert app.get("/check", headers={"X-Client-Cert": quote(good.decode())}).status_code == 204
    assert app.get("/check").status_code == 403
    other = Measurement(CODE, "sha256:" + "f" * 64)
    bad = _pem(client_certificate(key, provider.attest(key, other, NOW), NOW))
    headers = {"X-Client-Cert": quote(bad.decode()), "X-Original-URI": "/pod/x"}
    assert app.get("/check", headers=headers).status_code == 403
    refusals = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "no client certificate" in refusals[-2]
    assert refusals[-1].startswith("refused /pod/x: ")
    assert "not approved" in refusals[-1]
    assert not any("PRIVATE" in m or "BEGIN" in m for m in refusals)


def test_the_admission_policy_file_is_strict(tmp_path, provider):
    (tmp_path / "cage.pub").write_text(provider.public_key_pem())
    path = tmp_path / "policy.toml"
    path.write_text(
        f'code_digests = ["{CODE}"]\nbundle_digests = ["{BUNDLE}"]\n'
        'allow_software = true\nsoftware_key_files = ["cage.pub"]\nmax_age_seconds = 600\n'
    )
    policy = load_policy(path)
    assert policy.allow_software
    assert policy.max_age == timedelta(minutes=10)
    assert len(policy.software_public_keys()) == 1
    path.write_text('code_digests = ["x"]\nallow = true\n')
    with pytest.raises(ValueError, match="unknown setting"):
        load_policy(path)


# --- The command line ----------------------------------------------------------------------------


def _cli_files(tmp_path, provider, key, measurement=APPROVED, issued=None):
    issued = issued or datetime.now(UTC)
    evidence = provider.attest(key, measurement, issued)
    (tmp_path / "evidence.json").write_bytes(evidence.to_bytes())
    (tmp_path / "cert.pem").write_bytes(_pem(client_certificate(key, evidence, issued)))
    (tmp_path / "cage.pub").write_text(provider.public_key_pem())
    return ["--code", CODE, "--bundle", BUNDLE]


def test_cli_verify_accepts_a_certificate_and_warns_it_is_software(tmp_path, provider, key):
    args = _cli_files(tmp_path, provider, key)
    trust = ["--allow-software", "--software-key", str(tmp_path / "cage.pub")]
    result = CliRunner().invoke(verify_command, [str(tmp_path / "cert.pem"), *args, *trust])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ACCEPTED")
    assert "software stand-in evidence. It proves nothing about hardware" in result.output


def test_cli_verify_refuses_with_the_reason_and_exit_1(tmp_path, provider, key):
    args = _cli_files(tmp_path, provider, key, Measurement(CODE, "sha256:" + "9" * 64))
    trust = ["--allow-software", "--software-key", str(tmp_path / "cage.pub")]
    result = CliRunner().invoke(verify_command, [str(tmp_path / "cert.pem"), *args, *trust])
    assert result.exit_code == 1
    assert result.output.startswith("REFUSED: The datacage runs the algorithm bundle sha256:999")
    result = CliRunner().invoke(verify_command, [str(tmp_path / "cert.pem"), *args])
    assert result.exit_code == 1
    assert "does not allow software evidence" in result.output


def test_cli_verify_raw_evidence_needs_the_key_hash(tmp_path, provider, key):
    args = _cli_files(tmp_path, provider, key)
    trust = ["--allow-software", "--software-key", str(tmp_path / "cage.pub")]
    raw = str(tmp_path / "evidence.json")
    result = CliRunner().invoke(verify_command, [raw, *args, *trust])
    assert result.exit_code == 2
    assert "needs --key-sha256" in result.output
    good = [raw, *args, *trust, "--key-sha256", key.public_key_sha256()]
    assert CliRunner().invoke(verify_command, good).exit_code == 0
    wrong = [raw, *args, *trust, "--key-sha256", EnclaveKey.generate().public_key_sha256()]
    result = CliRunner().invoke(verify_command, wrong)
    assert result.exit_code == 1
    assert "made for another key" in result.output


def test_cli_commands_are_listed_for_registration():
    assert {c.name for c in commands} == {"verify", "admission"}
    result = CliRunner().invoke(admission_command, ["--help"])
    assert result.exit_code == 0
    assert "auth_request" in result.output


def test_attestation_errors_share_one_base():
    for cls in (BadSignature, StaleEvidence, WrongKeyBinding, VerifierUnavailable):
        assert issubclass(cls, AttestationError)
