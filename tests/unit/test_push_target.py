"""The provider's check of the datacage's published evidence, before anything is encrypted."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from server.attestation import EnclaveKey, Measurement, SoftwareAttestationProvider, TrustPolicy
from server.push.errors import EvidenceRefused
from server.push.target import check_target

SPACE = "http://localhost:5000/spaces/abc"
CODE, BUNDLE = "sha256:" + "1" * 64, "sha256:" + "2" * 64
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def setup(tmp_path):
    provider = SoftwareAttestationProvider(tmp_path / "attestation")
    key = EnclaveKey.generate()
    evidence = provider.attest(key, Measurement(CODE, BUNDLE), NOW).to_bytes().decode()
    pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    policy = TrustPolicy(
        frozenset({CODE}),
        frozenset({BUNDLE}),
        allow_software=True,
        software_keys=(provider.public_key_pem(),),
    )
    answer = {"space": SPACE, "evidence": evidence, "public_key": pem}
    return key, answer, policy


def test_good_evidence_gives_a_target_bound_to_the_key(setup):
    key, answer, policy = setup
    target = check_target(answer, space_iri=SPACE, policy=policy, now=NOW)
    context = target.context("customers")
    assert context.key_sha256 == key.public_key_sha256()
    assert context.evidence_sha256 == hashlib.sha256(answer["evidence"].encode()).hexdigest()
    assert target.verified.measurement.bundle_digest == BUNDLE


def test_an_answer_for_another_space_is_refused(setup):
    _, answer, policy = setup
    with pytest.raises(EvidenceRefused, match="not for"):
        check_target(answer, space_iri=SPACE + "x", policy=policy, now=NOW)


def test_evidence_beside_another_key_is_refused(setup):
    _, answer, policy = setup
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(EvidenceRefused, match="made for another key"):
        check_target({**answer, "public_key": pem}, space_iri=SPACE, policy=policy, now=NOW)


def test_evidence_that_does_not_verify_is_refused(setup):
    _, answer, policy = setup
    unapproved = TrustPolicy(
        frozenset({CODE}),
        frozenset({"sha256:" + "3" * 64}),
        allow_software=True,
        software_keys=policy.software_keys,
    )
    with pytest.raises(EvidenceRefused, match=r"algorithm bundle .* not approved"):
        check_target(answer, space_iri=SPACE, policy=unapproved, now=NOW)
    with pytest.raises(EvidenceRefused, match="more than 1 h"):
        check_target(answer, space_iri=SPACE, policy=policy, now=NOW + timedelta(hours=2))
    untrusting = TrustPolicy(frozenset({CODE}), frozenset({BUNDLE}))  # no software stand-in
    with pytest.raises(EvidenceRefused, match="Nothing was encrypted"):
        check_target(answer, space_iri=SPACE, policy=untrusting, now=NOW)
    forged = answer["evidence"].replace(BUNDLE[-8:], "22222223")
    with pytest.raises(EvidenceRefused):
        check_target({**answer, "evidence": forged}, space_iri=SPACE, policy=policy, now=NOW)
    with pytest.raises(EvidenceRefused, match="no evidence"):
        check_target({"space": SPACE}, space_iri=SPACE, policy=policy, now=NOW)
