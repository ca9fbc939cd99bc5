"""A participant's SPARQL over their space's trail, and its export (SPARQL 1.1 Protocol, §2.1).

Queries only, against a dataset built from just the space's entries, never the registry:
whatever a query says, there is nothing else to reach. It is refused before it runs if it is
not a query (an update, LOAD, ...) or holds a `SERVICE` clause (the engine would fetch other
endpoints on our behalf). Every entry is a named graph (its IRI); the default graph is their
union, so `SELECT * WHERE { ?s ?p ?o }` sees the whole trail.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyoxigraph as ox
from pyparsing.exceptions import ParseBaseException
from rdflib import Dataset, Graph, URIRef
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue

from vocab import NAMESPACES, bind_prefixes

from ..errors import DomainError

MAX_QUERY_CHARS = 20_000

#: Media types a client may ask for, by kind of result (the first is the default).
SOLUTION_TYPES = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_TYPES = {"text/turtle": ox.RdfFormat.TURTLE, "application/n-triples": ox.RdfFormat.N_TRIPLES}
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


def trail_store(graphs: Iterable[tuple[str, Graph]]) -> ox.Store:
    store = ox.Store()  # in memory, per request: the trail and nothing else
    for name, graph in graphs:
        store.load(
            graph.serialize(format="nt").encode(),
            format=ox.RdfFormat.N_TRIPLES,
            to_graph=ox.NamedNode(name),
        )
    return store


def run_query(
    graphs: Iterable[tuple[str, Graph]], text: str, accept: Iterable[str]
) -> tuple[bytes, str]:
    """The query's answer serialised in the first acceptable media type: (body, media type)."""
    check_query(text)
    prologue = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in NAMESPACES.items())
    try:
        results = trail_store(graphs).query(prologue + text, use_default_graph_as_union=True)
    except (SyntaxError, ValueError, OSError) as exc:
        raise QueryRefused(f"The query could not be run: {exc}") from None
    wanted = list(accept)
    # pyoxigraph's results may only be dropped on the thread that made them (they are not
    # Send): serialise and release them here, never leave them to a collector elsewhere.
    try:
        if isinstance(results, ox.QueryTriples):
            media = _pick(wanted, GRAPH_TYPES)
            return results.serialize(format=GRAPH_TYPES[media]), media
        media = _pick(wanted, SOLUTION_TYPES)
        return results.serialize(format=SOLUTION_TYPES[media]), media
    finally:
        del results


def _pick(accept: list[str], offered: dict) -> str:
    return next((m for m in accept if m in offered), next(iter(offered)))


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
