"""What delivering a result costs the datacage, against a bare PUT of the same bytes.

A delivery (`server.datacage.delivery`) describes the result (PROV-O), signs it with the enclave
key (ES256 over the canonical graph), seals it into the on-disk queue (fsync, rename), writes it
into the consumer's container (`PUT` + `If-None-Match: *`, the datacage holding Append only),
records the outcome, posts the LDN notification to the consumer's inbox and reports the
delivery to the control plane (`POST /api/datacage/runs/<id>/deliveries` over HTTP, DPoP-signed
as the datacage, to `datacage serve --production` on an on-disk registry, for a run the datacage
really claimed; the control plane writes the status, the audit entry and the usage records).
Every result is reported under that one run (a run's result is delivered once in real use; the
control plane's work per report is the same). The baseline is a bare `PUT` of the same signed
Turtle by the same datacage client into the same container, on the same CSS, in the same run;
rounds alternate A-B-B-A so drift on this shared machine hits both.

Prints `name=value` lines; the last is `delivery_ratio=<delivery / bare PUT>`.

    python bench/delivery.py [--results N] [--rounds R]
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from rdflib import Graph, Literal, URIRef

sys.path.insert(0, str(Path(__file__).resolve().parent))

from consent_check import active_space, claim_run  # the sibling scripts
from control_plane import SECRET, free_port, start_server

from connectors.solid import AccessMode, SolidClient, SolidSession
from connectors.solid.css import CommunitySolidServer, CssAccountApi
from server import create_app
from server.attestation import EnclaveKey, Measurement, SoftwareAttestationProvider
from server.datacage.control_plane import ControlPlane, DeliveryTarget, Job
from server.datacage.delivery import Deliveries, DeliveryQueue
from server.provenance import InputUse, RunFacts, key_thumbprint, signed_document
from server.services import services
from vocab import LDP

EX = "https://example.org/shop#"


def client(api: CssAccountApi, account) -> SolidClient:
    credentials = api.create_client_credentials(account)
    return SolidClient(
        SolidSession.from_client_credentials(credentials.issuer, credentials.id, credentials.secret)
    )


def result_graph() -> Graph:
    """A small aggregate, like the sample survey's: counts per group, no one named."""
    graph = Graph()
    for n in range(6):
        group = URIRef(f"{EX}group-{n}")
        graph.add((group, URIRef(EX + "orders"), Literal(10 + n)))
        graph.add((group, URIRef(EX + "individuals"), Literal(5)))
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    logging.disable(logging.INFO)

    with tempfile.TemporaryDirectory() as tmp, CommunitySolidServer() as css:
        with CssAccountApi(css.base_url) as api:
            consumer_account = api.create_account(
                email="consumer@example.org",
                password=secrets.token_urlsafe(12),
                pod_name="consumer",
            )
            cage_account = api.create_account(
                email="cage@example.org", password=secrets.token_urlsafe(12), pod_name="cage"
            )
            consumer, cage = client(api, consumer_account), client(api, cage_account)
        pod = consumer_account.pod_url
        container, bare_container, inbox = pod + "results/", pod + "bare/", pod + "inbox/"
        for folder in (container, bare_container, inbox):
            consumer.ensure_container(folder)
            consumer.access_control(folder).grant(
                cage_account.webid, [AccessMode.APPEND], include_members=True
            )
        webid = consumer_account.webid
        consumer.patch(webid.split("#")[0], inserts=[(URIRef(webid), LDP.inbox, URIRef(inbox))])

        # The control plane, seeded here then served by gunicorn (which holds the store's lock):
        # a space whose consumer is the consumer, and a run of it the datacage claims.
        port = free_port()
        base = f"http://localhost:{port}/"
        data_dir = str(Path(tmp) / "control")
        app = create_app(
            {
                "PUBLIC_URL": base,
                "DATA_DIR": data_dir,
                "SECRET_KEY": SECRET,
                "DATACAGE_WEBID": cage_account.webid,
                "LOG_FORMAT": "text",
            }
        )
        space = active_space(app, webid)
        services(app).runs.start(space.id, webid)
        services(app).close()
        server = start_server(data_dir, port, {"DATACAGE_WEBID": cage_account.webid})
        try:
            plane, job = claim_run(cage, base, Path(tmp) / "attestation")
            assert webid in job.consumers, job.consumers
            target = DeliveryTarget(webid, container, inbox)
            times = measure(
                args, Path(tmp), cage, plane, job, target, bare_container, cage_account.webid
            )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(10)
    delivery_times, bare_times, sample = times
    per = args.results
    print(f"results_per_round={per}")
    print(f"document_bytes={len(sample)}")
    print(f"delivery_ms_median={1000 * statistics.median(delivery_times) / per:.1f}")
    print(f"bare_put_ms_median={1000 * statistics.median(bare_times) / per:.1f}")
    print(f"delivery_ratio={statistics.median(delivery_times) / statistics.median(bare_times):.3f}")


def measure(
    args: argparse.Namespace,
    tmp: Path,
    cage: SolidClient,
    plane: ControlPlane,
    job: Job,
    target: DeliveryTarget,
    bare_container: str,
    cage_webid: str,
) -> tuple[list[float], list[float], bytes]:
    """Deliveries with their reports against bare PUTs, A-B-B-A: (delivery, bare, a document)."""
    key = EnclaveKey.generate()
    code = "sha256:" + "c" * 64
    evidence = SoftwareAttestationProvider(tmp / "attestation").attest(
        key, Measurement(code, job.digest)
    )
    reports: list[dict] = []

    def report(run_id: str, body: dict) -> None:
        plane.for_run(run_id).delivery(body)  # a refusal raises: the report is not counted
        reports.append(body)

    deliveries = Deliveries(DeliveryQueue(tmp / "delivery"), cage, report)
    graph = result_graph()

    def document(run_id: str) -> bytes:
        started = datetime.now(UTC)
        facts = RunFacts(
            run_iri=job.run_iri,
            space_iri=job.space_iri,
            purposes=job.purposes,
            algorithm_digest=job.digest,
            datacage=cage_webid,
            started_at=started,
            ended_at=started,
            evidence=evidence.to_bytes().decode(),
            provider=evidence.provider,
            code_measurement=code,
            key_thumbprint=key_thumbprint(key),
            result_digest="sha256:" + "d" * 64,
            inputs=tuple(InputUse(f"http://localhost/consents/{n}/1", ('"v"',)) for n in range(5)),
        )
        return signed_document(graph, facts, key)

    sample = document("sample")

    def delivered() -> float:
        began = time.perf_counter()
        for _ in range(args.results):
            deliveries.start(
                job.run_id, job.run_iri, document(job.run_id), [target], [target.consumer]
            )
        return time.perf_counter() - began

    def bare() -> float:
        began = time.perf_counter()
        for _ in range(args.results):
            name = uuid.uuid4().hex[:16] + ".ttl"
            cage.put(bare_container + name, sample, "text/turtle", if_none_match="*")
        return time.perf_counter() - began

    sides: dict = {delivered: [], bare: []}
    for side in sides:
        side()  # warm every path
    for round_ in range(args.rounds):
        for side in list(sides) if round_ % 2 == 0 else list(reversed(sides)):
            sides[side].append(side())
    assert len(reports) == args.results * (args.rounds + 1), "a report was refused"
    assert all(r["state"] == "delivered" and r["notified"] for r in reports), reports[-1]
    delivery_times, bare_times = sides.values()
    return delivery_times, bare_times, sample


if __name__ == "__main__":
    main()
