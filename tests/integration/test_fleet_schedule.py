"""Recurring runs on a schedule, with a real `redis-server`: two beats (`datacage fleet-beat`)
ticking every few tenths of a second start one run of a recurring space, none of a space that
is not recurring or no longer active; two single-machine workers (no broker) ticking from
their own loops do the same, with the same task code. The live control plane decides by
compare-and-swap (`server.runs.recurring`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, request, request_finished

from server.consent.give import give_consent
from server.consent.model import ConsentState, PodResource
from server.datacage.schedule import Timer
from server.services import services
from tests.conftest import make_account, make_user
from tests.support.consent_space import make_active_space
from tests.support.datacage_world import REQUESTS, fill_pods, make_worker, serve_control_plane
from tests.support.fleet_world import Fleet, wait_for
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until

TICK_S = 0.3
INTERVAL_S = 3600.0  # one run per space for the whole test: a second would be a duplicate
#: Ticks the control plane answers after the first run, each a chance of a duplicate.
RACING_TICKS = 20
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def world(css_accounts, pytestconfig, tmp_path_factory):
    new_user = make_user.__wrapped__(
        make_account.__wrapped__(css_accounts, pytestconfig),
        css_accounts.create_client_credentials,
    )
    owner, cage = new_user("sched-owner"), new_user("sched-cage")
    person = new_user("sched-person")
    fill_pods([person])
    folder = tmp_path_factory.mktemp("schedule")
    with RedisServer(folder / "redis") as broker:
        config = {"RECURRING_INTERVAL": INTERVAL_S, "FLEET_BROKER_URL": broker.url}
        with serve_control_plane(folder / "control", cage.webid, config) as (base, app):
            yield {
                "person": person,
                "app": app,
                "base": base,
                "owner": owner,
                "cage": cage,
                "broker": broker,
                "folder": folder,
            }


def _spaces(world, tag: str):
    app, owner = world["app"], world["owner"].webid
    weekly = make_active_space(app, owner, REQUESTS, name=f"Weekly {tag}", recurring=True)
    once = make_active_space(app, owner, REQUESTS, name=f"Once {tag}")
    closed = make_active_space(app, owner, REQUESTS, name=f"Closed {tag}", recurring=True)
    services(app).spaces.close(closed.id, owner)
    return weekly, once, closed


def _run_count(world, space) -> int:
    return len(services(world["app"]).runs.store.of_space(space.iri))


@contextmanager
def _recurring_ticks(app: Flask) -> Iterator[list[int]]:
    """The recurring ticks the control plane answered while inside, one entry each: the
    event the test waits on, rather than a time in which ticks will probably have come."""
    answered: list[int] = []

    def count(sender: Flask, response, **extra) -> None:
        if request.path.endswith("/schedule/recurring") and response.status_code == 200:
            answered.append(response.status_code)

    request_finished.connect(count, app)
    try:
        yield answered
    finally:
        request_finished.disconnect(count, app)


def _one_run_then_no_more(world, weekly, once, closed, ticks: list[int]) -> None:
    assert wait_for(lambda: _run_count(world, weekly) >= 1, 60, every=0.2)
    seen = len(ticks)
    wait_until(lambda: len(ticks) >= seen + RACING_TICKS, f"{RACING_TICKS} more ticks", 120)
    assert _run_count(world, weekly) == 1
    assert _run_count(world, once) == 0
    assert _run_count(world, closed) == 0


def test_two_beats_racing_start_one_recurring_run(world):
    weekly, once, closed = _spaces(world, "beats")
    fleet = Fleet(
        world["base"],
        world["cage"],
        world["folder"] / "fleet",
        world["broker"].url,
        env={"DATACAGE_FLEET_RECURRING_EVERY_S": str(TICK_S)},
    )
    try:
        with _recurring_ticks(world["app"]) as ticks:
            fleet.start_worker("w1")
            fleet.start_worker("w2")
            fleet.start_beat("beat1")
            fleet.start_beat("beat2")
            _one_run_then_no_more(world, weekly, once, closed, ticks)
        logs = fleet.log("w1") + fleet.log("w2")
        assert logs.count("datacage.start_recurring") >= 4, logs[-3000:]  # both beats ticked
    finally:
        fleet.stop()


def _consent_given_long_ago(world, space):
    """A consent for a year, given two years ago: past its end, still recorded as given."""
    app, person = world["app"], world["person"]
    return give_consent(
        services(app).consents,
        services(app).spaces.get(space.id, world["owner"].webid),
        person.client,
        grantee=world["cage"].webid,
        resources=[PodResource(person.pod + "shop/orders.csv")],
        storage=person.pod,
        clock=lambda: datetime.now(UTC) - timedelta(days=730),
    )


def test_two_single_machine_workers_ticking_start_one_recurring_run_and_expire_consents(
    world, tmp_path
):
    weekly, once, closed = _spaces(world, "machines")
    stale = _consent_given_long_ago(world, once)
    assert stale.state is ConsentState.GIVEN
    stop = threading.Event()
    threads = []
    with _recurring_ticks(world["app"]) as ticks:
        for name in ("m1", "m2"):
            cage = make_worker(world["base"], world["cage"], tmp_path / name)
            timer = Timer({"recurring": TICK_S, "expiry": TICK_S})
            thread = threading.Thread(
                target=cage.serve, args=(stop, TICK_S), kwargs={"schedule": timer}, daemon=True
            )
            thread.start()
            threads.append(thread)
        try:
            _one_run_then_no_more(world, weekly, once, closed, ticks)
            consents = services(world["app"]).consents

            def expired() -> bool:
                history = consents.history(once.iri, world["person"].webid)
                return history.consents[-1].state is ConsentState.EXPIRED

            assert wait_for(expired, 60, every=0.3)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
