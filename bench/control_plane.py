"""The control plane under gunicorn: the space overview page and one API read, against /healthz.

A space with four organisations, an algorithm and all approvals is seeded into an on-disk
registry, among a populated registry: `--spaces` more spaces (one in four active, the others
drafts), `--consents` consents and `--runs` finished runs (two deliveries each) spread evenly
over the active spaces, the measured one included, all written through the real services and
stores (an empty registry flatters every query). Then `datacage serve --production` (gunicorn,
1 worker x 8 threads: the embedded registry's shape) serves it on loopback, and a signed-in
client (a real sealed session cookie) measures three routes:

- open loop at a fixed rate (default 100 req/s): latency from each request's *scheduled*
  start, so a stall is not hidden by the client waiting (no coordinated omission);
- closed loop, 8 threads flat out: requests per second.

/healthz (no session, no registry) is the baseline served by the same process in the same
run: on this shared machine absolute times drift, the ratios hold. Phases run A-B-C-C-B-A.
The target from the spaces issue is p99 < 50 ms at 100 req/s.

Then the cost of the egress policy (a policed GET against a plain keep-alive one) and of one
rate-limit count (`egress_figures`).

Prints `name=value` lines; the last is `overview_p99_ms_at_rate`.

    python bench/control_plane.py [--rate 100] [--seconds 6] [--spaces 200] [--consents 2000]
        [--runs 400] [--no-egress]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from server import create_app
from server.algorithms import build_bundle
from server.consent.model import Consent, ConsentState, PodResource
from server.destinations import record_delivery
from server.runs.model import Attestation, Run, RunStatus
from server.services import Services, services
from server.spaces.actions import Spaces
from server.spaces.model import Role, Space
from server.spaces.validation import check_space

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-" + "0" * 58
ORGS = [f"https://org{i}.example/profile/card#me" for i in range(4)]
BUNDLE = ROOT / "tests" / "fixtures" / "bundles" / "common-customers"
CAGE = "https://cage.example/profile/card#me"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(data_dir: str, base: str, config: dict[str, str] | None = None) -> str:
    """One active space, built through the service layer exactly as the pages build it
    (`config`: more settings, such as a SPARQL registry's endpoints)."""
    app = create_app(
        {"DATA_DIR": data_dir, "PUBLIC_URL": base, "SECRET_KEY": SECRET, **(config or {})}
    )
    with app.app_context():
        spaces = services().spaces
        # The seeded WebIDs are not real profiles; inviting normally dereferences them.
        Spaces._check_webid_can_sign_in = lambda self, webid: None  # type: ignore[method-assign]
        fields = check_space(
            name="Benchmark space",
            description="Four organisations, one algorithm, every approval.",
            purposes=["Marketing", "CustomerManagement"],
            legal_basis="Consent",
            retention="P90D",
            data_requests=[
                {"kind": "path", "target": "customers.ttl", "description": "Customers"},
                {"kind": "path", "target": "orders/", "description": "Orders"},
            ],
        )
        owner, others = ORGS[0], ORGS[1:]
        space = spaces.create(owner, fields, frozenset({Role.DATA_PROVIDER}))
        roles = [Role.CODE_PROVIDER, Role.DATA_CONSUMER, Role.DATA_PROVIDER]
        for webid, role in zip(others, roles, strict=True):
            invitation = spaces.invite(space.id, owner, webid, frozenset({role}))
            spaces.accept(space.id, webid, invitation.id)
        bundle = build_bundle(BUNDLE)
        spaces.register_algorithm(space.id, others[0], bundle)
        space = spaces.submit_for_approval(space.id, owner)
        for webid in ORGS:
            space = spaces.approve(space.id, webid, space.terms_digest)
        assert space.status.name == "ACTIVE"
        services().close()
        return space.id


def populate(data_dir: str, base: str, space_id: str, spaces: int, people: int, runs: int) -> None:
    """`spaces` more spaces (one in four active) and `people` consents and `runs` runs spread
    over the active ones and the measured space, through the services the pages use."""
    app = create_app({"DATA_DIR": data_dir, "PUBLIC_URL": base, "SECRET_KEY": SECRET})
    logging.disable(logging.INFO)  # a line per write would bury the figures
    bundle = build_bundle(BUNDLE)
    with app.app_context():
        shared = services()
        active = [shared.spaces.get(space_id, ORGS[0])]
        for n in range(spaces):
            owner = ORGS[n % len(ORGS)]
            fields = check_space(
                name=f"Other space {n}",
                description="Seeded so the registry is not empty.",
                purposes=["Marketing"],
                legal_basis="Consent",
                retention="P90D",
                data_requests=[{"kind": "path", "target": "a.ttl", "description": "A"}],
            )
            space = shared.spaces.create(owner, fields, frozenset(Role))
            if n % 4 == 0:
                shared.spaces.register_algorithm(space.id, owner, bundle)
                space = shared.spaces.submit_for_approval(space.id, owner)
                space = shared.spaces.approve(space.id, owner, space.terms_digest or "")
                active.append(space)
        for index, space in enumerate(active):
            share = people // len(active) + (index < people % len(active))
            run_share = runs // len(active) + (index < runs % len(active))
            write_history(shared, space, share, run_share, f"s{index}r")
        shared.close()


def write_history(shared: Services, space: Space, people: int, runs: int, tag: str) -> None:
    """`people` consents over 90 days (one in seven withdrawn, one in five with a short period
    that has ended) and `runs` runs (one in six blocked by the gate), two deliveries each."""
    now = datetime.now(UTC)
    for n in range(people):
        history = shared.consents.history(space.iri, f"https://p{n}.example/profile/card#me")
        given = now - timedelta(days=n % 90, hours=n % 24)
        withdrawn = given + timedelta(days=1) if n % 7 == 0 else None
        history.consents.append(
            consent_record(history.iri, space, history.subject, given, withdrawn, n % 5 == 0)
        )
        shared.consents.write(history)
    store = shared.runs.store
    assert space.algorithm is not None
    evidence = Attestation("software-unattested", "m", space.algorithm.digest, "k" * 64)
    for n in range(runs):
        at = now - timedelta(hours=runs - n)
        blocked = n % 6 == 0
        run = store.create(
            Run(
                id=f"{tag}{n}",
                iri=store.iri_of(f"{tag}{n}"),
                space_id=space.id,
                space_iri=space.iri,
                algorithm_digest=space.algorithm.digest,
                terms_digest=space.terms_digest or "",
                requested_by=space.owner,
                requested_at=at,
                status=RunStatus.FAILED if blocked else RunStatus.SUCCEEDED,
                individuals_included=people,
                individuals_read=max(0, people - n % 3),
                started_at=at,
                finished_at=at + timedelta(seconds=30),
                gate_passed=not blocked,
                attestation=evidence,
            )
        )
        for consumer in ORGS[2:]:
            body = {
                "consumer": consumer,
                "state": "failed" if blocked else "delivered",
                "attempts": 1,
                "location": None,
                "detail": "Bench.",
                "notified": False,
            }
            record_delivery(shared.registry, run.iri, body, at, None)


def consent_record(
    history_iri: str,
    space: Space,
    subject: str,
    given: datetime,
    withdrawn: datetime | None,
    short: bool,
    number: int = 1,
) -> Consent:
    """A consent as `give_consent` records it, for a person with no real pod."""
    assert space.algorithm is not None
    return Consent(
        iri=f"{history_iri}/{number}",
        number=number,
        space_iri=space.iri,
        space_id=space.id,
        space_name=space.name,
        subject=subject,
        grantee=CAGE,
        resources=(PodResource(subject.split("/profile")[0] + "/customers.ttl"),),
        purposes=space.terms.purposes,
        legal_basis=space.terms.legal_basis,
        controller=space.owner,
        consumers=tuple(space.consumers),
        algorithm_digest=space.algorithm.digest,
        terms_digest=space.terms_digest or "",
        recurring=False,
        started_at=given,
        expires_at=given + (timedelta(days=3) if short else timedelta(days=365)),
        state=ConsentState.WITHDRAWN if withdrawn else ConsentState.GIVEN,
        given_at=given,
        withdrawn_at=withdrawn,
    )


def session_cookie(base: str, webid: str = ORGS[0]) -> str:
    """A sealed session cookie for `webid` (the space's owner unless told otherwise)."""
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "PUBLIC_URL": base})
    with app.test_request_context():
        session = app.session_interface.session_class(
            {"webid": webid, "signed_in_at": time.time(), "csrf_token": "t"}
        )
        session.modified = True
        response = app.response_class()
        app.session_interface.save_session(app, session, response)
    return response.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]


