"""One trust policy file for `datacage verify`, the admission app and `datacage push`:
its `[sev-snp]` and `[tdx]` tables, strictly read; `datacage verify --policy` on the real
report and quote, saying what it verified or why it refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding

from server.attestation import EnclaveKey, Measurement, client_certificate
from server.attestation.admission import PolicyError, create_app, load_policy
from server.attestation.cli import verify_command
from server.attestation.evidence import Evidence
from server.attestation.hardware import b64url, hardware_report_data
from server.attestation.snp import verify as snp_verify
from tests.support.tee_chains import make_crl, shared_snp_chain, snp_report

FIXTURES = Path(__file__).parents[1] / "fixtures" / "attestation"
SNP = FIXTURES / "sev-snp-milan"
TDX = FIXTURES / "tdx-sapphire-rapids"
SNP_MEASUREMENT = (
    "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d"
    "3e1a0dc39b2c60bd95b9c480cd81841f"
)
SNP_REPORT_DATA = (
    "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c64581"
    "0b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd"
)
MRTD = (
    "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f"
    "22fc00b8dcd404bc10d5e119d7215cbb"
)
TDX_REPORT_DATA = (
    "6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545"
    "eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113"
)
BUNDLE = "sha256:" + "b" * 64


def _policy_file(tmp_path: Path, extra: str = "", snp: str = "") -> Path:
    path = tmp_path / "trust.toml"
    path.write_text(
        f"""bundle_digests = ["{BUNDLE}"]
{extra}
[sev-snp]
measurements = ["{SNP_MEASUREMENT}"]
min_tcb = {{bootloader = 3, snp = 8, microcode = 115}}
{snp}

