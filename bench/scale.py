"""One space with 100 000 consents against one with 100: the pages and a run's job, under gunicorn.

The space of `control_plane.py` (four organisations, an algorithm, every approval) is seeded
twice, with `--baseline` (100) and `--consents` (100 000) people's consents (spread over 90
days, one in seven withdrawn, one in five with a short period that has ended), each with
`--runs` finished runs with two deliveries each:

- the runs, deliveries and the first `SAMPLE` consents through the real services and stores;
- the other consents bulk-loaded in one stream of N-Quads (one pyoxigraph `bulk_load` into
  the embedded store; one streamed POST to `oxigraph serve`'s `/store`, bulk-loaded there
  too), as the very RDF the consent store writes: a history of each kind is turned into its
  graph by `server.consent.rdf.history_graph` and into its stored lines by
  `server.registry.terms.insert_lines`, the functions `ConsentStore.write` uses, and every
  other person's is that one with their own values put in (`Templates`). Writing them one by
  one through the service would take far too long.
- The bulk load writes records only, not the consent counters the pages read nor the index
  of consents in force a claim reads (docs/registry.md, "Counters", "Job assembly"), so both
  are then rebuilt by their repair path, `ConsentStore.recount` (`tally_recount_s`), the one
  a crash or an old registry needs.
- The load is then checked: histories of every kind read back through `ConsentStore.read`
  equal what was generated, and their stored graphs are the ones `ConsentStore.write` stores
  for the same histories (write token aside); the counters' figures equal what was generated
  and add up to everyone; the index lists exactly the consents a scan of every record finds
  (`job_plan_s`, the index read, against `job_plan_scan_s`, the one-query scan of every
  record it replaced, in the same run), with the generated counts per origin. Up to
  `SCAN_CHECKED` consents the counters and the origins are also compared with scans of every
  record (beyond, those scans take minutes on a busy machine and prove nothing more).

Then `datacage serve --production` (gunicorn, 1 worker x 8 threads) serves it and these are
measured, each against /healthz served by the same process in the same run:

- `job_assembly_s` (large space; `--no-job` skips it): a run started (`services(app).runs.start`,
  before gunicorn takes the store) plus the datacage's `GET /api/datacage/next` and
  `POST /api/datacage/claim` over HTTP (DPoP, as the datacage, with a CSS identity and software
  attestation evidence), the claim's JSON lines read to their end: every consent in force in
  hand (`measure_job`). Also `job_details_s`: what each of those consents lets the datacage
  read, asked a page of people at a time through
  `POST /api/datacage/runs/<id>/consents/check`, as a run asks it before pulling (the whole
  crowd's worth; a run spreads it over its pull);
- for the overview (100 req/s), the dashboard, My data (a bulk-loaded person's), the last
  run's page and the audit page (20 req/s each), in each space: `*_p99_ms` and `*_p50_ms`,
  open loop for `--seconds`, latency from each request's scheduled start (no coordinated
  omission), each route on a freshly started server (a backlog left by one route would slow
  the next). A request still unanswered `--timeout` seconds after the last one was due counts
  as that long (and in `*_timeouts`): the p99 is then a lower bound. `*_alone_ms` is the first
  request to a fresh server. `*_p99_ratio_<large>_to_<small>` divides the two spaces' p99s.
- `*_service_ms`: each page's service time (median of requests one at a time) in both spaces,
  served side by side and measured in alternation, so that load from elsewhere on a shared
  machine slows both alike, and `*_service_ratio_<large>_to_<small>`: 1.0 for a page whose
  cost does not grow with the crowd. On a saturated machine the p99s measure the backlog more
  than the page; the service ratio is the figure that says whether the page scales.

Targets: overview and dashboard p99 < 50 ms, job assembly < 2 s. The datacage's own client
gives up reading after 30 s; the bench waits up to `--claim-timeout` so the claim's real time
is known.

Prints `name=value` lines, suffixed with the consent count (`_100k` for 100 000) and, on
`oxigraph serve`, `_sparql`; the last is `job_assembly_s_<size>` of the last back end (or,
with `--no-job`, its `overview_p99_ms_<size>`).

`--no-pages` measures the job alone (seeding, the index checks and the job figures).

    python bench/scale.py [--consents 100000] [--baseline 100] [--runs 100] [--seconds 5]
        [--timeout 60] [--claim-timeout 3600] [--backend embedded|sparql|both] [--no-job]
        [--no-pages]
"""

from __future__ import annotations

