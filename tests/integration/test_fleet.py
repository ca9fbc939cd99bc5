"""A fleet of datacages on Celery and a real `redis-server`, attacked: a worker killed mid-run, a
worker paused until its lease lapses (then woken, with its late reports), the broker restarted
mid-run, a task message delivered twice and workers racing for one run. Each ends with exactly
one outcome per run, one delivered copy per consumer and one usage record per person; the
broker never holds anything but identifiers.

Three worker processes (`datacage worker --broker`), each with its own enclave key, work folder
and sandbox ids, one beat (`datacage fleet-beat`), the real CSS, the real sandbox, a live
control plane with short leases that dispatches started runs to the broker.
"""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import pytest

from server import config
from server.consent.usage import uses_of
from server.fleet.app import TAKE_RUN, FleetSettings, make_app
from server.protocol.outcomes import Outcome
from server.runs.model import RunStatus
from server.services import services
from tests.conftest import make_account, make_user
from tests.support.datacage_world import consented_space, fill_pods, serve_control_plane
from tests.support.delivery_world import designated
from tests.support.fleet_world import Fleet, wait_for
from tests.support.redis_server import RedisServer

SLOW = Path(__file__).parents[1] / "fixtures" / "bundles" / "slow-survey"
PEOPLE = 5
LEASE_S = 6.0
WORKERS = ("w1", "w2", "w3")
RUN_S = 120  # a run under a loaded 2-core machine, lapse included
# Seven accounts with pods and five consents before the first test, then runs of a few seconds.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def world(css_accounts, pytestconfig, broker, tmp_path_factory):
    new_user = make_user.__wrapped__(
        make_account.__wrapped__(css_accounts, pytestconfig),
        css_accounts.create_client_credentials,
    )
    owner, cage = new_user("fleet-owner"), new_user("fleet-cage")
    people = [new_user(f"fleet-person{n}") for n in range(PEOPLE)]
    folder = tmp_path_factory.mktemp("fleet")
    config = {"RUN_LEASE_SECONDS": LEASE_S, "FLEET_BROKER_URL": broker.url}
    with serve_control_plane(folder / "control", cage.webid, config) as (base, app):
        fill_pods(people)
        fleet = Fleet(base, cage, folder / "fleet", broker.url)
        try:
            for name in WORKERS:
                fleet.start_worker(name)
            fleet.start_beat()
            yield {"app": app, "owner": owner, "cage": cage, "people": people, "fleet": fleet}
        finally:
            fleet.stop()


def _space(world):
    """A fresh approved space every person consented to; the owner takes results in a
    container of its own."""
    app, owner = world["app"], world["owner"]
    tag = uuid.uuid4().hex[:6]
    space = consented_space(
        app, owner.webid, world["people"], world["cage"].webid, SLOW, f"Slow {tag}"
    )
    container = designated(
        app, space, owner, world["cage"].webid, f"results-{tag}/"
    ).destination.container
    return space, container


def _start(world, space):
    return services(world["app"]).runs.start(space.id, world["owner"].webid)


def _load(world, run_id):
    return services(world["app"]).runs.store.load(run_id)


def _finished(world, run_id):
    def done():
        run = _load(world, run_id)
        return run if run.status.finished else None

    run = wait_for(done, RUN_S, every=0.25)
    assert run, f"the run did not end: {_load(world, run_id)}\n{_logs(world)}"
    return run


def _logs(world) -> str:
    fleet = world["fleet"]
    return "\n".join(f"--- {n}\n{fleet.log(n)[-3000:]}" for n in fleet.processes)


def _running_at(world, run_id) -> str:
    """Wait until a worker runs the algorithm of `run_id`; that worker's name."""

    def holder():
        run = _load(world, run_id)
        name = world["fleet"].holder(run_id)
        return name if name and run.stage == "running" else None

    name = wait_for(holder, RUN_S, every=0.05)
    assert name, f"no worker ran it: {_load(world, run_id)}\n{_logs(world)}"
    return name


def _exactly_once(world, run, container) -> None:
    """One outcome (one finish in the audit trail), one delivered copy, one record per person."""
    app = world["app"]

    def finishes():
        return [
            e
            for e in services(app).audit.entries(run.space_iri)
            if e.event.action == "run-finished" and run.iri in e.event.about
        ]

    # The audit entry follows the run's record by a moment (its own write).
    assert wait_for(finishes, 20)
    assert len(finishes()) == 1
    owner = world["owner"]

    def copies():
        entries = owner.client.list_container(container)
        return [e for e in entries if e.url.rsplit("/", 1)[-1].startswith(run.id)]

    if run.outcome is Outcome.SUCCEEDED:
        assert wait_for(copies, 30), "the result was not delivered"
    assert len(copies()) == (1 if run.outcome is Outcome.SUCCEEDED else 0)
    for person in world["people"]:
        records = [u for u in uses_of(services(app).registry, person.webid) if u.run == run.iri]
        assert len(records) <= 1
        if run.outcome is Outcome.SUCCEEDED:
            assert len(records) == 1


