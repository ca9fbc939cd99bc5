"""A participant's SPARQL over their space's trail, and its export (SPARQL 1.1 Protocol, §2.1).

Queries only, against a dataset built from just the space's entries, never the registry:
whatever a query says, there is nothing else to reach. It is refused before it runs if it is
not a query (an update, LOAD, ...) or holds a `SERVICE` clause (the engine would fetch other
endpoints on our behalf). Every entry is a named graph (its IRI); the default graph is their
union, so `SELECT * WHERE { ?s ?p ?o }` sees the whole trail. It runs in a child process
(`query_child.py`) that is killed after QUERY_SECONDS and capped in memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox
from pyparsing.exceptions import ParseBaseException
from rdflib import Dataset, Graph, URIRef
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue

from vocab import NAMESPACES, bind_prefixes

from ..errors import DomainError

MAX_QUERY_CHARS = 20_000

QUERY_SECONDS = 10
MAX_ANSWER_BYTES = 32 << 20
_CHILD = Path(__file__).with_name("query_child.py")
EXPORTS = {
    "turtle": ("text/turtle", "turtle", "ttl"),
    "nquads": ("application/n-quads", "nquads", "nq"),
    "jsonld": ("application/ld+json", "json-ld", "jsonld"),
}


class QueryRefused(DomainError):
    title = "This query cannot be run"
    problem_type = "/api/problems/sparql-query"


def check_query(text: str) -> None:
    """Raise `QueryRefused` unless `text` is one SPARQL query without SERVICE."""
    if not text.strip():
        raise QueryRefused("Send a SPARQL query in the query parameter.")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryRefused(f"The query is longer than {MAX_QUERY_CHARS} characters.")
    try:
        parsed = parseQuery(text)
    except ParseBaseException as exc:
        raise QueryRefused(
            "This is not a SPARQL query this endpoint accepts (updates are refused; "
            f"it is read-only): {exc.msg} at line {exc.lineno}, column {exc.col}."
        ) from None
    if _holds(parsed, "ServiceGraphPattern"):
        raise QueryRefused("SERVICE is refused: queries here read this space's trail only.")


def _holds(node: object, name: str) -> bool:
    if isinstance(node, CompValue):
        if node.name == name:
            return True
        return any(_holds(value, name) for value in node.values())
    if isinstance(node, (list, tuple)):
        return any(_holds(item, name) for item in node)
    if hasattr(node, "asList") and not isinstance(node, str):
        return any(_holds(item, name) for item in node.asList())
    return False


def trail_quads(graphs: Iterable[tuple[str, Graph]]) -> bytes:
    """The trail as N-Quads, each entry in its own named graph."""
    store = ox.Store()  # in memory, per request: the trail and nothing else
    for name, graph in graphs:
        store.load(
            graph.serialize(format="nt").encode(),
            format=ox.RdfFormat.N_TRIPLES,
            to_graph=ox.NamedNode(name),
        )
    return store.dump(format=ox.RdfFormat.N_QUADS)


def run_query(
    graphs: Iterable[tuple[str, Graph]], text: str, accept: Iterable[str]
) -> tuple[bytes, str]:
    """The query's answer serialised in the first acceptable media type: (body, media type).

    The query runs in a child process with QUERY_SECONDS and a memory cap: a participant's
    query can be as costly as SPARQL allows (a cross product never ends), and pyoxigraph cannot
    be interrupted, so the child is what gets killed, not a thread of the server.
    """
    check_query(text)
    prologue = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in NAMESPACES.items())
    request = json.dumps({"query": prologue + text, "accept": list(accept)}).encode()
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and file, no shell
            [sys.executable, "-I", str(_CHILD)],
            input=request + b"\n" + trail_quads(graphs),
            capture_output=True,
            timeout=QUERY_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise QueryRefused(
            f"The query took longer than {QUERY_SECONDS} seconds and was stopped."
        ) from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip() or "it ran out of memory"
        raise QueryRefused(f"The query could not be run: {reason[:500]}")
    media, _, body = done.stdout.partition(b"\n")
    if len(body) > MAX_ANSWER_BYTES:
        raise QueryRefused(f"The answer is larger than {MAX_ANSWER_BYTES >> 20} MiB; narrow it.")
    return body, media.decode()


def export(graphs: Iterable[tuple[str, Graph]], kind: str) -> tuple[str, str, str]:
    """The trail as (body, media type, file extension); N-Quads keeps each entry's graph."""
    if kind not in EXPORTS:
        raise QueryRefused(f"Export as one of: {', '.join(EXPORTS)}.")
    media, rdflib_format, extension = EXPORTS[kind]
    if kind == "turtle":
        merged = bind_prefixes(Graph())
        for _, graph in graphs:
            merged += graph
        return merged.serialize(format=rdflib_format), media, extension
    dataset = Dataset()
    bind_prefixes(dataset)  # type: ignore[arg-type]
    for name, graph in graphs:
        named = dataset.graph(URIRef(name))
        for triple in graph:
            named.add(triple)
    return dataset.serialize(format=rdflib_format), media, extension
