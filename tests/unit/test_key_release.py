"""The key service releases a fleet key only to a worker whose evidence its trust policy
accepts, asked now, once, with the enclave key the evidence is bound to; sealed so that only
that worker opens it. Each refusal is in plain words; no private key is logged or served."""

from __future__ import annotations

import base64
import json
import logging
import os
from datetime import timedelta

import pytest

from server.attestation import EnclaveKey, Measurement, SoftwareAttestationProvider
from server.datacage.fleet_keys import FleetKeyUnavailable
from server.keyrelease.app import create_key_service_app
from server.keyrelease.errors import KeyStoreError, ReleaseRefused
from server.keyrelease.request import SUITE, release_info, unb64
from server.keyrelease.store import load
from tests.support.fleet_keys import BUNDLE, CODE, FLEET, NOW, OTHER, Fleet


@pytest.fixture
def fleet(tmp_path) -> Fleet:
    return Fleet(tmp_path)


def test_an_attested_worker_gets_the_bundles_keys_sealed_to_its_enclave_key(fleet):
    worker = EnclaveKey.generate()
    answer = fleet.service.release(fleet.request(worker), NOW)
    [item] = answer["keys"]
    pair = fleet.store.active(BUNDLE)[0]
    info = release_info(FLEET, pair.key_sha256, worker.public_key_sha256())
    assert worker.open_sealed(SUITE, unb64(item["sealed_key"]), info) == pair.private_der()
    assert "software stand-in" in answer["notice"]


def test_the_keyring_holds_only_keys_whose_statements_verify(fleet):
    keys = fleet.keyring(EnclaveKey.generate()).keys_for(BUNDLE)
    assert [k.public_key_sha256() for k in keys] == [fleet.store.active(BUNDLE)[0].key_sha256]
    with pytest.raises(TypeError, match="cannot be pickled"):
        keys[0].__reduce__()


@pytest.mark.parametrize(
    ("bundle", "code", "words"),
    [
        ("sha256:" + "9" * 64, CODE, "algorithm bundle sha256:9999"),
        (BUNDLE, "sha256:" + "8" * 64, "datacage code sha256:8888"),
    ],
)
def test_evidence_the_policy_refuses_gets_no_key(fleet, bundle, code, words):
    worker = EnclaveKey.generate()
    evidence = fleet.evidence(worker, bundle=bundle, code=code)
    with pytest.raises(ReleaseRefused, match=f"release policy: .*{words}.*not approved"):
        fleet.service.release(fleet.request(worker, evidence), NOW)


def test_evidence_from_an_untrusted_software_key_gets_no_key(fleet, tmp_path):
    stranger = SoftwareAttestationProvider(tmp_path / "stranger")
    worker = EnclaveKey.generate()
    evidence = stranger.attest(worker, Measurement(CODE, BUNDLE), now=NOW)
    with pytest.raises(ReleaseRefused, match="software key this policy does not trust"):
        fleet.service.release(fleet.request(worker, evidence.to_bytes().decode()), NOW)


def test_stale_evidence_is_refused(fleet):
    worker = EnclaveKey.generate()
    evidence = fleet.evidence(worker, when=NOW - timedelta(hours=2))
    with pytest.raises(ReleaseRefused, match="must attest again"):
        fleet.service.release(fleet.request(worker, evidence), NOW)


def test_a_replayed_request_is_refused(fleet):
    body = fleet.request(EnclaveKey.generate())
    fleet.service.release(body, NOW)
    with pytest.raises(ReleaseRefused, match="used before; a replay is refused"):
        fleet.service.release(body, NOW + timedelta(seconds=5))


def test_an_old_request_is_refused(fleet):
    worker = EnclaveKey.generate()
    body = fleet.request(worker, issued=NOW - timedelta(minutes=5))
    with pytest.raises(ReleaseRefused, match="at most 120 s old: ask again"):
        fleet.service.release(body, NOW)


def test_evidence_copied_from_a_worker_is_useless_without_its_enclave_key(fleet):
    worker, thief = EnclaveKey.generate(), EnclaveKey.generate()
    published = fleet.evidence(worker)  # what the control plane shows providers
    signed_by_thief = json.loads(fleet.request(worker, published, sign=thief.sign_es256))
    with pytest.raises(ReleaseRefused, match="not signed by the enclave key"):
        fleet.service.release(json.dumps(signed_by_thief).encode(), NOW)
    with_thiefs_key = json.loads(fleet.request(thief, published))
    with pytest.raises(ReleaseRefused, match="made for another key"):
        fleet.service.release(json.dumps(with_thiefs_key).encode(), NOW)


