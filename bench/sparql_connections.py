"""What kept-alive connections save the SPARQL registry, against a connection per query, same run.

`SparqlRegistry` sends queries over connections it keeps open (docs/registry.md, "SPARQL
endpoint"). The baseline is the same registry with every query on a connection of its own
(opened for it, closed after it: what each update does, and what every request did before),
so the two differ in nothing else. On one fresh `oxigraph serve` holding a space-sized record,
each round times `--queries` of what a page view asks (the dashboard's and overview's stamp,
the tally version's kind of lookup, a record read) on both, alternating A-B-B-A so drift on this
shared machine hits both alike; then the same with 8 threads at once (gunicorn's threads).

Prints `name=value` lines (medians over rounds, ms per query); the last is
`sparql_kept_to_fresh_ratio` (one thread; < 1 is a saving).

    python bench/sparql_connections.py [--queries 300] [--rounds 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rdflib import RDF, Graph, Literal, URIRef

from server.dashboard.stamp import page_stamp
from server.registry import counters
from server.registry.sparql import SparqlRegistry, _Post
from tests.support.oxigraph import OxigraphServer
from vocab import DCG, DCTERMS

THREADS = 8


class FreshConnections(SparqlRegistry):
    """The baseline: every query on a connection of its own."""

    def __init__(self, query_url: str, update_url: str) -> None:
        super().__init__(query_url, update_url)
        self._queries = _OwnConnections()  # type: ignore[assignment]


class _OwnConnections:
    def request(self, method: str, url: str, **kwargs) -> object:
        timeout = kwargs["timeout"].connect_timeout
        return _Post(url, kwargs["body"], kwargs["headers"], timeout).on_a_connection_of_its_own()

    def clear(self) -> None:
        pass


def record(name: str) -> Graph:
    graph = Graph()
    node = URIRef(name)
    graph.add((node, RDF.type, DCG.CollaborationSpace))
    for n in range(40):
        graph.add((node, DCTERMS.description, Literal(f"line {n} of a space-sized record")))
    return graph


def view(registry: SparqlRegistry, space: str) -> None:
    """What a kept page view asks, plus a record read (a view after a change)."""
    page_stamp(registry, space)
    counters.version(registry, space)
    registry.read(space)


def timed(registry: SparqlRegistry, space: str, queries: int, threads: int) -> float:
    """Milliseconds per query (each view is three)."""
    views = max(1, queries // 3)
    began = time.perf_counter()
    if threads == 1:
        for _ in range(views):
            view(registry, space)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda _: view(registry, space), range(views)))
    return (time.perf_counter() - began) * 1000 / (views * 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with OxigraphServer() as server:
        kept = SparqlRegistry(server.query_url, server.update_url)
        fresh = FreshConnections(server.query_url, server.update_url)
        space = "http://localhost:5000/spaces/bench"
        kept.write(space, record(space), expected_revision=0)
        figures: dict[str, list[float]] = {}
        for threads in (1, THREADS):
            for registry in (kept, fresh):
                timed(registry, space, 30, threads)  # warm: connections, caches
            for round_ in range(args.rounds):
                order = (kept, fresh) if round_ % 2 == 0 else (fresh, kept)
                for registry in order:
                    name = "kept" if registry is kept else "fresh"
                    key = f"sparql_query_{name}_ms" + (
                        "" if threads == 1 else f"_{threads}_threads"
                    )
                    figures.setdefault(key, []).append(
                        timed(registry, space, args.queries, threads)
                    )
        medians = {name: statistics.median(values) for name, values in figures.items()}
        kept.close()
        fresh.close()
    for name, value in medians.items():
        print(f"{name}={value:.3f}")
    many = f"_{THREADS}_threads"
    ratio = medians[f"sparql_query_kept_ms{many}"] / medians[f"sparql_query_fresh_ms{many}"]
    print(f"sparql_kept_to_fresh_ratio{many}={ratio:.3f}")
    print(
        "sparql_kept_to_fresh_ratio="
        f"{medians['sparql_query_kept_ms'] / medians['sparql_query_fresh_ms']:.3f}"
    )


if __name__ == "__main__":
    main()
