r"""A participant's SPARQL over their space's trail, and its export (SPARQL 1.1 Protocol, §2.1).

Queries only, against a dataset built from just the space's entries, never the registry:
whatever a query says, there is nothing else to reach. It is refused before it runs if it is
not a query (an update, LOAD, ...) or holds a `SERVICE` clause (the engine would fetch other
endpoints on our behalf). The check reads the text the engine will run: SPARQL's `\uXXXX`
escapes are applied first (SPARQL 1.1 section 19.2, before parsing) and the engine gets that
unescaped text, so no escape can be read one way by the checker and another by the engine.
Every entry is a named graph (its IRI); the default graph is their union, so
`SELECT * WHERE { ?s ?p ?o }` sees the whole trail. It runs in a child process
(`query_child.py`) with no network at all, killed after QUERY_SECONDS, capped in memory and
in answer size (`query_sandbox.py`), a few at a time.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyoxigraph as ox
from pyparsing.exceptions import ParseBaseException
from rdflib import Dataset, Graph, URIRef
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue

from vocab import NAMESPACES, bind_prefixes

from .query_sandbox import QueryRefused, QuerySlots, run_isolated

MAX_QUERY_CHARS = 20_000
#: SPARQL 1.1 section 19.2: backslash-u + 4 hex digits or backslash-U + 8, applied before parsing.
_CODEPOINT_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")

QUERY_SECONDS = 10
MAX_ANSWER_BYTES = 32 << 20
_CHILD = Path(__file__).with_name("query_child.py")
EXPORTS = {
    "turtle": ("text/turtle", "turtle", "ttl"),
    "nquads": ("application/n-quads", "nquads", "nq"),
    "jsonld": ("application/ld+json", "json-ld", "jsonld"),
}


__all__ = ["QueryRefused", "QuerySlots", "check_query", "export", "run_query"]


def resolve_escapes(text: str) -> str:
    r"""`text` with its codepoint escapes applied, once, as a SPARQL parser must (section 19.2).

    A text that still holds an escape afterwards (`\u005Cu0053` spells `\u0053`) is refused:
    one parser might apply escapes again where another does not.
    """

    def replace(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise QueryRefused("The query holds an escape that is not a character.")
        return chr(code)

    resolved = _CODEPOINT_ESCAPE.sub(replace, text)
    if _CODEPOINT_ESCAPE.search(resolved):
        raise QueryRefused("The query spells an escape with escapes; write it plainly.")
    return resolved


def check_query(text: str) -> str:
    """The query as the engine must run it (escapes applied); raise `QueryRefused` unless it is
    one SPARQL query without SERVICE."""
    if not text.strip():
        raise QueryRefused("Send a SPARQL query in the query parameter.")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryRefused(f"The query is longer than {MAX_QUERY_CHARS} characters.")
    text = resolve_escapes(text)
    try:
        parsed = parseQuery(text)
    except ParseBaseException as exc:
        raise QueryRefused(
            "This is not a SPARQL query this endpoint accepts (updates are refused; "
            f"it is read-only): {exc.msg} at line {exc.lineno}, column {exc.col}."
        ) from None
    if _holds(parsed, "ServiceGraphPattern"):
        raise QueryRefused("SERVICE is refused: queries here read this space's trail only.")
    return text


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
    graphs: Iterable[tuple[str, Graph]],
    text: str,
    accept: Iterable[str],
    slots: QuerySlots | None = None,
) -> tuple[bytes, str]:
    """The query's answer serialised in the first acceptable media type: (body, media type).

    The query runs in a child process with QUERY_SECONDS, a memory cap and no network: a
    participant's query can be as costly as SPARQL allows (a cross product never ends), and
    pyoxigraph cannot be interrupted, so the child is what gets killed, not a thread of the
    server. `slots` bounds how many run at once across the server's processes.
    """
    query = check_query(text)
    prologue = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in NAMESPACES.items())
    request = json.dumps({"query": prologue + query, "accept": list(accept)}).encode()
    with slots.held() if slots is not None else _no_slot():
        media, body = run_isolated(
            [sys.executable, "-I", str(_CHILD)],
            request + b"\n" + trail_quads(graphs),
            seconds=QUERY_SECONDS,
            max_bytes=MAX_ANSWER_BYTES,
        )
    return body, media


@contextmanager
def _no_slot() -> Iterator[None]:
    yield


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
