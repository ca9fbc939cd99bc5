"""Offering waiting runs through a real `redis-server`: each offer goes out once however often
the waiting runs are listed, again after its time to live (a task lost with a broker restart),
and a run offered again after a lapse (a new offer number) goes out at once."""

from __future__ import annotations

import time

import pytest

from server import config
from server.datacage.control_plane import WaitingRun
from server.fleet.app import QUEUE, TAKE_RUN, FleetSettings, make_app, send_offers
from server.fleet.offers import Offers
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


def _queued(broker) -> list[bytes]:
    client = broker.client()
    try:
        return client.lrange(QUEUE, 0, -1)
    finally:
        client.close()


def test_each_offer_is_sent_once_then_again_after_its_time_to_live(broker):
    app = make_app(FleetSettings(broker.url, **config.fleet_periods(config.DEFAULTS)))
    offers = Offers(broker.url, ttl_s=0.5)
    waiting = [WaitingRun("run1", "sha256:" + "a" * 64, 0)]
    before = len(_queued(broker))
    assert send_offers(app, offers, waiting) == 1
    assert send_offers(app, offers, waiting) == 0  # listed again by the next beat
    assert send_offers(app, offers, [WaitingRun("run1", waiting[0].digest, 1)]) == 1  # lapsed
    time.sleep(0.6)
    assert send_offers(app, offers, waiting) == 1  # a task may have been lost: sent again
    messages = _queued(broker)[: len(_queued(broker)) - before]
    assert len(messages) == 3
    assert all(TAKE_RUN.encode() in m and b"run1" in m for m in messages)
    offers.close()


def test_with_the_broker_down_nothing_is_recorded_as_offered(broker):
    offers = Offers(broker.url, ttl_s=60)
    broker.stop()
    try:
        assert offers.first("run2", 0) is False  # not sent now, so not marked as sent
    finally:
        broker.start()
    assert offers.first("run2", 0) is True
    offers.close()
