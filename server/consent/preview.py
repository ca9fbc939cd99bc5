"""A short look at what a resource in a person's pod holds, so consent is informed.

Read with the person's own session, shown only to them, never stored. Every document is
hostile: size-limited, parsed by the client's checked parsers, shown as text (templates escape).
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Literal, URIRef

from connectors.solid import SolidClient
from connectors.solid import errors as solid_errors
from connectors.solid.rdf import is_rdf, media_type, parse_graph

#: Bytes read for a preview; a larger resource is described by its type only.
PREVIEW_BYTES = 256 * 1024
SAMPLE_LINES = 5
SAMPLE_MEMBERS = 8


@dataclass(frozen=True)
class Preview:
    summary: str  # "RDF, 42 statements", "a folder with 3 items", "text, 2 KB"
    sample: tuple[str, ...] = ()  # a few lines, statements or member names


def preview(client: SolidClient, url: str, *, is_container: bool) -> Preview:
    """Raises the client's `SolidError`s (NotFound, Forbidden, ...) for the caller to word."""
    if is_container:
        members = client.list_container(url)
        names = tuple(m.url[len(url) :] for m in members[:SAMPLE_MEMBERS])
        more = len(members) - len(names)
        summary = f"a folder with {len(members)} item{'s' * (len(members) != 1)}"
        return Preview(summary, names + ((f"... and {more} more",) if more > 0 else ()))
    try:
        resource = client.get(url, limit=PREVIEW_BYTES)
    except solid_errors.TooLarge:
        return Preview(f"larger than {PREVIEW_BYTES // 1024} KB: too large to preview here")
    kind = media_type(resource.content_type) or "unknown type"
    size = _size(len(resource.body))
    if is_rdf(resource.content_type):
        try:
            graph = parse_graph(resource.body, resource.content_type, resource.url)
        except solid_errors.MalformedRDF:
            return Preview(f"{kind}, {size}, which is not valid RDF")
        triples = sorted(graph, key=lambda t: tuple(str(x) for x in t))[:SAMPLE_LINES]
        sample = tuple(" ".join(_short(term, url) for term in triple) for triple in triples)
        return Preview(f"linked data ({kind}), {len(graph)} statements, {size}", sample)
    if kind.startswith("text/") or kind in ("application/json", "application/csv"):
        text = resource.body.decode("utf-8", errors="replace")
        lines = tuple(line[:200] for line in text.splitlines()[:SAMPLE_LINES])
        return Preview(f"text ({kind}), {size}", lines)
    return Preview(f"{kind}, {size}")


def _short(term: object, base: str) -> str:
    if isinstance(term, URIRef):
        text = str(term)
        document = base.split("#", 1)[0]
        if text.startswith(document + "#"):
            return "#" + text.split("#", 1)[1]
        return "<" + text.rsplit("/", 1)[-1] + ">" if "#" not in text else text.rsplit("#")[-1]
    if isinstance(term, Literal):
        value = str(term)
        return '"' + (value[:60] + "..." if len(value) > 60 else value) + '"'
    return "_:node"


def _size(count: int) -> str:
    return f"{count} bytes" if count < 1024 else f"{count / 1024:.1f} KB"
