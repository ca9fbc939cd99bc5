"""A pushed dataset in a fleet: the provider seals it to the fleet key the key service vouches
for (server/keyrelease), and any worker the key service finds attested opens it, whichever
worker published the evidence the provider saw.

Real parts: the control plane, CSS pods, worker objects with their own enclave keys and
software attestation keys, and the key service's release check served over HTTP. A worker
that cannot open a dataset refuses in plain words and keeps nothing."""

from __future__ import annotations

import logging
import time

import pytest

from server.attestation import SoftwareAttestationProvider
from server.runs.model import RunStatus
from tests.support.datacage_world import make_worker
from tests.support.key_service_world import key_service
from tests.support.push_world import customers, world  # noqa: F401

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def fleet(world):  # noqa: F811
    """A key service trusting workers A (the world's) and B (cage-b); A publishes with it."""
    b = SoftwareAttestationProvider(world.tmp / "cage-b" / "attestation")
    pems = [world.worker.provider.public_key_pem(), b.public_key_pem()]
    with key_service(world.tmp / "keys", world.space.algorithm.digest, pems) as service:
        world.worker = make_worker(
            world.base, world.cage, world.tmp / "cage", key_service=service.client()
        )
        assert world.worker.publish_evidence() == 1
        yield service


def test_a_dataset_pushed_while_worker_a_held_the_key_is_read_by_worker_b(
    world,  # noqa: F811
    fleet,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    pushed = world.push(
        customers(world.tmp, 5), "customers", world.file_connector(), policy=fleet.provider_policy()
    )
    assert pushed.target.fleet is not None  # sealed to the fleet key, not to A's enclave key
    assert pushed.target.fleet.key_sha256 == fleet.store.keys[0].key_sha256
    worker_b = make_worker(world.base, world.cage, world.tmp / "cage-b", key_service=fleet.client())
    world.worker = worker_b
    run = world.run()
    assert run.status is RunStatus.SUCCEEDED, (run.outcome, world.why)
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for form in fleet.private_forms():
        assert form not in logged  # the fleet's private key is in no log line, nor its extras


def test_meanwhile_worker_b_refuses_in_plain_words_and_keeps_nothing(world):  # noqa: F811
    # Without a key service, a dataset sealed to worker A's own enclave key stays closed to B.
    world.push(customers(world.tmp, 5), "customers", world.file_connector())
    world.worker = make_worker(world.base, world.cage, world.tmp / "cage-b")
    run = world.run()
    assert run.status is RunStatus.FAILED
    assert "push it again" in world.why
    assert not any((world.tmp / "cage-b" / "work").iterdir())


def test_a_worker_the_key_service_does_not_trust_gets_no_key_and_keeps_nothing(
    world,  # noqa: F811
    fleet,
):
    world.push(
        customers(world.tmp, 5), "customers", world.file_connector(), policy=fleet.provider_policy()
    )
    # Worker C signs its evidence with a software key the key service's policy does not trust.
    world.worker = make_worker(
        world.base, world.cage, world.tmp / "cage-c", key_service=fleet.client()
    )
    run = world.run()
    assert run.status is RunStatus.FAILED
    assert "The key service refused this datacage its fleet key (403)" in world.why
    assert "does not trust" in world.why
    assert not any((world.tmp / "cage-c" / "work").iterdir())


def test_a_dataset_sealed_to_a_retired_fleet_key_is_refused_in_plain_words(
    world,  # noqa: F811
    fleet,
):
    world.push(
        customers(world.tmp, 5), "customers", world.file_connector(), policy=fleet.provider_policy()
    )
    old = fleet.store.keys[0]
    fleet.store.add_key(world.space.algorithm.digest, int(time.time()) + 1)  # the rotation
    fleet.store.retire(old.key_sha256, int(time.time()))
    world.worker = make_worker(
        world.base, world.cage, world.tmp / "cage-b", key_service=fleet.client()
    )
    run = world.run()
    assert run.status is RunStatus.FAILED
    assert "retired" in world.why
    assert "push it again" in world.why
    assert not any((world.tmp / "cage-b" / "work").iterdir())
