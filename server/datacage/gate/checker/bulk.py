"""The approved shape as pySHACL runs it fastest, with the same validation results.

pySHACL checks a node shape's ``sh:property`` shapes one focus node at a time: for each report
node it builds every constraint component anew and looks its values up alone, so a result of
7,000 nodes and four properties costs 28,000 shape evaluations (about 70 % of the gate's time).
A property shape that carries the node shape's targets itself is evaluated once, over all its
focus nodes together. SHACL gives both the same results (same focus node, value, path, source
shape and constraint component: SHACL 2.1 and 2.3), so each movable property shape gets the
node shape's targets and loses its ``sh:property`` link; a closed node shape then lists the moved
paths in its ``sh:ignoredProperties``, which is what ``sh:closed`` allows anyway (SHACL 4.8.1).

Only what is plainly equivalent moves; the rest stays as written:
- a node shape with no explicit target, or one that is also a class (implicit targets), or is
  deactivated, or is the object of any statement (``sh:node``, ``sh:and``, ``sh:or``, ...: it is
  also checked on other nodes, through its ``sh:property`` links);
- a property shape linked from anything else, or with targets of its own, or without a path.
Names in refusals still come from the approved shape, never from this copy.
"""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from vocab import RDF, RDFS, SH

from .shapes import TARGETS, is_closed, node_shapes


def bulk_shapes(shape: Graph) -> Graph:
    """A copy of ``shape`` in which movable property shapes carry their node shape's targets."""
    copy = Graph()
    for triple in shape:
        copy.add(triple)
    referenced = set(shape.objects())
    for node_shape in node_shapes(shape):
        targets = [(p, o) for p in TARGETS for o in shape.objects(node_shape, p)]
        if not targets or not _movable_node_shape(shape, node_shape, referenced):
            continue
        moved = [p for p in shape.objects(node_shape, SH.property) if _movable_property(shape, p)]
        for property_shape in moved:
            copy.remove((node_shape, SH.property, property_shape))
            for predicate, target in targets:
                copy.add((property_shape, predicate, target))
        if moved and is_closed(shape, node_shape):
            _ignore_too(copy, shape, node_shape, [shape.value(p, SH.path) for p in moved])
    return copy


def _movable_node_shape(shape: Graph, node_shape: Node, referenced: set[Node]) -> bool:
    deactivated = shape.value(node_shape, SH.deactivated)
    return (
        node_shape not in referenced
        and (node_shape, RDF.type, RDFS.Class) not in shape
        and not (isinstance(deactivated, Literal) and deactivated.value is True)
    )


def _movable_property(shape: Graph, property_shape: Node) -> bool:
    links = list(shape.subject_predicates(property_shape))
    return (
        len(links) == 1  # linked from its node shape only
        and shape.value(property_shape, SH.path) is not None
        and not any((property_shape, t, None) in shape for t in TARGETS)
    )


def _ignore_too(copy: Graph, shape: Graph, node_shape: Node, paths: list[Node | None]) -> None:
    """The node shape's ``sh:ignoredProperties`` with the moved plain-IRI paths added (a path
    expression never declared a property for ``sh:closed``)."""
    old = shape.value(node_shape, SH.ignoredProperties)
    ignored = list(Collection(shape, old)) if old is not None else []
    ignored += [p for p in paths if isinstance(p, URIRef) and p not in ignored]
    copy.remove((node_shape, SH.ignoredProperties, None))
    head = BNode()
    Collection(copy, head, ignored)
    copy.add((node_shape, SH.ignoredProperties, head))
