"""What keeping the registry in Virtuoso 7 costs, against `oxigraph serve` in the same run.

Both servers run on this machine, started fresh (tests/support): `virtuoso-t` set up as
docs/registry.md asks (serializable, /sparql-auth with Digest), and `oxigraph serve` (the
SparqlRegistry baseline). For each: creating small records (a space-sized graph of 40 triples),
reading them, updating them by read-modify-write, and 4 threads contending for one record (each
save a compare-and-swap; a conflict reads again and retries). Rounds alternate A-B-B-A so drift
on this shared machine hits both alike; figures are medians over rounds.

Prints `name=value` lines; the last is `virtuoso_write_ratio=<Virtuoso/Oxigraph seconds per write>`.

    python bench/registry_virtuoso.py [--records N] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rdflib import RDF, Graph, Literal, URIRef

from server.registry import Registry, RegistryConflict, open_registry
from tests.support.oxigraph import OxigraphServer
from tests.support.virtuoso import VirtuosoServer
from vocab import DCG

TRIPLES = 40


def record(name: str, version: int) -> Graph:
    graph = Graph()
    node = URIRef(name)
    graph.add((node, RDF.type, DCG.CollaborationSpace))
    graph.add((node, DCG.sequence, Literal(version)))
    for index in range(TRIPLES - 2):
        graph.add((node, DCG.digest, Literal(f"sha256:{index:064x}")))
    return graph


def one_round(registry: Registry, records: int) -> dict[str, float]:
    names = [f"https://datacage.test/spaces/{uuid.uuid4().hex}" for _ in range(records)]
    started = time.perf_counter()
    for name in names:
        registry.write(name, record(name, 0), expected_revision=0)
    created = time.perf_counter()
    stored = [registry.read(name) for name in names]
    read = time.perf_counter()
    for item in stored:
        assert item is not None
        registry.write(item.name, record(item.name, 1), expected_revision=item.revision)
    updated = time.perf_counter()
    contended = _contend(registry, names[0], threads=4, saves=5)
    return {
        "create_ms": (created - started) / records * 1000,
        "read_ms": (read - created) / records * 1000,
        "update_ms": (updated - read) / records * 1000,
        "contended_saves_per_s": contended,
    }


def _contend(registry: Registry, name: str, *, threads: int, saves: int) -> float:
    def save() -> None:
        for _ in range(saves):
            while True:
                stored = registry.read(name)
                assert stored is not None
                try:
                    registry.write(name, record(name, 2), expected_revision=stored.revision)
                    break
                except RegistryConflict:
                    continue

    workers = [threading.Thread(target=save) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return threads * saves / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with VirtuosoServer() as virtuoso, OxigraphServer() as oxigraph:
        registries = {
            "virtuoso": open_registry(virtuoso_url=virtuoso.registry_url, timeout=60),
            "oxigraph": open_registry(
                sparql_query_url=oxigraph.query_url,
                sparql_update_url=oxigraph.update_url,
                timeout=60,
            ),
        }
        results: dict[str, list[dict[str, float]]] = {"virtuoso": [], "oxigraph": []}
        order = ["virtuoso", "oxigraph"]
        for round_index in range(args.rounds):
            for backend in order if round_index % 2 == 0 else reversed(order):
                results[backend].append(one_round(registries[backend], args.records))
    for backend in order:
        for figure in results[backend][0]:
            median = statistics.median(r[figure] for r in results[backend])
            print(f"{backend}_{figure}={median:.2f}")
    ratio = statistics.median(r["create_ms"] + r["update_ms"] for r in results["virtuoso"]) / (
        statistics.median(r["create_ms"] + r["update_ms"] for r in results["oxigraph"])
    )
    print(f"virtuoso_write_ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