def start_server(
    data_dir: str, port: int, settings: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`datacage serve --production` on `port`; `settings` are more `DATACAGE_<NAME>` options
    (the datacage's WebID, a SPARQL registry's endpoints)."""
    env = {
        **os.environ,
        "DATACAGE_DATA_DIR": data_dir,
        "DATACAGE_SECRET_KEY": SECRET,
        "DATACAGE_PUBLIC_URL": f"http://localhost:{port}/",
        **{f"DATACAGE_{name}": value for name, value in (settings or {}).items()},
    }
    command = [str(Path(sys.executable).with_name("datacage")), "serve", "--production"]
    command += ["--port", str(port), "--threads", "8"]
    server = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://localhost:{port}/healthz", timeout=1).ok:
                return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


class Route:
    def __init__(self, name: str, url: str, cookie: str | None, accept: str):
        self.name, self.url, self.cookie, self.accept = name, url, cookie, accept
        self._local = threading.local()

    def get(self) -> None:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False
            if self.cookie:
                session.cookies.set("session", self.cookie)
        response = session.get(self.url, headers={"Accept": self.accept}, timeout=10)
        if response.status_code != 200:
            raise SystemExit(f"{self.name}: HTTP {response.status_code}")


def open_loop(route: Route, rate: float, seconds: float) -> list[float]:
    """Send at a fixed rate; each latency counts from when the request was due."""
    count = int(rate * seconds)
    start = time.perf_counter() + 0.05
    latencies: list[float] = []

    def one(index: int) -> None:
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        route.get()
        latencies.append((time.perf_counter() - due) * 1000)

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(one, range(count)))
    return latencies


def closed_loop(route: Route, seconds: float, threads: int = 8) -> float:
    stop = time.perf_counter() + seconds
    counts = [0] * threads

    def worker(slot: int) -> None:
        while time.perf_counter() < stop:
            route.get()
            counts[slot] += 1

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return sum(counts) / (time.perf_counter() - began)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(routes: list[Route], rate: float, seconds: float, warmup: int) -> dict[str, float]:
    """Each route open loop at `rate` and flat out, phases A-B-C-C-B-A after a warm-up.

    The figures: p50 and p99 latency at the rate and the mean req/s flat out per route, and
    every other route's req/s as a ratio to the first route's (the baseline of the same run).
    """
    for route in routes:  # warm up: templates compiled, connections open
        for _ in range(warmup):
            route.get()
    latencies: dict[str, list[float]] = {r.name: [] for r in routes}
    throughput: dict[str, list[float]] = {r.name: [] for r in routes}
    for route in [*routes, *reversed(routes)]:
        latencies[route.name] += open_loop(route, rate, seconds / 2)
        throughput[route.name].append(closed_loop(route, seconds / 4))
    figures: dict[str, float] = {}
    for name in latencies:
        figures[f"{name}_p50_ms_at_rate"] = statistics.median(latencies[name])
        figures[f"{name}_p99_ms_at_rate"] = percentile(latencies[name], 0.99)
        figures[f"{name}_max_rps"] = statistics.mean(throughput[name])
    baseline = figures[f"{routes[0].name}_max_rps"]
    for route in routes[1:]:
        figures[f"{route.name}_rps_ratio_to_{routes[0].name}"] = (
            figures[f"{route.name}_max_rps"] / baseline
        )
    return figures


def print_figures(figures: dict[str, float], last: str) -> None:
    """`name=value` lines, `last` printed last (the figure a reader looks for)."""
    for name, value in figures.items():
        if name != last:
            print(f"{name}={value:.3f}")
    print(f"{last}={figures[last]:.3f}")


def egress_figures(base: str, count: int = 300) -> dict[str, float]:
    """What the egress policy and the rate limiter cost, against baselines in the same run.

    - `plain_get_ms` / `egress_get_ms`: sequential GETs of /healthz through a plain keep-alive
      `requests.Session` and through the egress policy (loopback allowed; a name resolved,
      checked and a fresh connection pinned per request), alternating in blocks.
    - `ratelimit_hit_us`: one `RateLimiter.hit` (two callers, SQLite in WAL mode) per request.
    """
    from connectors.egress import EgressPolicy
    from server.ratelimit import RateLimiter, parse_limits

    plain, policed = requests.Session(), EgressPolicy.from_settings("loopback").session()
    times: dict[str, list[float]] = {"plain_get_ms": [], "egress_get_ms": []}
    for _ in range(3):
        for name, session in (("plain_get_ms", plain), ("egress_get_ms", policed)):
            for _ in range(count // 3):
                start = time.perf_counter()
                session.get(base + "healthz", timeout=5).raise_for_status()
                times[name].append((time.perf_counter() - start) * 1000)
    figures = {name: statistics.median(values) for name, values in times.items()}
    with tempfile.TemporaryDirectory(prefix="datacage-bench-rl-") as folder:
        limiter = RateLimiter(Path(folder) / "r.sqlite3", parse_limits("api-write=1000000/60"))
        start = time.perf_counter()
        for n in range(count):
            limiter.hit("api-write", [f"address 10.0.0.{n % 200}", "webid https://a/#me"])
        figures["ratelimit_hit_us"] = (time.perf_counter() - start) / count * 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument(
        "--no-egress", dest="egress", action="store_false", help="skip the egress figures"
    )
    parser.add_argument("--spaces", type=int, default=200)
    parser.add_argument("--consents", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=400)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="datacage-bench-") as data_dir:
        port = free_port()
        base = f"http://localhost:{port}/"
        space_id = seed(data_dir, base)
        began = time.perf_counter()
        populate(data_dir, base, space_id, args.spaces, args.consents, args.runs)
        seeding = time.perf_counter() - began
        cookie = session_cookie(base)
        server = start_server(data_dir, port)
        try:
            routes = [
                Route("healthz", base + "healthz", None, "application/json"),
                Route("overview", f"{base}spaces/{space_id}", cookie, "text/html"),
                Route("api_read", f"{base}api/spaces/{space_id}", cookie, "application/json"),
            ]
            figures = measure(routes, args.rate, args.seconds, warmup=20)
            if args.egress:
                figures.update(egress_figures(base))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(10)
    print(f"rate={args.rate:g} req/s, {args.seconds:g} s per route, gunicorn 1 worker x 8 threads")
    print(
        f"registry: {args.spaces + 1} spaces, {args.consents} consents, {args.runs} runs "
        f"(seeded in {seeding:.0f} s)"
    )
    print_figures(figures, "overview_p99_ms_at_rate")


if __name__ == "__main__":
    main()
