"""RDF in and out of pods: content negotiation and defensive parsing into rdflib graphs.

Pods are outside our control, so every document is parsed as hostile input: only formats we
know, bounded in size by the caller (see `Http.read`), errors reported without echoing the
content, and JSON-LD without remote contexts (rdflib would fetch them, which would let a pod
make us request any URL and wait on it).
"""

from __future__ import annotations

import json
from typing import Any

from rdflib import Graph

from .errors import MalformedRDF

#: What we ask pods for, best first. Turtle is every Solid server's native format. Anything else
#: is accepted last, so a document that is not RDF comes back as itself and we can say so,
#: instead of the server failing to convert it.
ACCEPT_RDF = "text/turtle, application/ld+json;q=0.9, application/n-triples;q=0.8, */*;q=0.1"

_PARSERS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/n-triples": "nt",
    "text/n3": "n3",
}

#: Deeper JSON than this is refused before parsing: nothing legitimate nests so deep, and the
#: JSON-LD expansion recurses over it.
MAX_JSON_DEPTH = 64


def media_type(content_type: str | None) -> str:
    """`text/turtle; charset=utf-8` -> `text/turtle`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_rdf(content_type: str | None) -> bool:
    return media_type(content_type) in _PARSERS


def parse_graph(
    body: bytes, content_type: str | None, base: str, *, prefixes: bool = True
) -> Graph:
    """Parse an RDF document; raise `MalformedRDF` with a reason a person can act on.

    Without `prefixes`, the graph knows only the prefixes the document declares: for a graph
    that is only read (a container listing), since binding rdflib's thirty or so well-known
    ones cost as much as parsing a small document. Keep them for a graph written back."""
    kind = media_type(content_type)
    fmt = _PARSERS.get(kind)
    if fmt is None:
        raise MalformedRDF(
            f"{base} is {kind or 'of no declared type'}, not an RDF format we read "
            f"({', '.join(sorted(_PARSERS))}).",
            url=base,
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRDF(f"{base} is not valid UTF-8 text.", url=base) from exc
    if fmt == "json-ld":
        _check_json_ld(text, base)
    graph = Graph() if prefixes else Graph(bind_namespaces="none")
    try:
        graph.parse(data=text, format=fmt, publicID=base)
    except Exception as exc:  # rdflib raises many types; all mean "bad document"
        # rdflib's messages quote the document around the error, so only the line is reported.
        raise MalformedRDF(f"{base} is not valid {kind}{_line_of(exc)}.", url=base) from exc
    return graph


def serialize_turtle(graph: Graph, base: str | None = None) -> bytes:
    return graph.serialize(format="turtle", base=base, encoding="utf-8")


def _check_json_ld(text: str, base: str) -> None:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise MalformedRDF(f"{base} is not valid JSON: {_first_line(exc)}", url=base) from exc
    remote = _remote_contexts(document, depth=0, base=base)
    if remote:
        raise MalformedRDF(
            f"{base} refers to a remote JSON-LD context ({remote}); remote contexts are not "
            "fetched. Ask for Turtle instead.",
            url=base,
        )


def _remote_contexts(node: Any, depth: int, base: str) -> str | None:
    if depth > MAX_JSON_DEPTH:
        raise MalformedRDF(f"{base} nests JSON deeper than {MAX_JSON_DEPTH} levels.", url=base)
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("@context", "@import"):
                found = _first_string(value)
                if found:
                    return found
            found = _remote_contexts(value, depth + 1, base)
            if found:
                return found
    elif isinstance(node, list):
        for item in node:
            found = _remote_contexts(item, depth + 1, base)
            if found:
                return found
    return None


def _first_string(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return next((item for item in value if isinstance(item, str)), None)
    return None


def _line_of(exc: BaseException) -> str:
    line = getattr(exc, "lines", None)  # rdflib's BadSyntax counts lines from 0
    return f" (syntax error on line {line + 1})" if isinstance(line, int) else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."