def _broker_contents(broker) -> bytes:
    client = broker.client()
    dump = b""
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == b"list":
            values = client.lrange(key, 0, -1)
        elif kind == b"hash":
            values = [v for pair in client.hgetall(key).items() for v in pair]
        elif kind == b"zset":
            values = client.zrange(key, 0, -1)
        elif kind == b"set":
            values = list(client.smembers(key))
        else:
            values = [client.get(key) or b""]
        dump += key + b"\n" + b"\n".join(values) + b"\n"
    client.close()
    return dump


def test_workers_racing_and_a_task_delivered_twice_make_one_claim_and_the_broker_sees_ids_only(
    world, broker
):
    space, container = _space(world)
    run = _start(world, space)  # dispatched to the broker by the control plane
    producer = make_app(FleetSettings(broker.url, **config.fleet_periods(config.DEFAULTS)))
    for _ in range(3):  # the same task message, again and again: every worker gets one
        producer.send_task(TAKE_RUN, (run.id, run.algorithm_digest, 0), queue="datacage")
    seen = _broker_contents(broker)
    _running_at(world, run.id)
    seen += _broker_contents(broker)
    done = _finished(world, run.id)
    assert done.outcome is Outcome.SUCCEEDED, _logs(world)
    assert done.claims == 1
    _exactly_once(world, done, container)
    assert run.id.encode() in seen  # the test looked at the right place
    people = world["people"]
    for secretish in [p.webid for p in people] + [p.pod for p in people] + ["example.org"]:
        assert secretish.encode() not in seen
    for word in (b"Datacage-Lease", b"token", b"BEGIN", b"survey", b"@prefix"):
        assert word not in seen


def test_a_worker_killed_mid_run_leaves_the_run_to_another_and_nothing_decrypted(world):
    fleet = world["fleet"]
    space, container = _space(world)
    run = _start(world, space)
    victim = _running_at(world, run.id)
    fleet.kill(victim)
    work = fleet.data_dir(victim) / "work"
    assert list(work.glob("*/input/index.json")), "the kill came too late to test anything"
    done = _finished(world, run.id)  # the lease lapses; the run is offered again
    assert done.outcome is Outcome.SUCCEEDED, _logs(world)
    assert done.claims == 2
    _exactly_once(world, done, container)
    fleet.start_worker(victim)  # restarted: it sweeps what it left before taking a task
    assert wait_for(lambda: work.is_dir() and not any(work.iterdir()), 60), _logs(world)
    assert _load(world, run.id).outcome is Outcome.SUCCEEDED  # its late "restarted": refused


def test_a_paused_worker_loses_its_lease_and_its_late_reports_are_refused(world):
    fleet = world["fleet"]
    space, container = _space(world)
    run = _start(world, space)
    sleeper = _running_at(world, run.id)
    fleet.signal(sleeper, signal.SIGSTOP)
    try:
        done = _finished(world, run.id)
    finally:
        fleet.signal(sleeper, signal.SIGCONT)
    assert done.outcome is Outcome.SUCCEEDED, _logs(world)
    assert done.claims == 2
    # Woken, it finishes the algorithm and reports: refused, so it neither hands its result
    # over nor ends the run, and it deletes its copy of the inputs.
    work = fleet.data_dir(sleeper) / "work"
    assert wait_for(lambda: not any(work.iterdir()), 60), _logs(world)
    after = _load(world, run.id)
    assert (after.outcome, after.result_digest, after.claims) == (
        done.outcome,
        done.result_digest,
        2,
    )
    _exactly_once(world, after, container)


def test_the_broker_restarted_mid_run_loses_nothing(world, broker):
    space, container = _space(world)
    run = _start(world, space)
    _running_at(world, run.id)
    broker.restart()  # no persistence: every queued task and offer is gone
    done = _finished(world, run.id)
    assert done.outcome is Outcome.SUCCEEDED, _logs(world)
    _exactly_once(world, done, container)
    after = _start(world, space)  # the fleet took up its work again with the new broker
    again = _finished(world, after.id)
    assert again.outcome is Outcome.SUCCEEDED, _logs(world)
    assert again.status is RunStatus.SUCCEEDED
    _exactly_once(world, again, container)
