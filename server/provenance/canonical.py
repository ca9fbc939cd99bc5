r"""A canonical byte form of a result graph, so a signature survives any re-serialisation.

A pod may store, re-indent or re-serialise the Turtle it was given (an N3 Patch makes CSS write
it anew), so the signature covers the *graph*, not the bytes. Blank nodes are the only hard part
of canonical RDF; the datacage removes them before signing: `skolemize` labels them with
rdflib's canonical labelling (`rdflib.compare.to_canonical_graph`, hash-based and deterministic)
and turns each into an IRI under the result (`.../genid/<label>`, RDF 1.1 Concepts 3.5). A graph
without blank nodes has exactly one canonical form: its N-Triples lines, sorted. That is what is
signed. (It is not RDFC-1.0, which rdflib does not implement; it needs none of it, since no blank
node is left.)

Lines are split on ``\n`` alone, never with ``str.splitlines()``: that also splits on U+2028,
U+0085, ``\x0b`` and others, which rdflib leaves raw inside literals, and two triples could
then swap the pieces after such a character without changing the sorted lines (one signature,
two results). Each such character, and every other control character, is written as a
``\uXXXX`` escape, so the payload is plain N-Triples with exactly one line per triple. IRIs
must not hold them at all (nor a backslash, which would make an escape ambiguous).
"""

from __future__ import annotations

import unicodedata

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import to_canonical_graph

from .errors import MalformedResult


def skolemize(graph: Graph, base: str) -> Graph:
    """The same graph with every blank node replaced by a stable IRI under `base`."""
    canonical = to_canonical_graph(graph)
    out = Graph()
    for prefix, namespace in graph.namespaces():
        out.bind(prefix, namespace, override=False)

    def term(node):
        return URIRef(f"{base}/genid/{node}") if isinstance(node, BNode) else node

    for s, p, o in canonical:
        out.add((term(s), p, term(o)))
    return out


def canonical_nquads(graph: Graph) -> bytes:
    """Sorted N-Triples of a graph without blank nodes (UTF-8): the signed payload."""
    if any(isinstance(node, BNode) for triple in graph for node in triple):
        raise MalformedResult(
            "The result holds blank nodes; a signed result names every node with an IRI."
        )
    for triple in graph:
        for node in triple:
            _check_iri(node)
            if isinstance(node, Literal) and node.datatype is not None:
                _check_iri(node.datatype)
    text = graph.serialize(format="nt", encoding="utf-8").decode("utf-8")
    lines = text.split("\n")
    if lines[-1] != "" or len(lines) - 1 != len(graph):  # a raw newline inside a term
        raise MalformedResult("The result holds a term that N-Triples cannot write on one line.")
    escaped = [_escape(line) for line in lines[:-1]]
    return "".join(sorted(f"{line}\n" for line in escaped)).encode("utf-8")


def _separates(char: str) -> bool:
    """Control characters (C0, DEL, C1) and the Unicode line and paragraph separators."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def _escape(line: str) -> str:
    # rdflib already escapes a literal's backslashes, so an escape written here cannot be
    # confused with text that was there.
    return "".join(f"\\u{ord(c):04X}" if _separates(c) else c for c in line)


_NOT_IN_IRI = frozenset('<>"{}|^`\\ ')


def _check_iri(node: object) -> None:
    if isinstance(node, URIRef) and any(c in _NOT_IN_IRI or _separates(c) for c in node):
        raise MalformedResult(
            "The result holds an IRI with a character no IRI may hold (a space, a control "
            'character, a line separator or one of <>"{}|^`\\).'
        )
