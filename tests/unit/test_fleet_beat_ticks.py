"""The beat's frequent ticks expire after their own period: a worker busy with a long run finds
the lists of waiting runs and delivery retries sent meanwhile already replaced by newer ones
and discards them, instead of working through every one before it takes the next run; the
recurring check and the consent-expiry sweep are never dropped. Through Celery's own beat
scheduler, message and worker request, on kombu's in-memory broker."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from celery.beat import Scheduler
from celery.worker.request import Request

from server.fleet.app import (
    DELIVER_DUE,
    EXPIRE_CONSENTS,
    OFFER_WAITING,
    QUEUE,
    START_RECURRING,
    FleetSettings,
    make_app,
)

PERIODS = {
    OFFER_WAITING: 0.2,
    DELIVER_DUE: 0.3,
    START_RECURRING: 0.4,
    EXPIRE_CONSENTS: 0.5,
}


@pytest.fixture(scope="module")
def app():
    settings = FleetSettings(
        broker_url="memory://",
        offer_every_s=PERIODS[OFFER_WAITING],
        deliver_every_s=PERIODS[DELIVER_DUE],
        offer_ttl_s=60.0,
        recurring_every_s=PERIODS[START_RECURRING],
        expire_every_s=PERIODS[EXPIRE_CONSENTS],
        visibility_timeout_s=3600.0,
    )
    return make_app(settings)


def beat_ticks(app) -> list:
    """One tick of each periodic task, sent as the beat sends it; the messages as a worker
    receives them from the queue."""
    scheduler = Scheduler(app)
    with app.connection_for_write() as connection:
        with connection.Producer() as producer:
            for entry in scheduler.schedule.values():
                if entry.task in PERIODS:
                    scheduler.apply_async(entry, producer=producer)
        queue = connection.SimpleQueue(QUEUE)
        messages = []
        while len(messages) < len(PERIODS):
            message = queue.get(timeout=5)
            messages.append(message)
        queue.close()
    return messages


EXPIRING = {OFFER_WAITING, DELIVER_DUE}


def test_each_frequent_tick_is_sent_to_expire_after_its_own_period(app):
    sent = datetime.now().astimezone()
    for message in beat_ticks(app):
        task = message.headers["task"]
        expires = message.headers["expires"]
        if task not in EXPIRING:
            assert expires is None, f"{task} may be dropped"
            continue
        assert expires is not None, f"{task} never expires"
        lives = datetime.fromisoformat(expires) - sent
        assert timedelta(0) < lives <= timedelta(seconds=PERIODS[task] + 1)


def test_a_worker_discards_a_frequent_tick_older_than_its_period_and_runs_the_rest(app):
    messages = beat_ticks(app)

    def requests() -> dict[str, Request]:
        return {
            m.headers["task"]: Request(m, app=app, task=app.tasks[m.headers["task"]])
            for m in messages
        }

    assert not any(request.revoked() for request in requests().values())
    time.sleep(max(PERIODS.values()) + 0.1)  # a run under way: the ticks wait in the queue
    late = requests()
    assert {task for task, request in late.items() if request.revoked()} == EXPIRING