[tdx]
mrtds = ["{MRTD}"]
tcb_info_file = "{TDX}/tcb-info.json"
qe_identity_file = "{TDX}/qe-identity.json"
tcb_signing_chain_file = "{TDX}/tcb-signing-chain.pem"
pck_crl_file = "{TDX}/pckcrl-sample"
root_ca_crl_file = "{TDX}/root-ca-crl.der"
"""
    )
    return path


def _run(*args: str):
    return CliRunner().invoke(verify_command, [str(a) for a in args])


def test_verify_policy_accepts_the_real_snp_report_and_says_what_it_verified(tmp_path):
    policy = _policy_file(tmp_path)
    result = _run(
        "--policy", policy, "--vcek", SNP / "vcek.der", "--report-data", SNP_REPORT_DATA,
        SNP / "report.hex",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ACCEPTED: the SEV-SNP report verifies" in result.output
    assert "platform:      AMD SEV-SNP (Milan, report version 2, signed by its VCEK)" in (
        result.output
    )
    assert f"measurement:   {SNP_MEASUREMENT}" in result.output
    assert "TCB:           bootloader=3, tee=0, snp=8, microcode=115" in result.output
    assert f"report data:   {SNP_REPORT_DATA}" in result.output


@pytest.mark.parametrize(
    ("snp", "args", "reason"),
    [
        ("allow_smt = false", (), "allows SMT"),
        ("", ("--report-data", "00" * 64), "does not bind this enclave key"),
        ("products = ['turin']", (), "Milan processor, which this policy does not accept"),
    ],
    ids=["smt", "report-data", "product"],
)
def test_verify_policy_refuses_the_snp_report_with_the_reason(tmp_path, snp, args, reason):
    policy = _policy_file(tmp_path, snp=snp)
    result = _run(
        "--policy", policy, "--vcek", SNP / "vcek.der",
        *(args or ("--report-data", SNP_REPORT_DATA)), SNP / "report.hex",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output.startswith("REFUSED: ")
    assert reason in result.output


def test_verify_policy_checks_the_real_tdx_quote_with_intels_collateral(tmp_path):
    policy = _policy_file(tmp_path)
    args = ("--policy", policy, "--report-data", TDX_REPORT_DATA, TDX / "quote.dat")
    result = _run("--at", "2023-07-01", *args)
    assert result.exit_code == 1
    assert "REFUSED: Intel's TCB info lists no level this platform meets" in result.output
    result = _run("--at", "2023-08-01", *args)  # Intel's CRL and collateral are out of date
    assert result.exit_code == 1
    assert "revocation list for the PCK certificate covers" in result.output


def test_a_raw_report_needs_its_report_data_and_vcek(tmp_path):
    policy = _policy_file(tmp_path)
    result = _run("--policy", policy, SNP / "report.hex")
    assert result.exit_code == 2
    assert "needs --report-data" in result.output
    result = _run("--policy", policy, "--report-data", SNP_REPORT_DATA, SNP / "report.hex")
    assert result.exit_code == 1
    assert "needs the VCEK" in result.output


def test_policy_and_approvals_on_the_line_do_not_mix(tmp_path):
    result = _run("--policy", _policy_file(tmp_path), "--code", BUNDLE, SNP / "report.hex")
    assert result.exit_code == 2
    assert "either --policy FILE or --code/--bundle" in result.output
    result = _run("--bundle", BUNDLE, SNP / "report.hex")
    assert result.exit_code == 2
    assert "Missing option '--code'" in result.output


@pytest.mark.parametrize(
    ("snp", "message"),
    [
        ("debug = true", r"\[sev-snp\]: unknown setting\(s\) debug"),
        ("require_crl = 1", "require_crl must be true or false"),
        ("products = ['rome']", "products must be among"),
        ("allow_smt = 'no'", "allow_smt must be true or false"),
        ("crl_files = ['missing.der']", "cannot read missing.der"),
    ],
)
def test_the_hardware_tables_are_strict(tmp_path, snp, message):
    with pytest.raises(PolicyError, match=message):
        load_policy(_policy_file(tmp_path, snp=snp))


def test_a_json_policy_reads_like_the_toml_one(tmp_path):
    path = tmp_path / "trust.json"
    path.write_text(
        json.dumps(
            {
                "bundle_digests": [BUNDLE],
                "sev-snp": {"measurements": [SNP_MEASUREMENT], "allow_smt": False},
            }
        )
    )
    policy = load_policy(path)
    assert policy.hardware.snp.measurements == {bytes.fromhex(SNP_MEASUREMENT)}
    assert policy.hardware.snp.allow_smt is False
    assert policy.hardware.tdx is None
    path.write_text(
        json.dumps({"sev-snp": {"measurements": [SNP_MEASUREMENT], "min_tcb": {"snp": 300}}})
    )
    with pytest.raises(PolicyError, match="min_tcb must map"):
        load_policy(path)


def test_tdx_collateral_must_be_complete(tmp_path):
    path = tmp_path / "trust.toml"
    path.write_text(f'[tdx]\nmrtds = ["{MRTD}"]\ntcb_info_file = "{TDX}/tcb-info.json"\n')
    with pytest.raises(PolicyError, match="collateral is incomplete: missing"):
        load_policy(path)


def test_admission_admits_a_datacage_with_hardware_evidence_by_the_policy_file(
    tmp_path, monkeypatch
):
    chain = shared_snp_chain()
    monkeypatch.setattr(snp_verify, "_SHIPPED", chain.roots)  # the test chain as AMD's roots
    measurement = b"\x44" * 48
    now = datetime(2025, 6, 1, tzinfo=UTC)
    key = EnclaveKey.generate()
    claim = Evidence("sev-snp", key.public_key_sha256(), Measurement(BUNDLE, BUNDLE), 1748736000)
    report = snp_report(
        chain,
        measurement=measurement,
        report_data=hardware_report_data(claim.report_data, claim.claim_bytes()),
    )
    proof = {"report": b64url(report), "vcek": b64url(chain.vcek_der)}
    evidence = Evidence(
        claim.provider, claim.report_data, claim.measurement, claim.issued_at, proof
    )
    pem = client_certificate(key, evidence, now).public_bytes(Encoding.PEM)
    path = tmp_path / "trust.toml"
    path.write_text(
        f'bundle_digests = ["{BUNDLE}"]\n[sev-snp]\nmeasurements = ["{measurement.hex()}"]\n'
    )
    app = create_app(path, clock=lambda: now)
    admitted = app.test_client().get("/", headers={"X-Client-Cert": quote(pem.decode())})
    assert admitted.status_code == 204
    path.write_text(f'bundle_digests = ["{BUNDLE}"]\n[sev-snp]\nmeasurements = ["{"00" * 48}"]\n')
    refused = app.test_client().get("/", headers={"X-Client-Cert": quote(pem.decode())})
    assert refused.status_code == 403


def _hardware_evidence(monkeypatch, measurement: bytes):
    """SEV-SNP evidence from the test chain (installed as AMD's roots for this test)."""
    chain = shared_snp_chain()
    monkeypatch.setattr(snp_verify, "_SHIPPED", chain.roots)
    key = EnclaveKey.generate()
    claim = Evidence("sev-snp", key.public_key_sha256(), Measurement(BUNDLE, BUNDLE), 1748736000)
    report = snp_report(
        chain,
        measurement=measurement,
        report_data=hardware_report_data(claim.report_data, claim.claim_bytes()),
    )
    proof = {"report": b64url(report), "vcek": b64url(chain.vcek_der)}
    return key, Evidence("sev-snp", claim.report_data, claim.measurement, 1748736000, proof)


def test_verify_policy_on_hardware_evidence_json_prints_the_platform(tmp_path, monkeypatch):
    measurement = b"\x55" * 48
    key, evidence = _hardware_evidence(monkeypatch, measurement)
    (tmp_path / "evidence.json").write_bytes(evidence.to_bytes())
    policy = tmp_path / "trust.toml"
    policy.write_text(
        f'bundle_digests = ["{BUNDLE}"]\nmax_age_seconds = 315360000\n'
        f'[sev-snp]\nmeasurements = ["{measurement.hex()}"]\n'
    )
    args = ["--policy", policy, "--key-sha256", key.public_key_sha256(), tmp_path / "evidence.json"]
    result = _run(*args)
    assert result.exit_code == 0, result.output
    assert "provider:      sev-snp" in result.output
    assert f"measurement:   {measurement.hex()}" in result.output
    assert "WARNING" not in result.output
    other = EnclaveKey.generate().public_key_sha256()
    result = _run("--policy", policy, "--key-sha256", other, tmp_path / "evidence.json")
    assert result.exit_code == 1
    assert "made for another key" in result.output


def test_admission_rereads_collateral_files_when_they_are_replaced(tmp_path, monkeypatch):
    measurement = b"\x66" * 48
    key, evidence = _hardware_evidence(monkeypatch, measurement)
    chain = shared_snp_chain()
    ark = chain.roots.products["milan"].ark
    now = datetime(2025, 6, 1, tzinfo=UTC)
    window = {"last": now - timedelta(days=1), "next_": now + timedelta(days=7), "pss": True}
    crl = tmp_path / "amd.crl"
    crl.write_bytes(make_crl(ark, chain.ark_key, [99], **window))
    path = tmp_path / "trust.toml"
    path.write_text(
        f'bundle_digests = ["{BUNDLE}"]\nmax_age_seconds = 315360000\n'
        f'[sev-snp]\nmeasurements = ["{measurement.hex()}"]\ncrl_files = ["amd.crl"]\n'
    )
    pem = quote(client_certificate(key, evidence, now).public_bytes(Encoding.PEM).decode())
    app = create_app(path, clock=lambda: now)
    assert app.test_client().get("/", headers={"X-Client-Cert": pem}).status_code == 204
    # A newer CRL revoking the ASK is downloaded; the policy file itself is not touched.
    crl.write_bytes(make_crl(ark, chain.ark_key, [2, 99], **window))
    assert app.test_client().get("/", headers={"X-Client-Cert": pem}).status_code == 403
