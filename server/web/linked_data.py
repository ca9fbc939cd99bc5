"""Content negotiation: every space, participant, invitation, algorithm and approval IRI
answers with Turtle or JSON-LD to an RDF client, and with the HTML page to a browser.

A node's description is its concise bounded description within the space's graph: the triples
about it, plus those about the IRIs under it (an algorithm's output shape, a space's requests).
"""

from __future__ import annotations

from flask import Response, request
from rdflib import Graph, URIRef

from vocab import bind_prefixes

TURTLE = "text/turtle"
JSON_LD = "application/ld+json"
HTML = "text/html"
_FORMATS = {TURTLE: "turtle", JSON_LD: "json-ld", "application/n-triples": "nt"}


def rdf_type_wanted() -> str | None:
    """The RDF media type the client prefers over HTML, or None for a browser."""
    best = request.accept_mimetypes.best_match([HTML, *_FORMATS], default=HTML)
    return None if best == HTML else best


def describe(graph: Graph, iri: str) -> Graph:
    subset = bind_prefixes(Graph())
    for s, p, o in graph:
        if _about(s, iri):
            subset.add((s, p, o))
    return subset


def rdf_response(graph: Graph, media_type: str) -> Response:
    body = graph.serialize(format=_FORMATS[media_type])
    response = Response(body, mimetype=media_type)
    response.vary.add("Accept")
    return response


def _about(subject: object, iri: str) -> bool:
    if not isinstance(subject, URIRef):
        return False
    text = str(subject)
    return text == iri or text.startswith((iri + "/", iri + "#"))
