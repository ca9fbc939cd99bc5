"""What re-checking consent costs the datacage: asked one by one, or in batches, over HTTP.

The datacage never trusts a consent read earlier: right before each person's data is pulled it
asks the control plane whether their consent still counts. It asks in batches
(`POST /api/datacage/runs/<id>/consents/check`: a page of people before their pull, then the
people about to be read at the same moment, `server.datacage.recheck`), where it used to ask
one consent per call (`GET /api/datacage/runs/<id>/consent?iri=`, still served). This runs both
as deployed, in the same run: the control plane served by gunicorn on an on-disk registry, a
real run started and claimed through `/api/datacage/next` and `/claim` (software attestation
evidence), every call DPoP-signed as the datacage.

- `consent_check_single_per_s` / `consent_check_batch_per_s`: consents answered per second,
  one per call against pages of `PAGE` per call, over the run's whole crowd (`--people` with
  real pods plus `--crowd` more whose consents are recorded without a pod: the answer does not
  read pods), alternating A-B-B-A so drift on this shared machine hits both alike;
- the pull of the people with pods, sequentially (`people_at_once=1`) with the re-check asked
  per person, against bare GETs of the same resources by the same client
  (`consent_recheck_ratio`), and with the worker's pool asking one consent per call or in
  shared batches (`parallel_pull_*`);
- how long giving one consent takes (grant on two resources, receipt in the pod, three
  registry writes), as seen by the person.

Prints `name=value` lines; the last is `consent_check_batch_speedup=<batch/single per s>`.

    python bench/consent_check.py [--people N] [--crowd N] [--rounds R]
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

from control_plane import (  # the sibling script
    SECRET,
    consent_record,
    free_port,
    start_server,
)

from connectors.solid import SolidClient, SolidSession
from connectors.solid.css import CommunitySolidServer, CssAccountApi
from server import create_app
from server.algorithms import build_bundle
from server.attestation import EnclaveKey, Measurement, SoftwareAttestationProvider
from server.attestation.measurement import measure_datacage_code
from server.consent.give import give_consent
from server.consent.model import ConsentHistory, PodResource
from server.consent.rdf import history_iri
from server.datacage.control_plane import ControlPlane, Job
from server.datacage.job import PAGE
from server.datacage.pull import PullLimits, pull
from server.datacage.recheck import BatchedRecheck
from server.protocol.consents import JobConsent
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
    parser.add_argument("--crowd", type=int, default=1000)
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
            # The crowd without pods: recorded as `give_consent` records a consent.
            for n in range(args.crowd):
                subject = f"https://crowd{n}.example/profile/card#me"
                history = ConsentHistory(
                    history_iri(store.public_url, space.iri, subject), space.iri, subject
                )
                history.consents.append(
                    consent_record(history.iri, space, subject, now(), None, False)
                )
                store.write(history)
            services(app).runs.start(space.id, owner.webid)
            services(app).close()

        # One lease for the whole measurement: the bench holds its run without renewing it.
        settings = {
            "DATACAGE_WEBID": cage_account.webid,
            "EGRESS_ALLOW": "loopback",
            "RUN_LEASE_SECONDS": "86400",
        }
        server = start_server(data_dir, port, settings)
        try:
            plane, job = claim_run(cage, base, Path(tmp) / "attestation")
            everyone = list(job.consent_iris)
            assert len(everyone) == args.people + args.crowd, len(everyone)
            reporter = plane.for_run(job.run_id, job.lease)
            people = [c for page in pages(everyone) for c in reporter.check(page)]
            people = [c for c in people if not c.subject.startswith("https://crowd")]
            assert len(people) == args.people, len(people)
            urls = [r.url for c in people for r in c.resources]

            def single() -> float:
                began = time.perf_counter()
                for iri in everyone:
                    assert reporter.still_in_force(JobConsent(iri, "", ()))
                return time.perf_counter() - began

            def batch() -> float:
                began = time.perf_counter()
                for page in pages(everyone):
                    assert len(reporter.check(page)) == len(page)
                return time.perf_counter() - began

            def bare() -> float:
                began = time.perf_counter()
                for url in urls:
                    cage.get(url)
                return time.perf_counter() - began

            def pulled(limits: PullLimits, authority) -> float:
                began = time.perf_counter()
                outcomes = pull(cage, authority, people, limits, allow_plain_http=True)
                elapsed = time.perf_counter() - began
                assert all(len(o.inputs) == 2 for o in outcomes), "a pull was refused"
                return elapsed

            def batched() -> BatchedRecheck:  # as the worker asks (`job.pull_pages`)
                return BatchedRecheck(
                    lambda iris: {c.iri for c in reporter.check(iris)}, reporter.record_refusal
                )

            # One person at a time against bare sequential reads: the cost of the re-checks.
            def checked() -> float:
                return pulled(PullLimits(people_at_once=1), batched())

            # The worker's pool, asking one consent per call or in shared batches.
            def parallel_single() -> float:
                return pulled(PullLimits(), reporter)

            def parallel_batched() -> float:
                return pulled(PullLimits(), batched())

            sides = {
                single: [],
                batch: [],
                bare: [],
                checked: [],
                parallel_single: [],
                parallel_batched: [],
            }
            for side in sides:
                side()  # warm every path (connections, caches)
            for round_ in range(args.rounds):
                order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
                for side in order:
                    sides[side].append(side())
            median = {side.__name__: statistics.median(times) for side, times in sides.items()}
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(10)
    reads = len(urls)
    asked = len(everyone)
    check_ms = 1000 * (median["checked"] - median["bare"]) / args.people
    print(f"people={args.people}")
    print(f"consents_asked_per_round={asked}")
    print(f"consent_check_single_per_s={asked / median['single']:.1f}")
    print(f"consent_check_batch_per_s={asked / median['batch']:.1f}")
    print(f"reads_per_round={reads}")
    print(f"bare_reads_per_s={reads / median['bare']:.1f}")
    print(f"pull_reads_per_s={reads / median['checked']:.1f}")
    print(f"parallel_pull_single_reads_per_s={reads / median['parallel_single']:.1f}")
    print(f"parallel_pull_batched_reads_per_s={reads / median['parallel_batched']:.1f}")
    print(f"consent_check_http_ms_per_person={check_ms:.1f}")
    print(f"consent_give_ms_median={1000 * statistics.median(give_times):.0f}")
    print(f"consent_recheck_ratio={median['checked'] / median['bare']:.3f}")
    print(f"consent_check_batch_speedup={median['single'] / median['batch']:.3f}")


def pages(iris: list[str]) -> list[list[str]]:
    return [iris[start : start + PAGE] for start in range(0, len(iris), PAGE)]


if __name__ == "__main__":
    main()
