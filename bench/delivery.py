"""What delivering a result costs the datacage, against a bare PUT of the same bytes.

A delivery (`server.datacage.delivery`) describes the result (PROV-O), signs it with the enclave
key (ES256 over the canonical graph), seals it into the on-disk queue (fsync, rename), writes it
into the consumer's container (`PUT` + `If-None-Match: *`, the datacage holding Append only),
records the outcome and posts the LDN notification to the consumer's inbox. The baseline is a
bare `PUT` of the same signed Turtle by the same datacage client into the same container, on the
same CSS, in the same run; rounds alternate A-B-B-A so drift on this shared machine hits both.

Prints `name=value` lines; the last is `delivery_ratio=<delivery / bare PUT>`.

    python bench/delivery.py [--results N] [--rounds R]
"""

from __future__ import annotations

import argparse
import logging
import secrets
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from rdflib import Graph, Literal, URIRef

from connectors.solid import AccessMode, SolidClient, SolidSession
from connectors.solid.css import CommunitySolidServer, CssAccountApi
from server.attestation import EnclaveKey, Measurement, SoftwareAttestationProvider
from server.datacage.control_plane import DeliveryTarget
from server.datacage.delivery import Deliveries, DeliveryQueue
from server.provenance import InputUse, RunFacts, key_thumbprint, signed_document
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

        key = EnclaveKey.generate()
        code, bundle = "sha256:" + "c" * 64, "sha256:" + "b" * 64
        evidence = SoftwareAttestationProvider(Path(tmp) / "attestation").attest(
            key, Measurement(code, bundle)
        )
        reports: list[dict] = []
        deliveries = Deliveries(
            DeliveryQueue(Path(tmp) / "delivery"), cage, lambda _run, body: reports.append(body)
        )
        target = DeliveryTarget(webid, container, inbox)
        graph = result_graph()

        def document(run_id: str) -> bytes:
            started = datetime.now(UTC)
            facts = RunFacts(
                run_iri=f"http://localhost/runs/{run_id}",
                space_iri="http://localhost/spaces/bench",
                purposes=("https://w3id.org/dpv#Marketing",),
                algorithm_digest=bundle,
                datacage=cage_account.webid,
                started_at=started,
                ended_at=started,
                evidence=evidence.to_bytes().decode(),
                provider=evidence.provider,
                code_measurement=code,
                key_thumbprint=key_thumbprint(key),
                result_digest="sha256:" + "d" * 64,
                inputs=tuple(
                    InputUse(f"http://localhost/consents/{n}/1", ('"v"',)) for n in range(5)
                ),
            )
            return signed_document(graph, facts, key)

        sample = document("sample")

        def delivered() -> float:
            began = time.perf_counter()
            for _ in range(args.results):
                run_id = uuid.uuid4().hex[:16]
                deliveries.start(
                    run_id, f"http://localhost/runs/{run_id}", document(run_id), [target], [webid]
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
        assert all(r["state"] == "delivered" and r["notified"] for r in reports), reports[-1]
        delivery_times, bare_times = sides.values()

    per = args.results
    print(f"results_per_round={per}")
    print(f"document_bytes={len(sample)}")
    print(f"delivery_ms_median={1000 * statistics.median(delivery_times) / per:.1f}")
    print(f"bare_put_ms_median={1000 * statistics.median(bare_times) / per:.1f}")
    print(f"delivery_ratio={statistics.median(delivery_times) / statistics.median(bare_times):.3f}")


if __name__ == "__main__":
    main()
