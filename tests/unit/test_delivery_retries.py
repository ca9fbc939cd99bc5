"""The retry schedule of a delivery whose pod keeps failing (an error path, so `responses`):
backoff doubling to a cap, "failed" after the limit, slow retries while held, destroyed after."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import responses

from connectors.solid import SolidClient
from server.datacage.control_plane import DeliveryTarget
from server.datacage.delivery import Deliveries, DeliveryQueue, DeliverySettings

WEBID = "https://consumer.example/profile/card#me"
CONTAINER = "https://consumer.example/results/"
PROFILE = (
    f"""<{WEBID}> <http://www.w3.org/ns/pim/space#storage> <https://consumer.example/> .""".encode()
)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@responses.activate
def test_backoff_doubles_then_fails_then_holds_then_destroys(tmp_path):
    responses.get("https://consumer.example/profile/card", body=PROFILE, content_type="text/turtle")
    responses.put(re.compile(re.escape(CONTAINER) + ".*"), status=503)
    now = [T0]
    reports: list[dict] = []
    settings = DeliverySettings(
        first_backoff_s=10, longest_backoff_s=30, max_attempts=4, held_retry_s=3600, hold_s=86400
    )
    deliveries = Deliveries(
        DeliveryQueue(tmp_path / "delivery"),
        SolidClient(),
        lambda _run, body: reports.append(body),
        settings,
        clock=lambda: now[0],
    )
    deliveries.start(
        "r1",
        "https://cp.example/runs/r1",
        b"<a:b> <a:c> <a:d> .",
        [DeliveryTarget(WEBID, CONTAINER)],
        [WEBID],
    )

    def waits() -> float:
        [entry] = deliveries.queue.entries()
        return entry.next_at - now[0].timestamp()

    assert waits() == 10  # after attempt 1
    for expected in (20, 30):  # doubled, then capped
        now[0] += timedelta(seconds=waits())
        deliveries.retry_due()
        assert waits() == expected
    now[0] += timedelta(seconds=waits())
    deliveries.retry_due()  # attempt 4: the limit
    [entry] = deliveries.queue.entries()
    assert (entry.state, entry.attempts) == ("failed", 4)
    assert waits() == 3600  # slow retries while held
    assert [r["state"] for r in reports] == ["retrying", "failed"]
    deliveries.retry_due()  # not due: nothing tried, nothing reported
    assert deliveries.queue.entries()[0].attempts == 4
    now[0] = T0 + timedelta(days=1, seconds=1)
    deliveries.retry_due()
    assert reports[-1]["state"] == "destroyed"
    assert deliveries.queue.entries() == []  # reported and forgotten
    assert not list((tmp_path / "delivery").glob("*/result.sealed"))
