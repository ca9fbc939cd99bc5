"""The datacage's pulls against what the pod servers can serve: one space of 2,000 people on two
Community Solid Servers, same resources, same run.

- **ours**: the datacage's real pull (`server.datacage.pull.pull`) as a run does it: the run
  started, claimed through `/api/datacage/next` and `/claim` with software attestation
  evidence from a control plane served by gunicorn (`datacage serve --production`) on an
  on-disk registry; each page's prefilter question and, right before each person's read, the
  consent re-check in shared batches (`POST /api/datacage/runs/<id>/consents/check`), and the
  per-pod-server counts reported through the job API while it reads (`pull_pages`). Limits as
  a worker's configuration would set them: `--per-server` requests in flight at each server,
  `--threads` people at once (twice the places, so people are re-checked ahead of their read).
- **bare**: the pods' own saturated rate: `requests` + PyJWT (nothing of ours), a fresh DPoP
  proof per request, `--bare-threads` threads per server flat out on both servers at once, no
  consent check.

Seeding: one account per server holds its people's records (one ~70-byte Turtle resource per
person), written into that server's file store as a pod provider seeds its disk, under a folder
whose ACL (written through CSS by the pod's owner) lets the datacage's WebID read; the people's
consents are written straight into the registry as `give_consent` records them (a person's
consent flow has its own benchmark, bench/consent_check.py). Rounds alternate A-B-B-A so the
shared machine's drift hits both alike. The run's lease is renewed as the worker renews it.

CPU per read is printed for each side and each party (this process, the control plane, both
pod servers), from the kernel's counts: on a shared two-core machine the sides compete for
the same cores, so what one side spends per read is what the pods do not get.

Prints `name=value` lines; the last is `pulls_vs_pod_capacity=<ours/bare>` (target >= 0.9).

    python bench/pulls.py [--people 2000] [--rounds 4] [--threads 32] [--per-server 8]
        [--bare-threads 8]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from consent_check import active_space, claim_run  # the sibling scripts
from control_plane import SECRET, free_port, start_server
from requests.adapters import HTTPAdapter
from solid_get import BareClient
from urllib3.util.retry import Retry

from connectors.solid import AccessMode, SolidClient, SolidSession
from connectors.solid.css import CommunitySolidServer, CssAccountApi
from connectors.solid.http import Http
from server import create_app
from server.consent.model import Consent, ConsentState, PodResource
from server.datacage.control_plane import ControlPlane
from server.datacage.job import JobSettings, pull_pages
from server.datacage.lease_keeper import LeaseKeeper
from server.datacage.progress import PullCounts
from server.datacage.pull import PullLimits
from server.services import services

# Every server of this benchmark listens on loopback, which the egress policy refuses by default.
os.environ.setdefault("DATACAGE_EGRESS_ALLOW", "loopback")

RECORD = b'<#me> <http://schema.org/email> "person@example.org" .\n'
_TICK = os.sysconf("SC_CLK_TCK")


def group_cpu_s(group: int) -> float:
    """CPU seconds (user + system) of every live process of a process group, from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[2]) == group:  # pgrp; utime and stime are fields 14 and 15 of stat
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def started(server: CommunitySolidServer) -> Iterator[CommunitySolidServer]:
    """A CSS started with patience (a busy machine starts it slowly), stopped at the end."""
    try:
        yield server.start(timeout=240)
    finally:
        server.stop()


def signed_in(api: CssAccountApi, account, name: str, read_s: float = 30) -> SolidClient:
    credentials = api.create_client_credentials(account, name)
    return SolidClient(
        SolidSession.from_client_credentials(
            credentials.issuer,
            credentials.id,
            credentials.secret,
            http=Http(timeout=(10, read_s)),
        )
    )


def seed_records(
    api: CssAccountApi, server: CommunitySolidServer, label: str, reader: str, count: int
) -> list[str]:
    """`count` people's records in one pod of this server, readable by `reader`.

    The records are written into the server's own file store, as a pod provider seeds its
    disk (CSS's file backend serves what is there, typed by extension; `server.demo.stack`
    seeds the demo's pods the same way): 1,000 authenticated PUTs through one node process
    took minutes of the benchmark and measured nothing. The folder's grant is a real ACL,
    written by the pod's owner through CSS, which the reads are then checked against."""
    account = api.create_account(
        email=f"{label}@example.org", password=secrets.token_urlsafe(18), pod_name=label
    )
    owner = signed_in(api, account, "owner")
    folder = account.pod_url + "people/"
    owner.ensure_container(folder)
    assert server.data_dir is not None
    on_disk = Path(server.data_dir, urlsplit(folder).path.strip("/"))
    if not on_disk.is_dir():
        raise SystemExit(f"CSS keeps {folder} somewhere other than {on_disk}")
    urls = []
    for n in range(count):
        (on_disk / f"{n:05d}.ttl").write_bytes(RECORD)
        urls.append(f"{folder}{n:05d}.ttl")
    owner.access_control(folder).grant(reader, [AccessMode.READ], include_members=True)
    return urls


