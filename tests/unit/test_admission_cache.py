"""The admission app remembers admitted certificates, and forgets them whenever it must.

Attacks on the cache: a certificate admitted once must be refused as soon as the policy stops
accepting it, its evidence goes stale or the certificate expires; another certificate (same
subject, other evidence or key) must never be let in on the first one's verification.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

import pytest
from cryptography.hazmat.primitives import serialization

from server.attestation import (
    EnclaveKey,
    Measurement,
    SoftwareAttestationProvider,
    TrustPolicy,
    client_certificate,
)
from server.attestation.admission import PolicyFile, create_app
from server.attestation.admitted import AdmittedCertificates
from server.attestation.ratls import MAX_CERTIFICATE_BYTES, verified_certificate

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CODE = "sha256:" + "c" * 64
BUNDLE = "sha256:" + "b" * 64
OTHER_BUNDLE = "sha256:" + "f" * 64
APPROVED = Measurement(CODE, BUNDLE)
#: Long enough that only the check under test can end an entry's life.
FOREVER = 10**8


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


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


def _header(provider, key, measurement=APPROVED, issued=NOW, lifetime=timedelta(hours=1)):
    evidence = provider.attest(key, measurement, issued)
    certificate = client_certificate(key, evidence, issued, lifetime)
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return {"X-Client-Cert": quote(pem), "X-Original-URI": "/pod/data.ttl"}


def _app(policy, clock, **cache_options):
    cache = AdmittedCertificates(verified_certificate, **cache_options)
    return create_app(policy, clock=clock, cache=cache).test_client(), cache


def _refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "server.attestation.admission"]


def test_a_runs_certificate_is_verified_once_for_many_requests(provider, key, policy):
    client, cache = _app(policy, Clock())
    headers = _header(provider, key)
    assert [client.get("/", headers=headers).status_code for _ in range(20)] == [204] * 20
    assert cache.verifications == 1


def test_the_app_keeps_a_cache_of_its_own(provider, key, policy):
    app = create_app(policy, clock=Clock())
    headers = _header(provider, key)
    for _ in range(3):
        assert app.test_client().get("/", headers=headers).status_code == 204
    assert app.extensions["admitted_certificates"].verifications == 1


def _write_policy(path: Path, provider, bundles: list[str]) -> None:
    (path.parent / "cage.pub").write_text(provider.public_key_pem())
    listed = ", ".join(f'"{b}"' for b in bundles)
    path.write_text(
        f'code_digests = ["{CODE}"]\nbundle_digests = [{listed}]\n'
        'allow_software = true\nsoftware_key_files = ["cage.pub"]\n'
    )


def test_a_cached_certificate_is_refused_once_the_policy_withdraws_its_measurement(
    tmp_path, provider, key, caplog
):
    path = tmp_path / "policy.toml"
    _write_policy(path, provider, [BUNDLE, OTHER_BUNDLE])
    client, _ = _app(PolicyFile(path), Clock(), max_seconds=FOREVER)
    headers = _header(provider, key)
    assert client.get("/", headers=headers).status_code == 204
    _write_policy(path, provider, [OTHER_BUNDLE])  # the provider withdraws its approval
    assert client.get("/", headers=headers).status_code == 403
    assert "not approved" in _refusals(caplog)[-1]


def test_a_cached_certificate_is_refused_once_its_evidence_is_stale(provider, key, policy, caplog):
    clock = Clock()
    client, _ = _app(policy, clock, max_seconds=FOREVER)
    # The certificate outlives its evidence: only the evidence's freshness can refuse it.
    headers = _header(provider, key, lifetime=timedelta(days=2))
    assert client.get("/", headers=headers).status_code == 204
    clock.now = NOW + policy.max_age - timedelta(seconds=1)
    assert client.get("/", headers=headers).status_code == 204
    clock.now = NOW + policy.max_age + timedelta(seconds=1)
    assert client.get("/", headers=headers).status_code == 403
    assert "must attest again" in _refusals(caplog)[-1]


def test_a_cached_certificate_is_refused_once_it_expires(provider, key, caplog):
    policy = TrustPolicy.approving(
        [APPROVED],
        allow_software=True,
        software_keys=(provider.public_key_pem(),),
        max_age=timedelta(days=1),
    )
    clock = Clock()
    client, _ = _app(policy, clock, max_seconds=FOREVER)
    headers = _header(provider, key, lifetime=timedelta(minutes=10))
    assert client.get("/", headers=headers).status_code == 204
    clock.now = NOW + timedelta(minutes=11)
    assert client.get("/", headers=headers).status_code == 403
    assert "outside its validity period" in _refusals(caplog)[-1]


def test_another_certificate_with_the_same_subject_does_not_hit_the_cache(
    provider, key, policy, caplog
):
    client, cache = _app(policy, Clock(), max_seconds=FOREVER)
    assert client.get("/", headers=_header(provider, key)).status_code == 204
    # Same key, same subject, same validity: only the evidence inside differs.
    other = _header(provider, key, measurement=Measurement(CODE, OTHER_BUNDLE))
    assert client.get("/", headers=other).status_code == 403
    assert "not approved" in _refusals(caplog)[-1]
    # Another key carrying the admitted certificate's own evidence.
    thief = EnclaveKey.generate()
    copied = client_certificate(thief, provider.attest(key, APPROVED, NOW), NOW)
    pem = copied.public_bytes(serialization.Encoding.PEM).decode()
    assert client.get("/", headers={"X-Client-Cert": quote(pem)}).status_code == 403
    assert "another key" in _refusals(caplog)[-1]
    assert cache.verifications == 3


def test_a_clock_set_back_before_the_verification_verifies_again(provider, key, policy):
    clock = Clock()
    client, cache = _app(policy, clock, max_seconds=FOREVER)
    headers = _header(provider, key, issued=NOW)
    clock.now = NOW + timedelta(minutes=10)
    assert client.get("/", headers=headers).status_code == 204
    clock.now = NOW - timedelta(minutes=30)  # before the certificate's validity period
    assert client.get("/", headers=headers).status_code == 403
    assert cache.verifications == 2


def test_an_entry_lives_at_most_max_seconds(provider, key, policy):
    clock = Clock()
    client, cache = _app(policy, clock, max_seconds=60)
    headers = _header(provider, key)
    assert client.get("/", headers=headers).status_code == 204
    clock.now = NOW + timedelta(seconds=59)
    assert client.get("/", headers=headers).status_code == 204
    assert cache.verifications == 1
    clock.now = NOW + timedelta(seconds=61)
    assert client.get("/", headers=headers).status_code == 204
    assert cache.verifications == 2


def test_refusals_are_not_cached_and_the_cache_is_bounded(provider, policy, caplog):
    client, cache = _app(policy, Clock(), entries=2)
    keys = [EnclaveKey.generate() for _ in range(3)]
    headers = [_header(provider, k) for k in keys]
    for h in headers:
        assert client.get("/", headers=h).status_code == 204
    assert client.get("/", headers=headers[0]).status_code == 204  # evicted: verified again
    assert cache.verifications == 4
    refused = _header(provider, keys[0], measurement=Measurement(CODE, OTHER_BUNDLE))
    for _ in range(2):
        assert client.get("/", headers=refused).status_code == 403
        assert "not approved" in _refusals(caplog)[-1]
    assert cache.verifications == 6


def test_the_cache_needs_room_and_a_lifetime():
    with pytest.raises(ValueError, match="room"):
        AdmittedCertificates(verified_certificate, entries=0)
    with pytest.raises(ValueError, match="lifetime"):
        AdmittedCertificates(verified_certificate, max_seconds=0)


# --- The gateway's question, answered before Flask --------------------------------------------


def test_a_cache_hit_does_not_decode_the_certificate_again(provider, key, policy):
    cache = AdmittedCertificates(verified_certificate)
    escaped = _header(provider, key)["X-Client-Cert"].encode()
    decoded: list[bytes] = []

    def decode(presented: bytes) -> bytes:
        decoded.append(presented)
        return unquote_to_bytes(presented)

    for _ in range(5):
        cache.admit(escaped, policy, NOW, decode=decode)
    assert decoded == [escaped]


def test_the_same_certificate_escaped_otherwise_is_verified_on_its_own(provider, key, policy):
    client, cache = _app(policy, Clock(), max_seconds=FOREVER)
    headers = _header(provider, key)
    assert client.get("/", headers=headers).status_code == 204
    lowered = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), headers["X-Client-Cert"])
    assert lowered != headers["X-Client-Cert"]
    assert client.get("/", headers={"X-Client-Cert": lowered}).status_code == 204
    assert cache.verifications == 2  # another text: not found, verified (and admitted) again


def test_every_refusal_of_the_flask_view_is_a_refusal_before_it(provider, key, policy, caplog):
    client, _ = _app(policy, Clock())
    assert client.get("/_admission").status_code == 403
    assert "no client certificate" in _refusals(caplog)[-1]
    assert (
        client.head(
            "/", headers={"X-Client-Cert": "A" * (3 * MAX_CERTIFICATE_BYTES + 1)}
        ).status_code
        == 403
    )
    assert "too large" in _refusals(caplog)[-1]
    garbage = {"X-Client-Cert": quote("-----BEGIN CERTIFICATE-----\nnot one\n")}
    assert client.get("/", headers=garbage).status_code == 403
    # Only GET and HEAD are questions: anything else is Flask's, which does not admit it.
    assert client.post("/", headers=_header(provider, key)).status_code == 405


def test_the_answers_are_those_of_the_flask_view(provider, key, policy):
    client, _ = _app(policy, Clock())
    admitted = client.get("/_admission", headers=_header(provider, key))
    assert (admitted.status_code, admitted.data, admitted.headers.get("Content-Length")) == (
        204,
        b"",
        None,
    )
    refused = client.get("/_admission")
    assert (refused.status_code, refused.data) == (403, b"")