def test_a_key_released_to_one_worker_does_not_open_in_another(fleet):
    worker, other = EnclaveKey.generate(), EnclaveKey.generate()
    [item] = fleet.service.release(fleet.request(worker), NOW)["keys"]
    pair = fleet.store.active(BUNDLE)[0]
    for info in (
        release_info(FLEET, pair.key_sha256, worker.public_key_sha256()),
        release_info(FLEET, pair.key_sha256, other.public_key_sha256()),
    ):
        with pytest.raises(Exception):  # noqa: B017, PT011 (HPKE's own opaque failure)
            other.open_sealed(SUITE, unb64(item["sealed_key"]), info)


def test_a_request_for_another_fleet_is_refused(fleet):
    body = fleet.request(EnclaveKey.generate(), audience="other-fleet")
    with pytest.raises(ReleaseRefused, match="for another fleet"):
        fleet.service.release(body, NOW)


def test_a_retired_key_is_never_released_again(fleet):
    old = fleet.store.active(BUNDLE)[0]
    new = fleet.store.add_key(BUNDLE, int(NOW.timestamp()) + 1)
    fleet.store.retire(old.key_sha256[:20], int(NOW.timestamp()))
    released = fleet.service.release(fleet.request(EnclaveKey.generate()), NOW)["keys"]
    assert [json.loads(k["statement"])["key_sha256"] for k in released] == [new.key_sha256]
    fleet.store.retire(new.key_sha256, int(NOW.timestamp()))
    with pytest.raises(ReleaseRefused, match="no active key for the algorithm bundle"):
        fleet.service.release(fleet.request(EnclaveKey.generate()), NOW)
    reread = load(fleet.store.path)  # the decision is on record in the file
    assert reread.active(BUNDLE) == []
    assert all(k.retired_at for k in reread.keys if k.bundle_digest == BUNDLE)


def test_the_key_file_is_private_and_refused_when_others_can_read_it(fleet):
    assert os.stat(fleet.store.path).st_mode & 0o777 == 0o600
    os.chmod(fleet.store.path, 0o644)
    with pytest.raises(KeyStoreError, match="readable only by its owner"):
        load(fleet.store.path)


def test_the_http_face_refuses_in_plain_words_and_serves_no_private_key(fleet):
    app = create_key_service_app(fleet.service, fleet.store.signing_public_pem(), FLEET)
    client = app.test_client()
    refused = client.post("/release", data=b"{}")
    assert refused.status_code == 403
    assert refused.content_type == "application/problem+json"
    assert "evidence" in refused.get_json()["detail"]
    assert client.get("/statements?bundle=nonsense").status_code == 400
    listed = client.get(f"/statements?bundle={OTHER}").get_json()["statements"]
    assert json.loads(listed[0]["statement"])["bundle_digest"] == OTHER
    served = b"".join(
        client.get(p).data for p in ("/", f"/statements?bundle={BUNDLE}", "/keys", "/release")
    )
    for pair in fleet.store.keys:
        assert base64.b64encode(pair.private_der())[:40] not in served
        assert pair.private_der().hex().encode()[:40] not in served


def test_the_key_service_logs_no_private_key(fleet, caplog):
    caplog.set_level(logging.DEBUG)
    worker = EnclaveKey.generate()
    fleet.service.release(fleet.request(worker), NOW)
    with pytest.raises(ReleaseRefused):
        fleet.service.release(fleet.request(worker, audience="x"), NOW)
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert "fleet keys released (software check)" in caplog.text
    for pair in fleet.store.keys:
        der = pair.private_der()
        for form in (der.hex(), base64.b64encode(der).decode(), _urlsafe(der)):
            assert form[:48] not in logged


def _urlsafe(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_a_worker_refuses_a_key_the_service_sent_for_another_bundle(fleet):
    worker = EnclaveKey.generate()
    keyring = fleet.keyring(worker)
    keyring.attest = lambda _bundle: fleet.evidence(worker, OTHER)  # the answer is OTHER's keys
    with pytest.raises(FleetKeyUnavailable, match="for another bundle or fleet"):
        keyring.keys_for(BUNDLE)
