"""The control plane's side of delivery over a real (in-memory) registry, and the datacage's queue
on a real file system: destinations in the job, delivery reports checked and kept, sealed files."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime

import pytest

from server.datacage.control_plane import ControlPlaneError, DeliveryTarget, Job
from server.datacage.delivery import DeliveryQueue, resource_name
from server.datacage.delivery.queue import Entry
from server.destinations import Destination, DestinationStore, record_delivery, statuses_of
from server.errors import ValidationFailed, WrongState
from server.runs.actions import Runs
from tests.support.runs_world import CAGE, OWNER, PUBLIC, active_space, attestation
from tests.support.runs_world import runs as runs

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONTAINER = "https://owner.example/results/"


@pytest.fixture
def with_destinations(runs):
    registry = runs.store._registry
    store = DestinationStore(registry)
    return Runs(runs.store, runs.spaces, runs.consents, lambda: CAGE, destinations=store), store


def test_the_claim_hands_the_datacage_each_consumers_container_without_voiding_approval(
    with_destinations,
):
    runs, store = with_destinations
    space = active_space(runs)
    store.put(Destination(space.iri, OWNER, CONTAINER, ("Append",), "WAC", NOW, None))
    assert store.get(space.iri, OWNER).container == CONTAINER
    assert runs.spaces.get(space.id, OWNER).missing_approvals == []  # not part of the terms
    run = runs.start(space.id, OWNER)
    body = runs.claim(CAGE, attestation(run.algorithm_digest)).as_json()
    assert body["deliveries"] == [{"consumer": OWNER, "container": CONTAINER, "inbox": None}]
    job = Job.from_json(body)
    assert job.deliveries == (DeliveryTarget(OWNER, CONTAINER, None),)
    assert job.consumers == (OWNER,)
    assert job.purposes == ("https://w3id.org/dpv#Marketing",)
    body["deliveries"] = [{"consumer": OWNER}]
    with pytest.raises(ControlPlaneError, match="cannot read"):
        Job.from_json(body)


def test_delivery_reports_are_checked_kept_and_only_for_a_run_the_datacage_delivers(
    with_destinations,
):
    runs, _ = with_destinations
    space = active_space(runs)
    run = runs.start(space.id, OWNER)
    with pytest.raises(WrongState):
        runs.delivering(run.id, CAGE)  # not claimed yet
    runs.claim(CAGE, attestation(run.algorithm_digest))
    _, claimed = runs.delivering(run.id, CAGE)
    registry = runs.store._registry
    report = {
        "consumer": OWNER,
        "state": "delivered",
        "attempts": 2,
        "location": CONTAINER + "r.ttl",
        "detail": "Written.",
        "notified": True,
    }
    record_delivery(registry(), claimed.iri, report, NOW, CONTAINER)
    [status] = statuses_of(registry(), claimed.iri)
    assert (status.state, status.attempts, status.location, status.notified) == (
        "delivered",
        2,
        CONTAINER + "r.ttl",
        True,
    )
    with pytest.raises(ValidationFailed):
        record_delivery(registry(), claimed.iri, {**report, "state": "lost"}, NOW, CONTAINER)
    moved = {**report, "location": "https://elsewhere.example/x"}  # queued before a change
    assert record_delivery(registry(), claimed.iri, moved, NOW, CONTAINER).location is None
    with pytest.raises(ValidationFailed):
        record_delivery(registry(), claimed.iri, {**report, "location": "file:///x"}, NOW, None)


def _entry(run_id: str = "run1") -> Entry:
    return Entry(run_id, PUBLIC + "runs/" + run_id, OWNER, CONTAINER, None, "n.ttl", 0.0, 10.0)


def test_the_queue_is_sealed_private_and_read_again_after_a_restart(tmp_path):
    queue = DeliveryQueue(tmp_path / "delivery")
    document = b"<https://x.example/r> <https://x.example/p> 'secret result' ."
    queue.enqueue(document, [_entry()])
    sealed = tmp_path / "delivery" / "run1" / "result.sealed"
    assert b"secret result" not in sealed.read_bytes()
    for path in (tmp_path / "delivery").rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    again = DeliveryQueue(tmp_path / "delivery")  # a restarted worker
    assert again.document("run1") == document
    [entry] = again.entries()
    assert entry.state == "retrying"
    entry.attempts = 3
    again.save(entry)
    assert json.loads((sealed.parent / entry.file_name).read_bytes())["attempts"] == 3
    assert not list(sealed.parent.glob(".*.tmp"))  # nothing half-written left behind
    queue.enqueue(document, [_entry()])  # queued twice: the entry is not reset
    assert again.entries()[0].attempts == 3
    assert resource_name("run1", document) == resource_name("run1", document)


def test_a_damaged_hold_key_is_refused_in_plain_words(tmp_path):
    DeliveryQueue(tmp_path / "delivery")
    (tmp_path / "delivery" / "hold.key").write_bytes(b"short")
    with pytest.raises(RuntimeError, match="damaged"):
        DeliveryQueue(tmp_path / "delivery")