def write_consents(app, space, cage_webid: str, urls: list[str]) -> None:
    """One consent per person, as `give_consent` records it (the grant is the folder's)."""
    store = services(app).consents
    given = datetime.now(UTC) - timedelta(minutes=5)
    assert space.algorithm is not None
    for n, url in enumerate(urls):
        history = store.history(space.iri, f"{url}#me")
        history.consents.append(
            Consent(
                iri=f"{history.iri}/1",
                number=1,
                space_iri=space.iri,
                space_id=space.id,
                space_name=space.name,
                subject=history.subject,
                grantee=cage_webid,
                resources=(PodResource(url),),
                purposes=space.terms.purposes,
                legal_basis=space.terms.legal_basis,
                controller=space.owner,
                consumers=tuple(space.consumers),
                algorithm_digest=space.algorithm.digest,
                terms_digest=space.terms_digest or "",
                recurring=False,
                started_at=given,
                expires_at=given + timedelta(days=365),
                state=ConsentState.GIVEN,
                given_at=given,
            )
        )
        store.write(history)
        if n % 500 == 499:
            print(f"  {n + 1} consents written", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    # People in flight: twice the places of both servers, so those re-checked ahead of their
    # read keep the places busy (`PullScheduler`); requests in flight stay `--per-server`.
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--per-server", type=int, default=8)
    parser.add_argument("--bare-threads", type=int, default=8, help="per server")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # a line per person would drown the figures
    # `kill` ends it through its `finally`s: no control plane or pod server left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    sys.stdout.reconfigure(line_buffering=True)  # progress as it happens, into a file too

    with (
        tempfile.TemporaryDirectory() as tmp,
        started(CommunitySolidServer()) as first,
        started(CommunitySolidServer()) as second,
        CssAccountApi(first.base_url) as first_api,
        CssAccountApi(second.base_url) as second_api,
    ):
        began = time.perf_counter()
        cage_account = first_api.create_account(
            email="cage@example.org", password=secrets.token_urlsafe(18), pod_name="cage"
        )
        owner = first_api.create_account(
            email="owner@example.org", password=secrets.token_urlsafe(18), pod_name="owner"
        )
        half = args.people // 2
        urls = seed_records(first_api, first, "a", cage_account.webid, half)
        urls += seed_records(second_api, second, "b", cage_account.webid, args.people - half)
        print(f"  {len(urls)} records on 2 servers in {time.perf_counter() - began:.0f} s")

        port = free_port()
        base = f"http://localhost:{port}/"
        data_dir = str(Path(tmp) / "data")
        app = create_app(
            {
                "PUBLIC_URL": base,
                "DATA_DIR": data_dir,
                "SECRET_KEY": SECRET,
                "DATACAGE_WEBID": cage_account.webid,
                "LOG_FORMAT": "text",
            }
        )
        space = active_space(app, owner.webid)
        began = time.perf_counter()
        write_consents(app, space, cage_account.webid, urls)
        print(f"  {len(urls)} consents in {time.perf_counter() - began:.0f} s")
        services(app).runs.start(space.id, owner.webid)
        services(app).close()

        server = start_server(data_dir, port, {"DATACAGE_WEBID": cage_account.webid})
        try:
            # The claim assembles a job of every person: minutes on a busy machine, so its
            # client waits long; the pull's reads keep the worker's own timeouts, so a read
            # a busy pod server drops is retried, as a run retries it.
            claimer = signed_in(first_api, cage_account, "datacage-claim", read_s=600)
            cage = signed_in(first_api, cage_account, "datacage")
            began = time.perf_counter()
            _plane, job = claim_run(claimer, base, Path(tmp) / "attestation")
            print(f"  run claimed in {time.perf_counter() - began:.1f} s")
            assert len(job.consent_iris) == len(urls), "the job must hold every consent"
            reporter = ControlPlane(cage, base).for_run(job.run_id, job.lease)
            limits = PullLimits(people_at_once=args.threads, per_host=args.per_server)
            settings = JobSettings(
                Path(tmp) / "work", Path(tmp) / "results", pull=limits, allow_plain_http_pods=True
            )
            failures: list[int] = []

            def ours() -> None:
                # As a run pulls: a page's batch question, then each read re-checked in shared
                # batches right before it, through the served job API.
                counts = PullCounts(job.pod_servers, reporter.pull_progress)
                with counts.reporting():
                    outcomes = pull_pages(job, cage, reporter, settings, on_person=counts.on_person)
                why = Counter(o.skipped for o in outcomes if not o.inputs)
                if why:  # said, not hidden: a busy machine times reads out
                    failures.append(sum(why.values()))
                    print(f"  {sum(why.values())} people not read: {dict(why)}", flush=True)

            credentials = first_api.create_client_credentials(cage_account, "bare")

            def bare_signed_in() -> BareClient:
                """A bare client with a fresh token: it has no renewal of its own, and a side
                of a round on a busy machine can outlast the token's ten minutes."""
                client = BareClient(credentials.issuer, credentials.id, credentials.secret)
                # A kept-alive connection for every thread (requests keeps 10 by default),
                # and a retry when a busy CSS closes one under it (our pull retries too).
                again = Retry(total=3, backoff_factor=0.1, allowed_methods={"GET"})
                client.http.mount(
                    "http://", HTTPAdapter(pool_maxsize=2 * args.bare_threads, max_retries=again)
                )
                return client

            bare_client = bare_signed_in()
            # Both servers at once: people in turn from each, `--bare-threads` each.
            turns = [u for pair in zip(urls[:half], urls[half:], strict=False) for u in pair]
            turns += urls[2 * min(half, len(urls) - half) :]

            def bare() -> None:
                with ThreadPoolExecutor(2 * args.bare_threads) as pool:
                    list(pool.map(bare_client.get, turns))

            def before(name: str) -> None:
                """Untimed: the bare side signs in afresh before each of its rounds."""
                nonlocal bare_client
                if name == "bare":
                    bare_client = bare_signed_in()

            # Both ends of the reads are real before anything is timed.
            for url in (urls[0], urls[-1]):
                assert cage.get(url).body == RECORD, f"{url} is not the seeded record"
            # CPU per read, by who spends it: this process (our pull, or the bare client),
            # the control plane (gunicorn) and both pod servers.
            meters = {
                "client": own_cpu_s,
                "control_plane": lambda: group_cpu_s(server.pid),
                "pods": lambda: group_cpu_s(first.pid) + group_cpu_s(second.pid),
            }
            rates: dict[str, list[float]] = {"ours": [], "bare": []}
            cpu: dict[str, Counter] = {"ours": Counter(), "bare": Counter()}
            sides = {"ours": ours, "bare": bare}
            # The run's lease is renewed as the worker renews it, or it lapses mid-benchmark.
            with LeaseKeeper(reporter, job.lease_seconds, job.run_id) as keeper:
                ours()  # warm: connections, tokens, caches
                before("bare")
                bare()
                for index in range(args.rounds):
                    order = list(sides) if index % 2 == 0 else list(reversed(sides))
                    for name in order:
                        before(name)
                        spent = {who: meter() for who, meter in meters.items()}
                        start = time.perf_counter()
                        sides[name]()
                        rates[name].append(len(urls) / (time.perf_counter() - start))
                        for who, meter in meters.items():
                            cpu[name][who] += meter() - spent[who]
                    print(
                        f"  round {index + 1}/{args.rounds}: ours {rates['ours'][-1]:.0f}/s, "
                        f"bare {rates['bare'][-1]:.0f}/s",
                        flush=True,
                    )
                if keeper.lost.is_set():
                    raise SystemExit("the run's lease lapsed during the benchmark")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(10)
    ours_rate, bare_rate = statistics.median(rates["ours"]), statistics.median(rates["bare"])
    print(f"people={len(urls)}")
    print("pod_servers=2")
    print(f"pull_people_per_s={ours_rate:.1f}")
    print(f"pods_saturated_per_s={bare_rate:.1f}")
    print(f"pull_people_not_read={sum(failures)}")
    reads = len(urls) * args.rounds
    for side in ("ours", "bare"):
        for who in ("client", "control_plane", "pods"):
            print(f"cpu_ms_per_read_{side}_{who}={1000 * cpu[side][who] / reads:.2f}")
    print(f"load_average_1min={os.getloadavg()[0]:.1f}")
    print(f"pulls_vs_pod_capacity={ours_rate / bare_rate:.3f}")


if __name__ == "__main__":
    main()
