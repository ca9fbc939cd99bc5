"""Fleet keys on both ends: a provider seals to a fleet key only when the key service's
statement is signed by a service it trusts and releases under no looser a policy; a worker
opens only what was sealed to a fleet key of the bundle it runs, not retired; the control
plane can neither import the opening code nor be configured with the key service's file."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from server import create_app
from server.attestation import EnclaveKey, TrustPolicy
from server.config import ConfigError
from server.datacage.datasets import DatacageKeys, DatasetProblem, JobDataset, stage_datasets
from server.push.envelope import Context, seal
from server.push.errors import EvidenceRefused
from server.push.target import check_target
from tests.support.fleet_keys import BUNDLE, NOW, OTHER, Fleet, pem

SPACE = "http://localhost:5000/spaces/abc"
TABLE = b"email,orders\nalice@shop.example,2\n"
SCHEMA = {"columns": [{"name": "email", "type": "string"}, {"name": "orders", "type": "integer"}]}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fleet(tmp_path) -> Fleet:
    return Fleet(tmp_path / "fleet")


def answer_for(fleet: Fleet, bundle: str = BUNDLE, statement_bundle: str | None = None) -> dict:
    publisher = EnclaveKey.generate()  # worker A, whose evidence the provider sees
    [signed] = fleet.service.statements(statement_bundle or bundle)[:1]
    return {
        "space": SPACE,
        "evidence": fleet.evidence(publisher, bundle),
        "public_key": pem(publisher),
        "fleet_key": signed,
    }


def provider_policy(fleet: Fleet, **changes) -> TrustPolicy:
    base = dataclasses.replace(fleet.policy, key_service_keys=(fleet.store.signing_public_pem(),))
    return dataclasses.replace(base, **changes)


def test_a_provider_seals_to_the_fleet_key_it_checked(fleet):
    target = check_target(
        answer_for(fleet), space_iri=SPACE, policy=provider_policy(fleet), now=NOW
    )
    assert target.context("d").key_sha256 == fleet.store.active(BUNDLE)[0].key_sha256
    assert "software stand-in" in target.fleet.notice


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"key_service_keys": ()}, "no key service is trusted here"),
        ({"allow_software": False}, "software evidence"),  # refused at the evidence first
        ({"software_keys": ()}, "does not trust"),
        ({"code_digests": frozenset({"sha256:" + "7" * 64})}, "not approved"),
    ],
)
def test_a_provider_refuses_a_fleet_key_released_more_widely_than_it_accepts(fleet, change, words):
    with pytest.raises(EvidenceRefused, match=words):
        check_target(
            answer_for(fleet), space_iri=SPACE, policy=provider_policy(fleet, **change), now=NOW
        )


def test_a_provider_refuses_a_service_that_trusts_a_software_key_it_does_not(fleet, tmp_path):
    from server.attestation import SoftwareAttestationProvider

    extra = SoftwareAttestationProvider(tmp_path / "extra").public_key_pem()
    fleet.service.policy = dataclasses.replace(
        fleet.policy, software_keys=(*fleet.policy.software_keys, extra)
    )
    with pytest.raises(EvidenceRefused, match="software attestation key your policy does not"):
        check_target(answer_for(fleet), space_iri=SPACE, policy=provider_policy(fleet), now=NOW)


def test_a_provider_refuses_a_forged_or_other_bundle_statement(fleet):
    policy = provider_policy(fleet)
    other = answer_for(fleet, statement_bundle=OTHER)
    with pytest.raises(EvidenceRefused, match="another algorithm bundle"):
        check_target(other, space_iri=SPACE, policy=policy, now=NOW)
    forged = answer_for(fleet)
    text = forged["fleet_key"]["statement"].replace(BUNDLE, OTHER)
    forged["fleet_key"] = {**forged["fleet_key"], "statement": text}
    with pytest.raises(EvidenceRefused, match="not signed by a key service this policy trusts"):
        check_target(forged, space_iri=SPACE, policy=policy, now=NOW)


def sealed_to(fleet: Fleet, folder: Path, bundle: str, name: str = "customers") -> JobDataset:
    pair = fleet.store.active(bundle)[0]
    context = Context(SPACE, name, "e" * 64, pair.key_sha256)
    path = folder / f"{name}-{bundle[-4:]}.dcgpush"
    with open(path, "wb") as out:
        seal(io.BytesIO(TABLE), out, pair.public_key, context, chunk_size=16)
    return JobDataset(
        id="dataset-x",
        provider="https://org.example/profile/card#me",
        name=name,
        connector="file",
        grant={"path": str(path)},
        format="csv",
        schema=SCHEMA,
        ciphertext_digest="sha256:" + hashlib.sha256(path.read_bytes()).hexdigest(),
        size=path.stat().st_size,
        evidence_sha256="e" * 64,
        key_sha256=pair.key_sha256,
    )


def stage(keys: DatacageKeys, inputs: Path, dataset: JobDataset, bundle: str = BUNDLE):
    return stage_datasets(
        (dataset,), space_iri=SPACE, bundle_digest=bundle, keys=keys, inputs_dir=inputs
    )


@pytest.fixture
def worker(fleet) -> DatacageKeys:
    key = EnclaveKey.generate()  # not the key of whichever worker published the evidence
    return DatacageKeys(key, fleet=fleet.keyring(key))


def test_any_worker_opens_a_dataset_sealed_to_its_bundles_fleet_key(fleet, worker, tmp_path):
    [entry] = stage(worker, tmp_path / "input", sealed_to(fleet, tmp_path, BUNDLE))
    assert (tmp_path / "input" / entry["file"]).read_bytes() == TABLE


def test_a_dataset_sealed_to_another_bundles_fleet_key_stays_closed(fleet, worker, tmp_path):
    worker.fleet.keys_for(OTHER)  # the worker holds OTHER's key too: it is still no use here
    with pytest.raises(DatasetProblem, match=r"fleet key of the algorithm sha256:3333.*push it"):
        stage(worker, tmp_path / "input", sealed_to(fleet, tmp_path, OTHER))
    assert not any((tmp_path / "input" / "datasets").iterdir())


def test_a_dataset_sealed_to_a_retired_fleet_key_stays_closed(fleet, worker, tmp_path):
    dataset = sealed_to(fleet, tmp_path, BUNDLE)
    old = fleet.store.active(BUNDLE)[0]
    fleet.store.add_key(BUNDLE, int(NOW.timestamp()) + 1)
    fleet.store.retire(old.key_sha256, int(NOW.timestamp()))
    with pytest.raises(DatasetProblem, match=r"retired fleet key.*push it again"):
        stage(worker, tmp_path / "input", dataset)
    assert not any((tmp_path / "input" / "datasets").iterdir())


def test_a_worker_stops_opening_a_retired_key_once_it_asks_again(fleet, tmp_path):
    key, now = EnclaveKey.generate(), [0.0]
    keys = DatacageKeys(key, fleet=fleet.keyring(key))
    keys.fleet.clock = lambda: now[0]
    dataset = sealed_to(fleet, tmp_path, BUNDLE)
    stage(keys, tmp_path / "first", dataset)  # held in memory from here
    fleet.store.retire(fleet.store.active(BUNDLE)[0].key_sha256, int(NOW.timestamp()))
    now[0] += timedelta(minutes=2).total_seconds()
    with pytest.raises(DatasetProblem, match="The key service refused"):
        stage(keys, tmp_path / "second", dataset)


def test_without_a_key_service_a_fleet_sealed_dataset_says_push_it_again(fleet, tmp_path):
    keys = DatacageKeys(EnclaveKey.generate())
    with pytest.raises(DatasetProblem, match=r"has no key service for fleet keys\); push it"):
        stage(keys, tmp_path / "input", sealed_to(fleet, tmp_path, BUNDLE))


def test_the_control_plane_refuses_to_be_given_the_key_service_file(tmp_path):
    with pytest.raises(ConfigError, match="KEY_SERVICE_KEY_FILE is the key service's own"):
        create_app({"TESTING": True, "KEY_SERVICE_KEY_FILE": str(tmp_path / "keys.json")})


def test_the_control_plane_has_no_route_to_a_fleet_key():
    app = create_app({"TESTING": True, "REGISTRY_PATH": ":memory:"})
    rules = " ".join(rule.rule for rule in app.url_map.iter_rules())
    assert "release" not in rules
    assert "fleet" not in rules
    assert "statements" not in rules


def test_the_control_plane_process_loads_no_opening_code():
    # The control plane with its fleet dispatch (the Celery app) and every view loaded.
    probe = (
        "import sys, json; from server import create_app; "
        "create_app({'TESTING': True, 'REGISTRY_PATH': ':memory:'}); "
        "import server.services, server.fleet.app, server.push.envelope as e; "
        "print(json.dumps([sorted(m for m in sys.modules if m.startswith(("
        "'server.datacage.envelope_open', 'server.datacage.fleet_keys', "
        "'server.keyrelease.store', 'server.keyrelease.release'))), "
        "[n for n in ('open_stream', 'read_header') if hasattr(e, n)]]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded, openers = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == []
    assert openers == []
