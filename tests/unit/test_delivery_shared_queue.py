"""A fleet's shared delivery queue (an error path of pods, so `responses`): a second worker opens
what the first sealed with the fleet's key and retries it; two workers never attempt one run's
delivery at once; a copy of the shared folder without the key file opens nothing."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
import responses
from cryptography.exceptions import InvalidTag

from connectors.solid import SolidClient
from server.datacage.control_plane import DeliveryTarget
from server.datacage.delivery import Deliveries, DeliveryQueue, DeliverySettings

WEBID = "https://consumer.example/profile/card#me"
CONTAINER = "https://consumer.example/results/"
PROFILE = f"<{WEBID}> <http://www.w3.org/ns/pim/space#storage> <https://consumer.example/> ."
DOCUMENT = b"<urn:a> <urn:b> <urn:c> ."
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def fleet_key(tmp_path):
    path = tmp_path / "secrets" / "hold.key"
    path.parent.mkdir()
    path.write_bytes(secrets.token_bytes(32))
    return path


def _worker(root, key, now, reports) -> Deliveries:
    return Deliveries(
        DeliveryQueue(root, key),
        SolidClient(),
        lambda _run, body: reports.append(body),
        DeliverySettings(first_backoff_s=10),
        clock=lambda: now[0],
    )


@responses.activate
def test_a_result_sealed_by_one_worker_is_delivered_once_by_another(tmp_path, fleet_key):
    responses.get("https://consumer.example/profile/card", body=PROFILE, content_type="text/turtle")
    put = responses.put(re.compile(re.escape(CONTAINER) + ".*"), status=503)
    shared, now, reports = tmp_path / "shared", [T0], []
    first = _worker(shared, fleet_key, now, reports)
    first.start(
        "r1", "https://cp.example/runs/r1", DOCUMENT, [DeliveryTarget(WEBID, CONTAINER)], []
    )
    assert put.call_count == 1  # the first attempt failed; the first worker is then retired
    assert not (shared / "hold.key").exists()  # the key is not beside the sealed results

    responses.replace(responses.PUT, re.compile(re.escape(CONTAINER) + ".*"), status=201)
    second = _worker(shared, fleet_key, now, reports)
    now[0] += timedelta(seconds=11)
    second.retry_due()
    second.retry_due()
    first.retry_due()  # the retired worker's queue, had it come back: nothing left to do
    puts = [c for c in responses.calls if c.request.method == "PUT"]
    assert len(puts) == 2  # one failed attempt, one delivery; never a third
    assert puts[-1].request.body == DOCUMENT
    assert [r["state"] for r in reports] == ["retrying", "delivered"]


@responses.activate
def test_two_workers_never_attempt_one_runs_delivery_at_once(tmp_path, fleet_key):
    responses.get("https://consumer.example/profile/card", body=PROFILE, content_type="text/turtle")
    responses.put(re.compile(re.escape(CONTAINER) + ".*"), status=503)
    shared, now, reports = tmp_path / "shared", [T0], []
    first = _worker(shared, fleet_key, now, reports)
    first.start(
        "r1", "https://cp.example/runs/r1", DOCUMENT, [DeliveryTarget(WEBID, CONTAINER)], []
    )
    second = _worker(shared, fleet_key, now, reports)
    now[0] += timedelta(seconds=11)
    with first.queue.lock("r1") as mine:  # the first worker is in the middle of a pass
        assert mine
        second.retry_due()
    assert second.queue.entries("r1")[0].attempts == 1  # passed over, not attempted
    second.retry_due()
    assert second.queue.entries("r1")[0].attempts == 2


def test_a_copy_of_the_shared_folder_without_the_key_file_opens_nothing(tmp_path, fleet_key):
    shared = tmp_path / "shared"
    queue = DeliveryQueue(shared, fleet_key)
    from server.datacage.delivery.queue import Entry

    entry = Entry("r1", "https://cp.example/runs/r1", WEBID, CONTAINER, None, "n", 0.0, 1e12)
    queue.enqueue(DOCUMENT, [entry])
    assert DOCUMENT not in (shared / "r1" / "result.sealed").read_bytes()
    with pytest.raises(InvalidTag):
        DeliveryQueue(shared).document("r1")  # a key of its own, made in the copy
