"""A canonical byte form of a result graph, so a signature survives any re-serialisation.

A pod may store, re-indent or re-serialise the Turtle it was given (an N3 Patch makes CSS write
it anew), so the signature covers the *graph*, not the bytes. Blank nodes are the only hard part
of canonical RDF; the datacage removes them before signing: `skolemize` labels them with
rdflib's canonical labelling (`rdflib.compare.to_canonical_graph`, hash-based and deterministic)
and turns each into an IRI under the result (`.../genid/<label>`, RDF 1.1 Concepts 3.5). A graph
without blank nodes has exactly one canonical form: its N-Triples lines, sorted. That is what is
signed. (It is not RDFC-1.0, which rdflib does not implement; it needs none of it, since no blank
node is left.)
"""

from __future__ import annotations

from rdflib import BNode, Graph, URIRef
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
    lines = graph.serialize(format="nt", encoding="utf-8").decode("utf-8").splitlines()
    return "".join(sorted(f"{line}\n" for line in lines if line.strip())).encode("utf-8")
