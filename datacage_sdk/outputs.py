"""The result, checked against the bundle's own output shape before it is written.

The datacage's output gate has the last word (pySHACL, the smallest group, identifiers read
from the inputs: docs/output-gate.md); this check runs inside the sandbox, where pySHACL is
not, and catches the common mistakes early with a message naming the node and the property:
a property the closed shape does not list, a missing or repeated value, a wrong datatype,
a value under ``sh:minInclusive``, and a result node without one integer ``dcg:individuals``.
"""

from __future__ import annotations

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.term import Node

DCG_INDIVIDUALS = URIRef("https://w3id.org/datacage/ns#individuals")
_MAX_SHOWN = 10


class OutputError(ValueError):
    """The result does not fit the bundle's output shape; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:_MAX_SHOWN]
        more = f" (and {len(problems) - _MAX_SHOWN} more)" if len(problems) > _MAX_SHOWN else ""
        super().__init__("The result does not fit the output shape: " + "; ".join(shown) + more)


def shape_problems(result: Graph, shape: Graph) -> list[str]:
    """What in ``result`` breaks the parts of ``shape`` this check understands."""
    problems: list[str] = []
    if len(result) == 0:
        return ["the result holds no statements"]
    names = Graph()  # prefixes of the shape and the result, to name things as their author does
    for prefix, namespace in [*shape.namespaces(), *result.namespaces()]:
        names.bind(prefix, namespace, override=False)
    for node_shape in set(shape.subjects(SH.targetClass, None)):
        properties = [_property(shape, p) for p in shape.objects(node_shape, SH.property)]
        allowed = {p["path"] for p in properties} | _ignored(shape, node_shape)
        closed = shape.value(node_shape, SH.closed) == Literal(True)
        for focus in sorted(_focus_nodes(result, shape, node_shape), key=str):
            name = _name(names, focus)
            if closed:
                for predicate in sorted(set(result.predicates(focus, None)) - allowed, key=str):
                    problems.append(
                        f"{name} has {_name(names, predicate)}, which the shape does not allow"
                    )
            for prop in properties:
                problems += _property_problems(result, names, focus, name, prop)
            count = list(result.objects(focus, DCG_INDIVIDUALS))
            if len(count) != 1 or not _is_integer(count[0]):
                problems.append(f"{name} needs exactly one integer dcg:individuals")
    return problems


def _property(shape: Graph, node: Node) -> dict[str, object]:
    return {
        "path": shape.value(node, SH.path),
        "min": _int(shape.value(node, SH.minCount)),
        "max": _int(shape.value(node, SH.maxCount)),
        "datatype": shape.value(node, SH.datatype),
        "min_inclusive": shape.value(node, SH.minInclusive),
    }


def _property_problems(
    result: Graph, names: Graph, focus: Node, name: str, prop: dict
) -> list[str]:
    path = prop["path"]
    if not isinstance(path, URIRef):
        return []  # a path expression: left to the gate's pySHACL
    values = list(result.objects(focus, path))
    label, problems = _name(names, path), []
    if prop["min"] is not None and len(values) < prop["min"]:
        problems.append(f"{name} needs at least {prop['min']} {label}")
    if prop["max"] is not None and len(values) > prop["max"]:
        problems.append(f"{name} has {len(values)} {label}, at most {prop['max']} allowed")
    for value in values:
        datatype = prop["datatype"]
        if datatype is not None and _datatype(value) != datatype:
            problems.append(f"{name}'s {label} must be a {_name(names, datatype)}")
        bound = prop["min_inclusive"]
        if isinstance(bound, Literal) and isinstance(value, Literal):
            try:
                if value.toPython() < bound.toPython():
                    problems.append(f"{name}'s {label} is under {bound}")
            except TypeError:
                pass
    return problems


def _focus_nodes(result: Graph, shape: Graph, node_shape: Node) -> set[Node]:
    classes = set(shape.objects(node_shape, SH.targetClass))
    for sub, sup in result.subject_objects(RDFS.subClassOf):  # subclasses declared in the output
        if sup in classes:
            classes.add(sub)
    return {node for cls in classes for node in result.subjects(RDF.type, cls)}


def _ignored(shape: Graph, node_shape: Node) -> set[Node]:
    listed = shape.value(node_shape, SH.ignoredProperties)
    return set(shape.items(listed)) if listed is not None else set()


def _datatype(value: Node) -> Node | None:
    if not isinstance(value, Literal):
        return None
    if value.datatype is None:  # RDF 1.1: a simple literal is an xsd:string
        return None if value.language else XSD.string
    return value.datatype


def _is_integer(value: Node) -> bool:
    return isinstance(value, Literal) and value.datatype == XSD.integer


def _int(value: Node | None) -> int | None:
    return int(value) if isinstance(value, Literal) else None


def _name(graph: Graph, node: Node) -> str:
    try:
        return graph.namespace_manager.normalizeUri(node) if isinstance(node, URIRef) else str(node)
    except Exception:  # an IRI rdflib cannot shorten
        return f"<{node}>"