import argparse
import io
import itertools
import logging
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyoxigraph as ox
import requests
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from control_plane import (  # the sibling script, found from this folder
    ORGS,
    SECRET,
    consent_record,
    free_port,
    percentile,
    seed,
    session_cookie,
    start_server,
    write_history,
)

from connectors.origins import origin_of
from connectors.solid import Http, SolidClient, SolidSession
from connectors.solid.css import CommunitySolidServer, CssAccountApi
from server import create_app
from server.attestation import EnclaveKey, Measurement, SoftwareAttestationProvider
from server.attestation.measurement import measure_datacage_code
from server.consent.model import ConsentHistory, ConsentState
from server.consent.rdf import history_graph, history_iri
from server.consent.store import ConsentStore
from server.datacage.control_plane import ControlPlane
from server.datacage.job import PAGE as JOB_PAGE
from server.registry import EmbeddedRegistry
from server.registry.terms import insert_lines, skolem_prefix
from server.services import services
from server.spaces.model import Space
from tests.support.oxigraph import OxigraphServer  # how the tests start `oxigraph serve`
from vocab import DCG

#: Consents written one by one through the service; the rest are bulk-loaded.
SAMPLE = 20
#: Up to this many consents, the load check also compares counters and index with scans of
#: every record (beyond it, with what was generated: the scans take minutes on a busy machine).
SCAN_CHECKED = 20_000
#: Histories per chunk of generated TriG (bounded memory).
CHUNK = 5000
#: Service times: rounds of requests alternating between the small and the large space, and
#: requests per space per round.
ROUNDS, PER_ROUND = 4, 10


_BEGAN = time.perf_counter()


def note(what: str) -> None:
    """Progress on stderr: a 100 000-consent run takes most of an hour."""
    print(f"[{time.perf_counter() - _BEGAN:7.0f} s] {what}", file=sys.stderr, flush=True)


def size_suffix(count: int) -> str:
    return f"{count // 1000}k" if count % 1000 == 0 and count >= 1000 else str(count)


# --- Seeding ---------------------------------------------------------------------------------


def history_of(public_url: str, space: Space, n: int, now: datetime) -> ConsentHistory:
    """Person n's history: one consent, as `write_history` gives it (same dates and states)."""
    subject = f"https://p{n}.example/profile/card#me"
    history = ConsentHistory(history_iri(public_url, space.iri, subject), space.iri, subject)
    given = given_at(n, now)
    withdrawn = given + timedelta(days=1) if n % 7 == 0 else None
    history.consents.append(
        consent_record(history.iri, space, subject, given, withdrawn, n % 5 == 0)
    )
    return history


def stored_lines(public_url: str, space: Space, n: int, now: datetime, token: str) -> str:
    """Person n's history as `ConsentStore.write` stores it at revision 1: the real functions."""
    history = history_of(public_url, space, n, now)
    return insert_lines(history.iri, history_graph(history), revision=1, token=token)


