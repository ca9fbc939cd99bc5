"""A fleet of datacages on Celery and Redis: the same set of runs on 1 and on 3 workers, and what
dispatching a run through the engine costs against the same run started in-process.

The world: two Community Solid Servers, `--people` people on each, every person consenting
to each of `--spaces` spaces running the sample shop survey (so each run pulls two resources
of every person from both servers and writes a usage record into each person's pod), a live
control plane dispatching started runs to a real `redis-server`, and worker processes
started as an operator starts them (`datacage worker --broker`, `datacage fleet-beat`).

The rounds are interleaved, so that the drift of a shared machine's load weighs on both sides
of each ratio alike (as bench/pulls.py alternates its sides): `--rounds R` is R turns of each
side in the order A B B A A B B A ... (`abba`); an even R makes whole A-B-B-A blocks, in which
a steady drift cancels out. Each figure is the median of its side's turns (with R = 2, their
mean), and every turn is printed as it ends (`fleet_wall_s_1_round1=`, ...), with the load
average then (`load_fleet_wall_s_1_round1=`) and, for a single run, the run record's seconds
from the start request to the claim and from the claim to the end (`..._claim_wait_s_round1`,
`..._claim_to_end_s_round1`; the record keeps whole seconds).

- `fleet_wall_s_1`, `fleet_wall_s_3`: one run of every space, started at once, until the last
  ends, on 1 worker process and on 3, in the order W1 W3 W3 W1 ...; each set on a fleet started
  for it (untimed), so each includes its workers' first sign-in and bundle download, as for a
  fleet just started. `fleet_speedup_3` is the ratio of their medians. All of it shares this
  machine's cores (the CSS servers, the control plane, the workers, the sandboxes): the
  speedup says what a fleet gains here, not on machines of their own.
- `run_engine_s`, `run_inprocess_s`: one run of one space, from start to end, dispatched through
  the broker to a waiting worker process, against the same run carried out by a worker in this
  process (`Worker.run_once`, the in-process mode of the same task code), in the order E I I E
  ...; each side warmed first by one untimed run. `broker_overhead_ratio` is the ratio of their
  medians. Both sides pull, run and gate the same data. The fleet is stopped (outside the timed
  part) while the in-process worker works, or its worker would take the runs the control plane
  dispatches to the broker: those tasks wait in the broker, and when the fleet is started again
  its worker refuses each at the claim (the run has ended: `'not waiting'`). The bench waits
  for those refusals before it times the next engine run, and checks that they changed nothing
  on the ended runs (the records are equal before and after): harmless, and it is where the
  restarted worker pays its sign-in and bundle check, untimed. `queued_tasks_before_engine`
  is how many tasks were waiting in the broker when an engine run was started.
- The fleet runs with the default periods of an operator's fleet (DATACAGE_FLEET_*: a list of
  waiting runs every 10 s, ...), not the test suite's fast ones. `--logs DIR` keeps the fleet's
  logs (Celery's lines say when each task came and how long it took).

What is seeded how (bench/fleet_people.py), none of it timed in the figures above:
- **accounts**: a real CSS account per person (password login, pod, WebID), made through
  CSS's account API, and client credentials with which the person signs in (Solid-OIDC, DPoP);
- **pod contents**: each person's customer record and orders, written into their server's file
  store as a pod provider seeds its disk, each with its own ACL giving the owner control;
- **consents**: given through `give_consent`, the service the consent page calls, signed in as
  the person: the registry's reservation and record, the Read grants in the pod's ACLs (which
  CSS then enforces on every read of the runs), the receipt and the usage-records container.
  The consent page itself has its own benchmark (bench/consent_check.py).
Set-up asks each single-threaded CSS for at most two things at once, and tries a call again
only when a busy server dropped it, during set-up only: the measured runs are the worker's.

Prints `name=value` lines; the last two are `fleet_speedup_3` and `broker_overhead_ratio`.
`people_s` (accounts, sign-ins, pod contents), `consents_s`, `setup_s` (all of the set-up) and
`setup_retries` (set-up calls a busy server dropped and that were tried again) are printed
apart: they measure the test bed, not the fleet.

    python bench/fleet.py [--people N] [--spaces S] [--rounds R] [--logs DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TypeVar

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling module

import fleet_people
from fleet_people import SET_UP_TIMEOUT, account, consent_all, make_people, signed_in

from connectors.solid.css import CommunitySolidServer, CssAccountApi
from server import config
from server.fleet.app import QUEUE
from server.services import services
from tests.support.consent_space import make_active_space
from tests.support.datacage_world import REQUESTS, SURVEY, make_worker, serve_control_plane
from tests.support.fleet_world import Fleet, wait_for
from tests.support.redis_server import RedisServer

T = TypeVar("T")

#: The fleet's periods as an operator gets them, not the test suite's fast ones
#: (tests/support/fleet_world.py): a list of waiting runs every 0.5 s is work an operator's
#: workers never do, and the figures are for sizing an operator's fleet.
DEFAULT_PERIODS = {f"DATACAGE_{name}": str(config.DEFAULTS[name]) for name in config.FLEET_PERIODS}


def abba(rounds: int, a: T, b: T) -> list[T]:
    """`rounds` turns of each side in the order A B B A A B B A ...: every pair of turns is
    mirrored by the next, so a load that rises or falls through the rounds weighs on both
    sides alike (a linear drift cancels out over each A-B-B-A block)."""
    if rounds < 1:
        raise ValueError("at least one round of each side")
    order: list[T] = []
    for index in range(rounds):
        order += [a, b] if index % 2 == 0 else [b, a]
    return order


def finished(app, run_ids: list[str], seconds: float = 1800) -> None:
    store = services(app).runs.store

    def all_done() -> bool:
        return all(store.load(r).status.finished for r in run_ids)

    if not wait_for(all_done, seconds, every=0.1):
        raise SystemExit("runs did not finish: " + ", ".join(run_ids))
    failed = [r for r in run_ids if store.load(r).outcome is None or not store.load(r).gate_passed]
    if failed:
        raise SystemExit(f"runs did not succeed: {[store.load(r).outcome for r in failed]}")


def start_fleet(fleet: Fleet, workers: int) -> None:
    for n in range(workers):
        # The file of the fleet before is no sign of life.
        (fleet.data_dir(f"w{n + 1}") / "heartbeat").unlink(missing_ok=True)
        fleet.start_worker(f"w{n + 1}")
    fleet.start_beat()
    for n in range(workers):
        beat = fleet.data_dir(f"w{n + 1}") / "heartbeat"
        if not wait_for(beat.exists, 120):
            raise SystemExit(f"worker w{n + 1} did not start:\n{fleet.log(f'w{n + 1}')[-2000:]}")


def stop_fleet(fleet: Fleet) -> None:
    fleet.stop()
    fleet.processes.clear()


def refused_at_claim(fleet: Fleet, app, before: dict, log_from: int, queue) -> None:
    """Wait until the fleet's worker, started again, has refused at the claim the tasks the
    control plane sent for runs it started while the fleet was stopped (`before`: those runs'
    records, already ended by the in-process worker; `log_from`: the worker log's length when
    the fleet was started), and check that the refusals changed nothing on them. Untimed: the
    worker's sign-in and bundle check are paid here. Celery's line for a task names no run:
    the refusals are counted (`'not waiting'`, the claim's answer to an ended run), and the
    broker's queue must be empty."""
    store = services(app).runs.store

    def all_refused() -> bool:
        refused = fleet.log("w1")[log_from:].count("'not waiting'")
        return refused >= len(before) and queue.llen(QUEUE) == 0

    if not wait_for(all_refused, 300, every=0.2):
        raise SystemExit(f"the fleet did not refuse the stale tasks:\n{fleet.log('w1')[-2000:]}")
    changed = [run_id for run_id, run in before.items() if store.load(run_id) != run]
    if changed:
        raise SystemExit(f"a stale task changed ended runs: {changed}")


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=200, help="people on each CSS server")
    parser.add_argument("--spaces", type=int, default=3)
    parser.add_argument(
        "--rounds", type=int, default=2, help="turns of each side (even: whole A-B-B-A blocks)"
    )
    parser.add_argument("--logs", type=Path, help="a folder to keep the fleet's logs in")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # one line per consent and pull would drown the figures
    # `kill` ends it through its `finally`s: no pod server, broker or worker left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    sys.stdout.reconfigure(line_buffering=True)  # figures as they come, into a file too
    # Every server here is on this machine: the control plane and the workers may reach
    # loopback (the test suite allows it the same way, tests/conftest.py).
    os.environ.setdefault("DATACAGE_EGRESS_ALLOW", "loopback")

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        made = [CommunitySolidServer(), CommunitySolidServer()]
        for server in made:
            stack.callback(server.stop)
        # The starting threads live as long as the servers: a child dies with the thread that
        # started it (PR_SET_PDEATHSIG), so the pool is shut down only at the end.
        pool = ThreadPoolExecutor(len(made))
        stack.callback(pool.shutdown)
        servers = list(pool.map(lambda server: server.start(timeout=600), made))
        broker = stack.enter_context(RedisServer(folder / "redis"))
        apis = [
            stack.enter_context(CssAccountApi(s.base_url, timeout=SET_UP_TIMEOUT[1]))
            for s in servers
        ]
        figures = measure(folder, servers, apis, broker, args)
    for name, value in figures.items():
        print(f"{name}={value}")


