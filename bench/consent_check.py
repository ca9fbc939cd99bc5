"""What re-checking consent before every read costs the datacage, against the reads alone.

The datacage never trusts a consent read earlier: right before each person's data is pulled it
asks the control plane whether their consent still counts (`server.datacage.pull` with the
datacage's `ControlPlane` client, `GET /api/datacage/runs/<id>/consent` over HTTP, DPoP-signed
as the datacage). So this runs it as deployed: the control plane served by gunicorn on an
on-disk registry, a real run started and claimed through `/api/datacage/next` and `/claim`
with software attestation evidence, and the pull asking about each consent over HTTP. The
baseline is bare GETs of the same resources by the same datacage client, on the same CSS, in
the same run; rounds alternate A-B-B-A so drift on this shared machine hits both alike. Also
reported: how long giving one consent takes (grant on two resources, receipt in the pod,
three registry writes), as seen by the person.

Prints `name=value` lines; the last is `consent_recheck_ratio=<pull/bare reads>`.

    python bench/consent_check.py [--people N] [--rounds R]
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
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from control_plane import SECRET, free_port, start_server  # the sibling script

from connectors.solid import SolidClient, SolidSession
from connectors.solid.css import CommunitySolidServer, CssAccountApi
from server import create_app
from server.algorithms import build_bundle
from server.attestation import EnclaveKey, Measurement, SoftwareAttestationProvider
from server.attestation.measurement import measure_datacage_code
from server.consent.give import give_consent
from server.consent.model import PodResource
from server.datacage.control_plane import ControlPlane, Job
from server.datacage.pull import PullLimits, pull
from server.services import services
from server.spaces.model import Role, Space
from server.spaces.validation import check_space

RECORD = b'<#me> <http://schema.org/email> "person@example.org"; <http://schema.org/name> "P" .\n'
REQUESTS = [
    {"kind": "path", "target": "contacts/customers.ttl", "description": "Your customer record"},
    {"kind": "path", "target": "shop/orders.csv", "description": "Your orders"},
]


BUNDLE = Path(__file__).parents[1] / "tests" / "fixtures" / "bundles" / "common-customers"


def active_space(app, owner: str) -> Space:
    """The sample algorithm, registered and approved by an owner holding every role."""
    fields = check_space(
        name="Bench",
        description="",
        purposes=["Marketing"],
        legal_basis="Consent",
        retention="P90D",
        data_requests=REQUESTS,
    )
    spaces = services(app).spaces
    space = spaces.create(owner, fields, frozenset(Role))
    spaces.register_algorithm(space.id, owner, build_bundle(BUNDLE))
    spaces.submit_for_approval(space.id, owner)
    return spaces.approve(space.id, owner, spaces.get(space.id, owner).terms_digest or "")


def claim_run(cage: SolidClient, base: str, folder: Path) -> tuple[ControlPlane, Job]:
    """Claim the queued run as the datacage does: `next`, attest to that digest, `claim`."""
    plane = ControlPlane(cage, base)
    digest = plane.next_digest()
    assert digest is not None, "the started run is not queued"
    evidence = SoftwareAttestationProvider(folder).attest(
        EnclaveKey.generate(), Measurement(measure_datacage_code(), digest)
    )
    job = plane.claim(evidence.to_bytes().decode())
    assert job is not None, "the claim got no job"
    return plane, job


def now() -> datetime:
    return datetime.now(UTC)


def client(api: CssAccountApi, account) -> SolidClient:
    credentials = api.create_client_credentials(account)
    return SolidClient(
        SolidSession.from_client_credentials(credentials.issuer, credentials.id, credentials.secret)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, CommunitySolidServer() as css:
        port = free_port()
        base = f"http://localhost:{port}/"
        data_dir = str(Path(tmp) / "data")
        logging.disable(logging.INFO)  # one line per consent and pull would drown the figures
        with CssAccountApi(css.base_url) as api:

            def account(label: str, i: int = 0):
                return api.create_account(
                    email=f"{label}{i}@example.org",
                    password=f"pw-{label}-{i}-x",
                    pod_name=f"{label}{i}",
                )

            owner, cage_account = account("owner"), account("cage")
            cage = client(api, cage_account)
            # Seeded in this process (the registry on disk, as deployed), then closed: the
            # served control plane holds the embedded store's lock from then on.
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
            store = services(app).consents
            give_times = []
            for i in range(args.people):
                person_account = account("person", i)
                person = client(api, person_account)
                pod = person_account.pod_url
                person.put(pod + "contacts/customers.ttl", RECORD, "text/turtle")
                person.put(pod + "shop/orders.csv", b"order,amount\n1,9.50\n", "text/csv")
                began = time.perf_counter()
                give_consent(
                    store,
                    space,
                    person,
                    grantee=cage_account.webid,
                    resources=[
                        PodResource(pod + "contacts/customers.ttl"),
                        PodResource(pod + "shop/orders.csv"),
                    ],
                    storage=pod,
                    clock=now,
                )
                give_times.append(time.perf_counter() - began)
            services(app).runs.start(space.id, owner.webid)
            services(app).close()

        # One lease for the whole measurement: the bench holds its run without renewing it.
        settings = {"DATACAGE_WEBID": cage_account.webid, "RUN_LEASE_SECONDS": "86400"}
        server = start_server(data_dir, port, settings)
        try:
            plane, job = claim_run(cage, base, Path(tmp) / "attestation")
            assert len(job.consents) == args.people, job
            reporter = plane.for_run(job.run_id, job.lease)
            urls = [r.url for c in job.consents for r in c.resources]

            def bare() -> float:
                began = time.perf_counter()
                for url in urls:
                    cage.get(url)
                return time.perf_counter() - began

            def pulled(limits: PullLimits) -> float:
                began = time.perf_counter()
                outcomes = pull(cage, reporter, job.consents, limits, allow_plain_http=True)
                elapsed = time.perf_counter() - began
                assert all(len(o.inputs) == 2 for o in outcomes), "a pull was refused"
                return elapsed

            # One person at a time against bare sequential reads: the cost of the re-checks.
            def checked() -> float:
                return pulled(PullLimits(people_at_once=1))

            # The pool as the worker runs it: what parallel pulls buy against one pod server.
            def parallel() -> float:
                return pulled(PullLimits())

            sides = {bare: [], checked: [], parallel: []}
            for side in sides:
                side()  # warm every path (connections, caches)
            for round_ in range(args.rounds):
                order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
                for side in order:
                    sides[side].append(side())
            bare_times, pull_times, parallel_times = sides.values()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(10)
    reads = len(urls)
    check_ms = 1000 * (statistics.median(pull_times) - statistics.median(bare_times)) / args.people
    print(f"people={args.people}")
    print(f"reads_per_round={reads}")
    print(f"bare_reads_per_s={reads / statistics.median(bare_times):.1f}")
    print(f"pull_reads_per_s={reads / statistics.median(pull_times):.1f}")
    print(f"parallel_pull_reads_per_s={reads / statistics.median(parallel_times):.1f}")
    print(f"consent_check_http_ms_per_person={check_ms:.1f}")
    print(f"consent_give_ms_median={1000 * statistics.median(give_times):.0f}")
    print(
        "parallel_pull_speedup="
        f"{statistics.median(pull_times) / statistics.median(parallel_times):.3f}"
    )
    print(
        f"consent_recheck_ratio={statistics.median(pull_times) / statistics.median(bare_times):.3f}"
    )


if __name__ == "__main__":
    main()