class Templates:
    """Person n's stored quads, from those of a person of the same kind (withdrawn or not,
    short period or not) with the values that differ put in: the real functions take ~10 ms
    a history here, far too slow for 100 000. Each kind's template is made once by the real
    functions (`stored_lines`), as N-Quads in the history's graph, with each value that
    differs from person to person turned into a `str.format` field; `check_seeded` compares
    the result with the real functions' for people of every kind."""

    TOKEN = "bench-token-to-replace"  # noqa: S105 - a placeholder, not a secret

    def __init__(self, public_url: str, space: Space, now: datetime):
        self.public_url, self.space, self.now = public_url, space, now
        # kind -> (format template, ends after given, withdrawn after given or None)
        self.made: dict[tuple[bool, bool], tuple[str, timedelta, timedelta | None]] = {}

    def quads(self, n: int) -> str:
        """Person n's history as N-Quads, each line in its graph, ending in a newline."""
        kind = (n % 7 == 0, n % 5 == 0)
        if kind not in self.made:
            self.made[kind] = self._template(n)
        template, lasts, withdrawn = self.made[kind]
        given = given_at(n, self.now)
        subject = f"https://p{n}.example/profile/card#me"
        iri = history_iri(self.public_url, self.space.iri, subject)
        return template.format(
            skolem=skolem_prefix(iri),
            iri=iri,
            person=f"https://p{n}.example/",
            given=given.isoformat(timespec="seconds"),
            expires=(given + lasts).isoformat(timespec="seconds"),
            withdrawn=(given + withdrawn).isoformat(timespec="seconds") if withdrawn else "",
            token=secrets.token_urlsafe(16),
        )

    def _template(self, n: int) -> tuple[str, timedelta, timedelta | None]:
        history = history_of(self.public_url, self.space, n, self.now)
        consent = history.consents[0]
        assert consent.given_at is not None
        theirs = {
            "skolem": skolem_prefix(history.iri),
            "iri": history.iri,
            "person": f"https://p{n}.example/",
            "given": consent.given_at.isoformat(timespec="seconds"),
            "expires": consent.expires_at.isoformat(timespec="seconds"),
            "token": self.TOKEN,
        }
        if consent.withdrawn_at:
            theirs["withdrawn"] = consent.withdrawn_at.isoformat(timespec="seconds")
        text = stored_lines(self.public_url, self.space, n, self.now, self.TOKEN)
        graph = f"<{history.iri}>"
        # N-Triples lines (one triple each, ending " .") into N-Quads lines of the graph.
        text = "".join(f"{line[:-1]}{graph} .\n" for line in text.splitlines())
        template = text.replace("{", "{{").replace("}", "}}")
        # Longest first: no value is part of another, but a shorter one could be of a longer.
        for key, value in sorted(theirs.items(), key=lambda item: -len(item[1])):
            assert value in template, (key, value)
            template = template.replace(value, "{" + key + "}")
        withdrawn = consent.withdrawn_at - consent.given_at if consent.withdrawn_at else None
        return template, consent.expires_at - consent.given_at, withdrawn


def given_at(n: int, now: datetime) -> datetime:
    """When person n gave their consent: spread over 90 days and the hours of the day."""
    return now - timedelta(days=n % 90, hours=n % 24)


def nquads_chunks(
    public_url: str, space: Space, first: int, last: int, now: datetime
) -> Iterator[bytes]:
    """N-Quads for people first..last-1, each history as `ConsentStore.write` stores it (rev. 1),
    `CHUNK` people at a time."""
    templates = Templates(public_url, space, now)
    for start in range(first, last, CHUNK):
        yield "".join(templates.quads(n) for n in range(start, min(last, start + CHUNK))).encode()


def expected_states(
    space: Space, people: int, seeded: datetime, now: datetime
) -> Iterator[ConsentState]:
    """The state at `now` of each of people 0..people-1, for consents seeded at `seeded`, as
    the overview counts them: each kind's consent made once by `history_of`, each person's
    from it and their own `given_at` (100 000 consents built would take seconds)."""
    kinds: dict[tuple[bool, bool], tuple[ConsentState, timedelta]] = {}
    for n in range(people):
        kind = (n % 7 == 0, n % 5 == 0)
        if kind not in kinds:  # the first of each kind comes before any other of it
            consent = history_of("http://x/", space, n, seeded).consents[0]
            assert consent.given_at is not None
            kinds[kind] = (consent.state, consent.expires_at - consent.given_at)
        state, lasts = kinds[kind]
        if state is ConsentState.GIVEN and given_at(n, seeded) + lasts <= now:
            state = ConsentState.EXPIRED
        yield state


def expected_counts(
    space: Space, people: int, seeded: datetime, now: datetime
) -> dict[ConsentState, int]:
    """How many people are in each state at `now` (`expected_states`)."""
    counts: dict[ConsentState, int] = {}
    for state in expected_states(space, people, seeded, now):
        counts[state] = counts.get(state, 0) + 1
    return counts


def seed_space(
    data_dir: str, base: str, config: dict[str, str], people: int, runs: int, bulk_load
) -> tuple[Space, datetime, float, float, dict[str, float]]:
    """Seed the space, its runs and `people` consents: (the space, when, bulk-load seconds,
    counters' recount seconds, the check's figures)."""
    logging.disable(logging.INFO)  # a line per write would bury the figures
    space_id = seed(data_dir, base, config)
    app = create_app({"DATA_DIR": data_dir, "PUBLIC_URL": base, "SECRET_KEY": SECRET, **config})
    now = datetime.now(UTC).replace(microsecond=0)  # the consent graph keeps whole seconds
    with app.app_context():
        shared = services()
        space = shared.spaces.get(space_id, ORGS[0])
        sample = min(SAMPLE, people)
        note(f"space seeded; writing {runs} runs and {SAMPLE} consents through the services")
        write_history(shared, space, 0, runs, "scale")
        for n in range(sample):
            shared.consents.write(history_of(shared.consents.public_url, space, n, now))
        public_url = shared.consents.public_url
        shared.close()
    began = time.perf_counter()
    note(f"bulk-loading {people - sample} consents")
    bulk_load(nquads_chunks(public_url, space, sample, people, now))
    bulk_s = time.perf_counter() - began
    note("recounting the space's consent counters (the bulk load wrote records only)")
    recount_s = recount(data_dir, base, config, space, people)
    note("checking the bulk-loaded consents against the services")
    began = time.perf_counter()
    checked = check_seeded(data_dir, base, config, space, people, now)
    checked["seed_check_s"] = time.perf_counter() - began
    return space, now, bulk_s, recount_s, checked


