"""Reading the approved shapes graph: its node shapes, their targets, and names for places in it.

A place is named from the shape alone (``shapes:MatchReport / df:parties``), with the prefixes
the shape declares, so the gate's sandbox and the server name it alike and the server can check
that a name the sandbox sent is one the shape has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from vocab import RDF, RDFS, SH

TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)


def node_shapes(shape: Graph) -> list[Node]:
    """Declared node shapes, shapes with a target, and shapes reached through ``sh:node``."""
    found: set[Node] = set(shape.subjects(RDF.type, SH.NodeShape))
    for target in TARGETS:
        found.update(shape.subjects(target, None))
    found.update(o for o in shape.objects(None, SH.node) if isinstance(o, URIRef | BNode))
    found -= set(shape.subjects(RDF.type, SH.PropertyShape))
    found -= {s for s in found if shape.value(s, SH.path) is not None}
    return sorted(found, key=lambda s: (isinstance(s, BNode), str(s)))


def property_shapes(shape: Graph, node_shape: Node) -> list[Node]:
    return sorted(shape.objects(node_shape, SH.property), key=str)


def is_closed(shape: Graph, node_shape: Node) -> bool:
    value = shape.value(node_shape, SH.closed)
    return isinstance(value, Literal) and value.value is True


def focus_nodes(result: Graph, shape: Graph, node_shape: Node) -> set[Node]:
    """The nodes a node shape applies to by its explicit targets (SHACL 2.1.3)."""
    nodes: set[Node] = set(shape.objects(node_shape, SH.targetNode))
    for target_class in with_subclasses(result, set(shape.objects(node_shape, SH.targetClass))):
        nodes.update(result.subjects(RDF.type, target_class))
    for p in shape.objects(node_shape, SH.targetSubjectsOf):
        nodes.update(result.subjects(p, None))
    for p in shape.objects(node_shape, SH.targetObjectsOf):
        nodes.update(result.objects(None, p))
    return nodes


def with_subclasses(result: Graph, classes: set[Node]) -> Iterator[Node]:
    """The classes and their subclasses as the result declares them (as SHACL counts them)."""
    seen: set[Node] = set()
    todo = list(classes)
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            yield current
            todo.extend(result.subjects(RDFS.subClassOf, current))


class Names:
    """Names for node shapes and their property paths, from the shape's own prefixes."""

    def __init__(self, shape: Graph, namespaces: Iterable[tuple[str, str]] | None = None):
        pairs = namespaces if namespaces is not None else shape.namespaces()
        # Longest namespace first, so ex: <https://e.org/a/> wins over <https://e.org/>.
        self._prefixes = sorted(
            ((str(prefix), str(iri)) for prefix, iri in pairs if str(iri)),
            key=lambda pair: (-len(pair[1]), pair[0]),
        )
        self._shape = shape

    def namespaces(self) -> list[tuple[str, str]]:
        return list(self._prefixes)

    def iri(self, node: Node) -> str:
        text = str(node)
        for prefix, namespace in self._prefixes:
            local = text[len(namespace) :]
            if text.startswith(namespace) and local.replace("-", "_").isidentifier():
                return f"{prefix}:{local}"
        return f"<{text}>" if len(text) <= 200 else f"<{text[:197]}...>"

    def node_shape(self, node_shape: Node) -> str:
        if isinstance(node_shape, URIRef):
            return self.iri(node_shape)
        for target in TARGETS:
            value = self._shape.value(node_shape, target)
            if value is not None:
                return f"[the shape of {self.iri(value)}]"
        for parent in self._shape.subjects(SH.node, node_shape):
            path = self._shape.value(parent, SH.path)
            if isinstance(path, URIRef):
                return f"[the shape of the values of {self.iri(path)}]"
        return "[a shape without a name]"

    def path(self, node_shape: Node, path: Node | None) -> str:
        where = self.node_shape(node_shape)
        if path is None:
            return where
        return f"{where} / {self.iri(path) if isinstance(path, URIRef) else 'a path expression'}"

    def all(self) -> frozenset[str]:
        """Every name a refusal may carry for this shape."""
        names: set[str] = set()
        for node_shape in node_shapes(self._shape):
            names.add(self.node_shape(node_shape))
            for property_shape in property_shapes(self._shape, node_shape):
                names.add(self.path(node_shape, self._shape.value(property_shape, SH.path)))
        return frozenset(names)
