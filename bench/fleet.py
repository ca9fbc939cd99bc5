"""A fleet of datacages on Celery and Redis: the same set of runs on 1 and on 3 workers, and what
dispatching a run through the engine costs against the same run started in-process.

The world: two Community Solid Servers, `--people` people on each, every person consenting
to each of `--spaces` spaces running the sample shop survey (so each run pulls two resources
of every person from both servers and writes a usage record into each person's pod), a live
control plane dispatching started runs to a real `redis-server`, and worker processes
started as an operator starts them (`datacage worker --broker`, `datacage fleet-beat`).

- `fleet_wall_s_1`, `fleet_wall_s_3`: one run of every space, started at once, until the last
  ends, on 1 worker process and then on 3; `fleet_speedup_3` is their ratio. All of it shares
  this machine's cores (the CSS servers, the control plane, the workers, the sandboxes): the
  speedup says what a fleet gains here, not on machines of their own.
- `run_engine_s`, `run_inprocess_s`: one run of one space, from start to end, dispatched through
  the broker to a waiting worker process, against the same run carried out by a worker in this
  process (`Worker.run_once`, the in-process mode of the same task code); medians of `--rounds`.
  `broker_overhead_ratio` is engine / in-process. The engine's figure includes a process
  boundary and the worker's own sign-in state; both sides pull, run and gate the same data.

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

    python bench/fleet.py [--people N] [--spaces S] [--rounds R]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling module

import fleet_people
from fleet_people import SET_UP_TIMEOUT, account, consent_all, make_people, signed_in

from connectors.solid.css import CommunitySolidServer, CssAccountApi
from server.services import services
from tests.support.consent_space import make_active_space
from tests.support.datacage_world import REQUESTS, SURVEY, make_worker, serve_control_plane
from tests.support.fleet_world import Fleet, wait_for
from tests.support.redis_server import RedisServer


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
        fleet.start_worker(f"w{n + 1}")
    fleet.start_beat()
    for n in range(workers):
        beat = fleet.data_dir(f"w{n + 1}") / "heartbeat"
        if not wait_for(beat.exists, 120):
            raise SystemExit(f"worker w{n + 1} did not start:\n{fleet.log(f'w{n + 1}')[-2000:]}")


def stop_fleet(fleet: Fleet) -> None:
    fleet.stop()
    fleet.processes.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=200, help="people on each CSS server")
    parser.add_argument("--spaces", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
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
        runs = services(app).runs
        fleet = Fleet(base, cage, folder / "fleet", broker.url)

        def run_set() -> float:
            t0 = time.perf_counter()
            finished(app, [runs.start(s.id, owner).id for s in spaces])
            return time.perf_counter() - t0

        def engine_run() -> float:
            t0 = time.perf_counter()
            finished(app, [runs.start(spaces[0].id, owner).id])
            return time.perf_counter() - t0

        def inprocess_run(local) -> float:
            t0 = time.perf_counter()
            run = runs.start(spaces[0].id, owner)
            if local.run_once() is None:
                raise SystemExit("the in-process worker found no run")
            finished(app, [run.id])
            return time.perf_counter() - t0

        try:
            start_fleet(fleet, 1)
            wall_1 = run_set()
            engine = [engine_run() for _ in range(args.rounds)]
            stop_fleet(fleet)
            local = make_worker(base, cage, folder / "in-process")
            inprocess = [inprocess_run(local) for _ in range(args.rounds)]
            start_fleet(fleet, 3)
            wall_3 = run_set()
        finally:
            stop_fleet(fleet)
    engine_s, inprocess_s = statistics.median(engine), statistics.median(inprocess)
    return {
        "people": str(len(people)),
        "spaces": str(args.spaces),
        "fleet_wall_s_1": f"{wall_1:.2f}",
        "fleet_wall_s_3": f"{wall_3:.2f}",
        "run_engine_s": f"{engine_s:.3f}",
        "run_inprocess_s": f"{inprocess_s:.3f}",
        "fleet_speedup_3": f"{wall_1 / wall_3:.3f}",
        "broker_overhead_ratio": f"{engine_s / inprocess_s:.3f}",
    }


if __name__ == "__main__":
    main()