def recount(data_dir: str, base: str, config: dict[str, str], space: Space, people: int) -> float:
    """The counters' repair path over the bulk-loaded records; its time in seconds."""
    app = create_app({"DATA_DIR": data_dir, "PUBLIC_URL": base, "SECRET_KEY": SECRET, **config})
    with app.app_context():
        shared = services()
        began = time.perf_counter()
        counted = shared.consents.recount(space.iri)
        took = time.perf_counter() - began
        shared.close()
    assert counted == people, (counted, people)
    return took


def check_seeded(
    data_dir: str, base: str, config: dict[str, str], space: Space, people: int, now: datetime
) -> dict[str, float]:
    """The bulk-loaded consents are what the services would have written, and all there; the
    in-force index the recount built lists exactly the consents a scan of every record finds
    (`job_plan_s`: the index read, against `job_plan_scan_s`: the scan it replaced)."""
    app = create_app({"DATA_DIR": data_dir, "PUBLIC_URL": base, "SECRET_KEY": SECRET, **config})
    with app.app_context():
        shared = services()
        store = shared.consents
        # People of every kind (n % 7, n % 5), beyond the first of each kind (the templates).
        checked = {SAMPLE + 35 + k for k in range(35)} | {people // 2, people - 1}
        for n in sorted(checked & set(range(SAMPLE, people))):
            made = history_of(store.public_url, space, n, now)
            read = store.read(made.iri)
            assert read is not None, f"person {n}'s bulk-loaded history is missing"
            assert read.revision == 1, read.revision
            assert read.consents == made.consents, (read.consents, made.consents)
            # The stored graph against what ConsentStore.write stores for the same history.
            with EmbeddedRegistry() as scratch:
                ConsentStore(lambda: scratch, store.public_url).write(
                    history_of(store.public_url, space, n, now)
                )
                written = scratch.read(made.iri)
            stored = shared.registry.read(made.iri)
            assert written is not None
            assert stored is not None
            assert isomorphic(_without_token(written.graph), _without_token(stored.graph)), n
        counts = store.counts(space.iri, now)
        assert sum(counts.values()) == people, (counts, people)
        expected = expected_counts(space, people, now, now)
        assert counts == expected, (counts, expected)
        if people <= SCAN_CHECKED:
            # Again from every record, by another query: 16 s of CPU at 100 000 people, where
            # the counters equal to what was generated (above) already make the point.
            assert counts == store.counts_by_scan(space.iri, now), "the counters are not exact"
        assert space.terms_digest is not None
        began = time.perf_counter()
        plan = store.in_force_plan(space.iri, space.terms_digest, now)
        plan_s = time.perf_counter() - began
        began = time.perf_counter()
        scanned = store.in_force_iris_by_scan(space.iri, space.terms_digest, now)
        scan_s = time.perf_counter() - began
        assert plan.iris == scanned, (len(plan.iris), len(scanned))
        # Each person in force reads at their own pod's origin (`consent_record`).
        generated = expected_states(space, people, now, now)
        origins = {
            origin_of(f"https://p{n}.example/"): 1
            for n, state in enumerate(generated)
            if state is ConsentState.GIVEN
        }
        assert plan.origins == origins, "the index's origins differ from the generated ones"
        if people <= SCAN_CHECKED:  # and from the records (one more scan of every record)
            origins = {}  # the scan spells origins as found, the index as a plan
            scanned_origins = store.in_force_origins_by_scan(space.iri, space.terms_digest, now)
            for origin, n in scanned_origins.items():
                origins[origin_of(origin)] = origins.get(origin_of(origin), 0) + n
            assert plan.origins == origins, "the index's origins differ from the records'"
        shared.close()
    return {"job_plan_s": plan_s, "job_plan_scan_s": scan_s}


def _without_token(graph: Graph) -> Graph:
    kept = Graph()
    for triple in graph:
        if triple[1] != URIRef(str(DCG.writeToken)):
            kept.add(triple)
    return kept


def embedded_bulk_load(registry_path: Path):
    def load(chunks: Iterator[bytes]) -> None:
        store = ox.Store(str(registry_path))  # the control plane's store, closed meanwhile
        # One bulk load of the whole stream: each call writes and ingests files of its own.
        # Lenient: the lines come from the real functions, which checked every term already.
        store.bulk_load(ChunkReader(chunks), ox.RdfFormat.N_QUADS, lenient=True)
        store.flush()
        del store  # pyoxigraph has no close(): the last reference releases RocksDB's lock

    return load


def sparql_bulk_load(server: OxigraphServer):
    def load(chunks: Iterator[bytes]) -> None:
        with requests.Session() as session:
            session.trust_env = False
            # One request, its body streamed (chunked) as it is generated; `no_transaction`
            # makes `oxigraph serve` bulk-load it (a third of the time of one transaction),
            # `lenient` as in `embedded_bulk_load`.
            response = session.post(
                server.base_url + "store?no_transaction&lenient",
                data=chunks,
                headers={"Content-Type": "application/n-quads"},
                timeout=3600,
            )
            response.raise_for_status()

    return load


class ChunkReader(io.RawIOBase):
    """A binary file over an iterator of byte chunks, read as it is generated (the whole of a
    100 000-person load is over a gigabyte)."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks, self.pending = chunks, memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            chunk = next(self.chunks, None)
            if chunk is None:
                return 0
            self.pending = memoryview(chunk)
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]  # a view: no copy of the rest
        return size


# --- Measuring -------------------------------------------------------------------------------


def open_loop(
    url: str, cookie: str | None, rate: float, seconds: float, budget: float
) -> tuple[list[float], int]:
    """Requests at a fixed rate for `seconds`; latency from when each was due. A request still
    unanswered `budget` seconds after the last one was due counts as that long (a lower bound)
    and as a timeout. Returns (latencies in ms, timeouts).

    A few threads (`senders`) each keep one connection open, as a browser does, made before
    the clock starts; each takes the next request in order and sends it when it is due. A
    request due while every sender is busy waits, and that wait is in its latency (no
    coordinated omission). One thread and one fresh connection per request measured the
    client instead: `/healthz` alone had a p99 of 60-110 ms at 100 req/s with 256 threads,
    against 20-45 ms this way, same server, same minute."""
    count = max(1, int(rate * seconds))
    senders = min(count, 32, max(4, int(rate // 4)))  # idle under gunicorn's 2 s keep-alive
    sessions = []
    for _ in range(senders):
        session = requests.Session()
        session.trust_env = False
        if cookie:
            session.cookies.set("session", cookie)
        session.get(url, timeout=(5, budget))  # the connection made, the page warmed
        sessions.append(session)
    start = time.perf_counter() + 0.05
    deadline = start + count / rate + budget
    latencies: list[float] = []
    timeouts = [0]
    order = itertools.count()
    taking = threading.Lock()

    def send(session: requests.Session) -> None:
        while True:
            with taking:
                index = next(order)
            if index >= count:
                return
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                wait = max(0.5, deadline - time.perf_counter())
                response = session.get(url, timeout=(5, wait))
                if response.status_code != 200:
                    raise SystemExit(f"{url}: HTTP {response.status_code}")
                latencies.append((time.perf_counter() - due) * 1000)
            except requests.Timeout:
                timeouts[0] += 1
                latencies.append((max(deadline, time.perf_counter()) - due) * 1000)

    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, sessions))
    for session in sessions:
        session.close()
    return latencies, timeouts[0]


def one_request_ms(url: str, cookie: str | None, budget: float) -> float:
    """One request alone (no load): how long the page takes to build."""
    with requests.Session() as session:
        session.trust_env = False
        if cookie:
            session.cookies.set("session", cookie)
        began = time.perf_counter()
        try:
            response = session.get(url, timeout=(5, budget))
        except requests.Timeout:
            return budget * 1000
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
        return (time.perf_counter() - began) * 1000


def datacage_client(
    css: CommunitySolidServer, name: str, timeout: float
) -> tuple[SolidClient, str]:
    with CssAccountApi(css.base_url) as api:
        account = api.create_account(
            email=f"{name}@example.org", password=secrets.token_urlsafe(12), pod_name=name
        )
        credentials = api.create_client_credentials(account)
    # The product's datacage reads for 30 s at most; the bench waits as long as it takes.
    session = SolidSession.from_client_credentials(
        credentials.issuer, credentials.id, credentials.secret, http=Http(timeout=(5, timeout))
    )
    return SolidClient(session), account.webid


@contextmanager
def served(data_dir: str, port: int, settings: dict[str, str]) -> Iterator[None]:
    server = start_server(data_dir, port, settings)
    try:
        yield
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:  # a request thread still building a page
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)


@dataclass(frozen=True)
class Seeded:
    """One seeded space and how to serve it."""

    people: int
    data_dir: str
    base: str
    port: int
    settings: dict[str, str]
    space_id: str
    suffix: str


def run_backend(
    backend: str, args: argparse.Namespace, css: CommunitySolidServer, folder: Path
) -> dict[str, float]:
    """Seed a small and a large space, measure each page in each, and the ratios."""
    figures: dict[str, float] = {}
    with ExitStack() as stack:
        seeded = []
        for people in (args.baseline, args.consents):
            extra, bulk_load = stack.enter_context(
                _registry(backend, folder / f"oxigraph-{people}")
            )
            seeded.append(seed_size(backend, args, css, folder, people, extra, bulk_load, figures))
        if not args.pages:  # the job alone (`--no-pages`)
            return figures
        for space in seeded:
            figures.update(measure_pages(space, args))
        small, large = seeded
        figures.update(service_times(small, large, args))
    return figures


def seed_size(
    backend: str,
    args: argparse.Namespace,
    css: CommunitySolidServer,
    folder: Path,
    people: int,
    extra: dict[str, str],
    bulk_load,
    figures: dict[str, float],
) -> Seeded:
    suffix = size_suffix(people) + ("_sparql" if backend == "sparql" else "")
    cage, cage_webid = datacage_client(css, f"cage{backend}{people}", args.claim_timeout)
    port = free_port()
    base = f"http://localhost:{port}/"
    data_dir = str(folder / f"{backend}-{people}")
    # The CSS that vouches for the datacage's identity is on loopback.
    settings = {"DATACAGE_WEBID": cage_webid, "EGRESS_ALLOW": "loopback", **extra}
    load = bulk_load or embedded_bulk_load(Path(data_dir) / "registry")
    began = time.perf_counter()
    space, seeded, bulk_s, recount_s, checked = seed_space(
        data_dir, base, settings, people, args.runs, load
    )
    figures[f"seed_s_{suffix}"] = time.perf_counter() - began
    figures.update({f"{name}_{suffix}": value for name, value in checked.items()})
    figures[f"seed_bulk_s_{suffix}"] = bulk_s
    figures[f"tally_recount_s_{suffix}"] = recount_s
    if args.job and people == args.consents:
        figures.update(
            job_assembly(data_dir, base, port, settings, space, seeded, cage, folder, args)
        )
    return Seeded(people, data_dir, base, port, settings, space.id, suffix)


def routes_of(space: Seeded, runs: int) -> dict[str, tuple[str, str | None, float]]:
    """Each measured route: its URL, the session cookie it needs, and its rate (req/s)."""
    base, space_id = space.base, space.space_id
    owner = session_cookie(base)
    # A person whose consent was bulk-loaded: My data finds it among everyone's.
    person = session_cookie(base, f"https://p{SAMPLE + 1}.example/profile/card#me")
    return {
        "healthz": (base + "healthz", None, 100.0),
        "overview": (f"{base}spaces/{space_id}", owner, 100.0),
        "dashboard": (f"{base}spaces/{space_id}/dashboard", owner, 20.0),
        "my_data": (f"{base}my-data", person, 20.0),
        "run_page": (f"{base}spaces/{space_id}/runs/scale{max(runs - 1, 0)}", owner, 20.0),
        "audit": (f"{base}spaces/{space_id}/audit", owner, 20.0),
    }


def service_times(small: Seeded, large: Seeded, args: argparse.Namespace) -> dict[str, float]:
    """Each page's service time (median of requests sent one at a time) in both spaces,
    served side by side and measured in alternation, so that a machine shared with other
    work slows both alike; and their ratio, large over small (1.0: a page whose cost does
    not grow with the crowd)."""
    figures: dict[str, float] = {}
    tail = large.suffix.removeprefix(size_suffix(large.people))
    routes = {space.people: routes_of(space, args.runs) for space in (small, large)}
    with (
        served(small.data_dir, small.port, small.settings),
        served(large.data_dir, large.port, large.settings),
    ):
        for page in routes[small.people]:
            samples: dict[int, list[float]] = {small.people: [], large.people: []}
            for _ in range(ROUNDS):
                for space in (small, large):
                    url, jar, _ = routes[space.people][page]
                    samples[space.people] += sequential_ms(url, jar, PER_ROUND, args.timeout)
            for space in (small, large):
                figures[f"{page}_service_ms_{space.suffix}"] = statistics.median(
                    samples[space.people]
                )
            ratio = f"{page}_service_ratio_{size_suffix(large.people)}_to_"
            figures[ratio + size_suffix(small.people) + tail] = (
                figures[f"{page}_service_ms_{large.suffix}"]
                / figures[f"{page}_service_ms_{small.suffix}"]
            )
            note(f"{page}: service ratio {figures[ratio + size_suffix(small.people) + tail]:.2f}")
    return figures


def sequential_ms(url: str, cookie: str | None, count: int, budget: float) -> list[float]:
    """`count` requests one after the other on one connection (warm): each one's time."""
    times = []
    with requests.Session() as session:
        session.trust_env = False
        if cookie:
            session.cookies.set("session", cookie)
        session.get(url, timeout=(5, budget))  # connection and caches warm
        for _ in range(count):
            began = time.perf_counter()
            response = session.get(url, timeout=(5, budget))
            if response.status_code != 200:
                raise SystemExit(f"{url}: HTTP {response.status_code}")
            times.append((time.perf_counter() - began) * 1000)
    return times


def measure_pages(space: Seeded, args: argparse.Namespace) -> dict[str, float]:
    """Each page at its rate on a freshly started server (a backlog the last route left must
    not slow the next): p50, p99, timeouts, and one request alone."""
    data_dir, port, settings, suffix = space.data_dir, space.port, space.settings, space.suffix
    routes = routes_of(space, args.runs)
    figures: dict[str, float] = {}
    for name, (url, jar, rate) in routes.items():
        note(f"measuring {name} at {rate:g} req/s")
        with served(data_dir, port, settings):
            figures[f"{name}_alone_ms_{suffix}"] = one_request_ms(url, jar, args.timeout)
            latencies, timeouts = open_loop(url, jar, rate, args.seconds, args.timeout)
        figures[f"{name}_p50_ms_{suffix}"] = statistics.median(latencies)
        figures[f"{name}_p99_ms_{suffix}"] = percentile(latencies, 0.99)
        figures[f"{name}_timeouts_{suffix}"] = timeouts
        note(f"{name}: p99 {figures[f'{name}_p99_ms_{suffix}']:.0f} ms, {timeouts} timeouts")
    return figures


def job_assembly(
    data_dir: str,
    base: str,
    port: int,
    settings: dict[str, str],
    space: Space,
    seeded: datetime,
    cage: SolidClient,
    folder: Path,
    args: argparse.Namespace,
) -> dict[str, float]:
    """A run started, then the datacage's next and claim over HTTP until the job is in hand."""
    suffix = size_suffix(args.consents) + (
        "_sparql" if "REGISTRY_SPARQL_QUERY_URL" in settings else ""
    )
    # The run is started in this process: gunicorn will hold the embedded store's lock.
    app = create_app({"DATA_DIR": data_dir, "PUBLIC_URL": base, "SECRET_KEY": SECRET, **settings})
    note("starting a run")
    began = time.perf_counter()
    services(app).runs.start(space.id, ORGS[0])
    start_s = time.perf_counter() - began
    services(app).close()
    with served(data_dir, port, settings):
        job_figures = measure_job(
            ControlPlane(cage, base), folder / f"attestation-{suffix}", space, seeded, args
        )
    figures = {f"{name}_{suffix}": value for name, value in job_figures.items()}
    figures[f"run_start_s_{suffix}"] = start_s
    figures[f"job_assembly_s_{suffix}"] = start_s + job_figures["job_in_hand_s"]
    return figures


def measure_job(
    plane: ControlPlane, attestation: Path, space: Space, seeded: datetime, args
) -> dict[str, float]:
    """The datacage takes the job over HTTP: `next`, then the streamed claim read to its end
    (every consent in force in hand: `job_in_hand_s`); then what each consent lets it read,
    asked a page at a time as a run asks it before pulling (`job_details_s`, the batch
    re-check route over the whole crowd)."""
    began = time.perf_counter()
    digest = plane.next_digest()
    assert digest is not None, "the started run is not queued"
    next_s = time.perf_counter() - began
    evidence = SoftwareAttestationProvider(attestation).attest(
        EnclaveKey.generate(), Measurement(measure_datacage_code(), digest)
    )
    note("the datacage claims the run over HTTP")
    began = time.perf_counter()
    job = plane.claim(evidence.to_bytes().decode())
    claim_s = time.perf_counter() - began
    note(f"the claim took {claim_s:.2f} s")
    assert job is not None, "the claim got no job"
    now = datetime.now(UTC)
    in_force = expected_counts(space, args.consents, seeded, now).get(ConsentState.GIVEN, 0)
    assert abs(len(job.consent_iris) - in_force) <= 1, (len(job.consent_iris), in_force)
    note("the datacage asks what each consent lets it read, a page at a time")
    reporter = plane.for_run(job.run_id, job.lease)
    began = time.perf_counter()
    detailed = 0
    renewed = time.perf_counter()
    for start in range(0, len(job.consent_iris), JOB_PAGE):
        detailed += len(reporter.check(list(job.consent_iris[start : start + JOB_PAGE])))
        if time.perf_counter() - renewed > 15:  # as the datacage's lease keeper does
            reporter.renew()
            renewed = time.perf_counter()
    details_s = time.perf_counter() - began
    assert abs(detailed - in_force) <= 1, (detailed, in_force)
    return {
        "job_consents": len(job.consent_iris),
        "datacage_next_s": next_s,
        "datacage_claim_s": claim_s,
        "job_in_hand_s": next_s + claim_s,
        "job_details_s": details_s,
    }


@contextmanager
def _registry(backend: str, folder: Path) -> Iterator[tuple[dict[str, str], object]]:
    """The registry settings for `backend` and its bulk loader (None: the embedded one)."""
    if backend == "embedded":
        yield {}, None
        return
    folder.mkdir(parents=True, exist_ok=True)
    with OxigraphServer(folder / "oxigraph") as server:
        settings = {
            "REGISTRY_SPARQL_QUERY_URL": server.query_url,
            "REGISTRY_SPARQL_UPDATE_URL": server.update_url,
        }
        yield settings, sparql_bulk_load(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--consents", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=100, help="the small space's consents")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--claim-timeout", type=float, default=3600.0)
    parser.add_argument("--backend", choices=["embedded", "sparql", "both"], default="embedded")
    parser.add_argument(
        "--no-job", dest="job", action="store_false", help="skip the job assembly (pages only)"
    )
    parser.add_argument(
        "--no-pages", dest="pages", action="store_false", help="skip the pages (the job only)"
    )
    args = parser.parse_args()
    if not (args.job or args.pages):
        parser.error("--no-job and --no-pages leave nothing to measure")
    backends = ["embedded", "sparql"] if args.backend == "both" else [args.backend]
    began = time.perf_counter()
    figures: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="datacage-scale-") as folder,
        CommunitySolidServer() as css,
    ):
        for backend in backends:
            figures.update(run_backend(backend, args, css, Path(folder) / backend))
            if args.pages:
                figures.update(ratios(figures, backend, args.baseline, args.consents))
    print(
        f"{args.consents} consents (against {args.baseline}), {args.runs} runs, "
        f"{args.seconds:g} s per route, gunicorn 1 worker x 8 threads, "
        f"{time.perf_counter() - began:.0f} s in all"
    )
    last = [n for n in figures if n.startswith(("job_assembly_s_", "overview_p99_ms_"))][-1]
    for name, value in figures.items():
        if name != last:
            print(f"{name}={value:.3f}")
    print(f"{last}={figures[last]:.3f}")


def ratios(figures: dict[str, float], backend: str, small: int, large: int) -> dict[str, float]:
    """Each page's p99 in the large space over its p99 in the small one, same run, same
    server: 1.0 is a page whose cost does not grow with the crowd."""
    tail = "_sparql" if backend == "sparql" else ""
    found = {}
    for page in ("overview", "dashboard", "my_data", "run_page", "audit"):
        big = figures[f"{page}_p99_ms_{size_suffix(large)}{tail}"]
        little = figures[f"{page}_p99_ms_{size_suffix(small)}{tail}"]
        found[f"{page}_p99_ratio_{size_suffix(large)}_to_{size_suffix(small)}{tail}"] = big / little
    return found


if __name__ == "__main__":
    main()