def measure(folder: Path, servers, apis, broker: RedisServer, args) -> dict[str, str]:
    began = time.perf_counter()
    owner_account = account(apis[0], "owner@example.org", "owner")
    cage = signed_in(apis[0], account(apis[0], "cage@example.org", "cage"))
    by_server = make_people(servers, apis, args.people)
    people = [person for group in by_server for person in group]
    print(f"people_s={time.perf_counter() - began:.1f}", flush=True)
    config = {"FLEET_BROKER_URL": broker.url, "RUN_LEASE_SECONDS": 60.0}
    queue = redis.Redis.from_url(broker.url)
    with serve_control_plane(folder / "control", cage.webid, config) as (base, app):
        owner = owner_account.webid
        consenting = time.perf_counter()
        spaces = [
            make_active_space(app, owner, REQUESTS, bundle_source=SURVEY, name=f"F{n}")
            for n in range(args.spaces)
        ]
        consent_all(app, spaces, owner, by_server, cage.webid)
        print(f"consents_s={time.perf_counter() - consenting:.1f}", flush=True)
        # Accounts, sign-ins, pod contents and every consent.
        print(f"setup_s={time.perf_counter() - began:.1f}", flush=True)
        print(f"setup_retries={len(fleet_people.retried)}", flush=True)
        print(f"load_setup_end={load()}", flush=True)
        runs = services(app).runs
        store = runs.store
        fleet = Fleet(base, cage, folder / "fleet", broker.url, env=DEFAULT_PERIODS)

        def run_set() -> float:
            t0 = time.perf_counter()
            finished(app, [runs.start(s.id, owner).id for s in spaces])
            return time.perf_counter() - t0

        def engine_run() -> tuple[float, str]:
            t0 = time.perf_counter()
            run_id = runs.start(spaces[0].id, owner).id
            finished(app, [run_id])
            return time.perf_counter() - t0, run_id

        def inprocess_run() -> tuple[float, str]:
            t0 = time.perf_counter()
            run = runs.start(spaces[0].id, owner)
            if local.run_once() is None:
                raise SystemExit("the in-process worker found no run")
            finished(app, [run.id])
            return time.perf_counter() - t0, run.id

        def report(name: str, turn: int, seconds: float, run_id: str | None = None) -> None:
            print(f"{name}_round{turn}={seconds:.3f}", flush=True)
            print(f"load_{name}_round{turn}={load()}", flush=True)
            if run_id is not None:  # from the run's record: start request -> claim -> end
                run = store.load(run_id)
                waited = (run.started_at - run.requested_at).total_seconds()
                print(f"{name}_claim_wait_s_round{turn}={waited:.3f}", flush=True)
                print(f"{name}_claim_to_end_s_round{turn}={run.duration_s:.3f}", flush=True)

        walls: dict[int, list[float]] = {1: [], 3: []}
        sides: dict[str, list[float]] = {"run_engine_s": [], "run_inprocess_s": []}
        try:
            # The sets: W1 W3 W3 W1 ..., each on a fleet started for it (its workers' first
            # sign-in and bundle download inside the figure, as for a fleet just started).
            for workers in abba(args.rounds, 1, 3):
                start_fleet(fleet, workers)
                walls[workers].append(run_set())
                stop_fleet(fleet)
                report(f"fleet_wall_s_{workers}", len(walls[workers]), walls[workers][-1])
            # One run: engine and in-process in A-B-B-A order, each side warmed by a first,
            # untimed run. The fleet is stopped while the in-process worker works (or it would
            # take the runs the control plane dispatches), started again before an engine run.
            local = make_worker(base, cage, folder / "in-process")
            stale: dict = {}  # runs started while the fleet was stopped: their records
            fleet_up = False
            warm: set[str] = set()
            for side in abba(args.rounds, "run_engine_s", "run_inprocess_s"):
                engine = side == "run_engine_s"
                if engine and not fleet_up:
                    log_from = len(fleet.log("w1"))
                    start_fleet(fleet, 1)
                    refused_at_claim(fleet, app, stale, log_from, queue)
                    stale.clear()
                elif not engine and fleet_up:
                    stop_fleet(fleet)
                fleet_up = engine
                carry_out = engine_run if engine else inprocess_run
                if side not in warm:
                    _, warm_id = carry_out()
                    warm.add(side)
                    if not engine:
                        stale[warm_id] = store.load(warm_id)
                if engine:
                    print(f"queued_tasks_before_engine={queue.llen(QUEUE)}", flush=True)
                seconds, run_id = carry_out()
                if not engine:
                    stale[run_id] = store.load(run_id)
                sides[side].append(seconds)
                report(side, len(sides[side]), seconds, run_id)
            if stale:  # the fleet comes back once more, to check the last stale tasks too
                log_from = len(fleet.log("w1"))
                start_fleet(fleet, 1)
                refused_at_claim(fleet, app, stale, log_from, queue)
        finally:
            stop_fleet(fleet)
            if args.logs:  # the worker's lines say when each task came and went
                args.logs.mkdir(parents=True, exist_ok=True)
                for log in (folder / "fleet").glob("*.log"):
                    shutil.copy(log, args.logs / log.name)
    wall_1, wall_3 = statistics.median(walls[1]), statistics.median(walls[3])
    engine_s = statistics.median(sides["run_engine_s"])
    inprocess_s = statistics.median(sides["run_inprocess_s"])
    return {
        "people": str(len(people)),
        "spaces": str(args.spaces),
        "rounds": str(args.rounds),
        "fleet_wall_s_1": f"{wall_1:.2f}",
        "fleet_wall_s_3": f"{wall_3:.2f}",
        "run_engine_s": f"{engine_s:.3f}",
        "run_inprocess_s": f"{inprocess_s:.3f}",
        "fleet_speedup_3": f"{wall_1 / wall_3:.3f}",
        "broker_overhead_ratio": f"{engine_s / inprocess_s:.3f}",
    }


if __name__ == "__main__":
    main()
