"""`datacage admission --server gunicorn` as its own process, as the demo and the bench run it.

The process is handed its policy as a file and re-reads it when it changes: naming a datacage's
WebID afterwards (`PodProvider.keep_to_gateway` does this) takes effect at the next request.
"""

from __future__ import annotations

import base64
import http.client
import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization

from server.attestation import (
    EnclaveKey,
    Measurement,
    SoftwareAttestationProvider,
    TrustPolicy,
    client_certificate,
)
from server.attestation.admission import ENTRANCE_CHECK
from server.demo.gateway import AdmissionProcess

APPROVED = Measurement("sha256:" + "c" * 64, "sha256:" + "b" * 64)
CAGE = "https://pods.example/datacage/profile/card#me"


def _get(port: int, path: str, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def _token(webid: str) -> str:
    part = base64.urlsafe_b64encode(json.dumps({"webid": webid}).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJFUzI1NiJ9.{part}.c2ln"


@pytest.fixture
def provider(tmp_path) -> SoftwareAttestationProvider:
    return SoftwareAttestationProvider(tmp_path / "cage")


def test_the_admission_process_admits_refuses_and_follows_its_policy_file(tmp_path, provider):
    policy = TrustPolicy.approving(
        [APPROVED], allow_software=True, software_keys=(provider.public_key_pem(),)
    )
    key = EnclaveKey.generate()
    now = datetime.now(UTC)
    good = client_certificate(key, provider.attest(key, APPROVED, now), now)
    other = Measurement(APPROVED.datacage_code, "sha256:" + "f" * 64)
    bad = client_certificate(key, provider.attest(key, other, now), now)

    def cert(certificate) -> dict[str, str]:
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        return {"X-Client-Cert": quote(pem), "X-Original-URI": "/pod/x"}

    admission = AdmissionProcess(policy, tmp_path)
    with admission:
        assert admission.pid is not None
        assert [_get(admission.port, "/_admission", cert(good)) for _ in range(3)] == [204] * 3
        assert _get(admission.port, "/_admission", cert(bad)) == 403
        entering = {"Authorization": f"DPoP {_token(CAGE)}"}
        assert _get(admission.port, ENTRANCE_CHECK, entering) == 204
        admission.write_policy(
            TrustPolicy.approving(
                [other],
                allow_software=True,
                software_keys=(provider.public_key_pem(),),
                datacage_webids=frozenset({CAGE}),
            )
        )
        assert _get(admission.port, ENTRANCE_CHECK, entering) == 403
        # The admitted certificate was cached; the new policy no longer approves it.
        assert _get(admission.port, "/_admission", cert(good)) == 403
        assert _get(admission.port, "/_admission", cert(bad)) == 204
    assert admission.pid is None
    log = admission.log_path.read_text()
    assert "refused /pod/x: " in log
    assert "not approved" in log
    assert "BEGIN" not in log  # no certificate, let alone a key, in the log


def test_a_policy_with_hardware_tables_is_kept_in_its_file(tmp_path):
    from server.attestation.policy import HardwarePolicy, TdxPolicy

    tables = HardwarePolicy(tdx=TdxPolicy(mrtds=frozenset({b"\0" * 48})))
    with pytest.raises(ValueError, match="kept in its own file"):
        AdmissionProcess(TrustPolicy(frozenset(), frozenset(), hardware=tables), tmp_path)
