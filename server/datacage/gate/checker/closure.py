"""Closed-world output: every statement belongs to a node a *closed* shape describes.

``sh:closed`` alone binds only the focus nodes of its shape: statements about any other node
(a per-person node next to the report, a triple about the shape itself) pass SHACL untouched.
Here, a statement ``s p o`` is kept only if ``s`` is a focus node of a closed node shape, or
is reached from one through a declared property whose property shape has ``sh:node`` (then
that node shape must be closed too), and ``p`` is a property that shape declares (a plain IRI
``sh:path``, or one of its ``sh:ignoredProperties``). The values are held to the shape too:

- an ``rdf:type`` names a class the shape names (``sh:targetClass``, ``sh:class``);
- a literal's datatype is an XSD datatype or one the shape names with ``sh:datatype``;
- a language tag only where the property shape has ``sh:languageIn`` (a tag is free text);
- an IRI value is one the shape names (``sh:in``, ``sh:hasValue``, a class), a node the
  result describes and these rules reach, or the value of a property the shape says may hold
  identifiers (``dcg:mayContainIdentifiers true``, which participants see before approving).

Refusals name the rule and the place in the shape, and count; never a node, value or IRI.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from vocab import DCG, RDF, SH, XSD

from .refusal import GateRefusal
from .shapes import Names, focus_nodes, is_closed, node_shapes, property_shapes

_TYPE = RDF.type  # looked up once: a DefinedNamespace attribute is slow in a hot loop


@dataclass
class _Declared:
    """What one node shape lets its nodes say."""

    closed: bool
    properties: set[Node] = field(default_factory=set)
    nested: dict[Node, list[Node]] = field(default_factory=dict)  # path -> node shapes
    languages: set[Node] = field(default_factory=set)  # paths with sh:languageIn
    any_iri: set[Node] = field(default_factory=set)  # paths that may hold identifiers


def closure_refusals(
    result: Graph, shape: Graph, names: Names, statements: list[tuple[Node, Node, Node]]
) -> list[GateRefusal]:
    """``statements`` are ``list(result)``, read once by the caller (iterating an rdflib
    graph is the slow part, and three checks need every statement)."""
    declared = {s: _declared(shape, s) for s in node_shapes(shape)}
    applied: dict[Node, set[Node]] = {}  # result node -> node shapes that apply to it
    todo = [(n, s) for s in declared for n in focus_nodes(result, shape, s)]
    while todo:
        node, node_shape = todo.pop()
        if node_shape in applied.setdefault(node, set()):
            continue
        applied[node].add(node_shape)
        rules = declared.get(node_shape)
        if rules is None or not rules.closed:
            continue
        for path, nested in rules.nested.items():
            for value in result.objects(node, path):
                todo.extend((value, inner) for inner in nested if inner in declared)
    problems: Counter[tuple[str, str | None]] = Counter()
    described: set[Node] = set()
    values = _Values(shape)
    closed_here: dict[Node, list[Node]] = {}  # per subject, found once
    for node, predicate, value in statements:
        closed = closed_here.get(node)
        if closed is None:
            closed = closed_here[node] = [s for s in applied.get(node, ()) if declared[s].closed]
        holder = next((s for s in closed if predicate in declared[s].properties), None)
        if holder is None:
            problems[_outside(applied.get(node, set()), closed, declared, names)] += 1
            continue
        described.add(node)
        problem = values.problem(declared[holder], predicate, value)
        if problem is not None:
            where = names.path(holder, predicate) if problem == "closed/language" else None
            problems[(problem, where)] += 1
    problems.update(_iri_values(statements, values.named, names, declared, applied, described))
    ordered = sorted(problems.items(), key=lambda item: (item[0][0], item[0][1] or ""))
    return [GateRefusal(rule, where, count) for (rule, where), count in ordered]


def _declared(shape: Graph, node_shape: Node) -> _Declared:
    found = _Declared(closed=is_closed(shape, node_shape))
    ignored = shape.value(node_shape, SH.ignoredProperties)
    if ignored is not None:
        found.properties.update(Collection(shape, ignored))
    for property_shape in property_shapes(shape, node_shape):
        path = shape.value(property_shape, SH.path)
        if not isinstance(path, URIRef):
            continue  # a path expression declares no property of this node
        found.properties.add(path)
        nested = [
            n for n in shape.objects(property_shape, SH.node) if isinstance(n, URIRef | BNode)
        ]
        if nested:
            found.nested.setdefault(path, []).extend(nested)
        if shape.value(property_shape, SH.languageIn) is not None:
            found.languages.add(path)
        allowed = shape.value(property_shape, DCG.mayContainIdentifiers)
        if isinstance(allowed, Literal) and allowed.value is True:
            found.any_iri.add(path)
    return found


def _outside(shapes_here, closed, declared, names: Names) -> tuple[str, str | None]:
    if closed:
        return "closed/property", names.node_shape(min(closed, key=str))
    if shapes_here:
        return "closed/open-shape", names.node_shape(min(shapes_here, key=str))
    return "closed/outside", None


class _Values:
    """What the shape names, gathered once: a result has tens of thousands of statements."""

    def __init__(self, shape: Graph):
        self.classes = set(shape.objects(None, SH.targetClass)) | set(
            shape.objects(None, SH["class"])
        )
        self.datatypes = set(shape.objects(None, SH.datatype))
        self.named = {o for o in shape.objects() if isinstance(o, URIRef)}
        self.named |= {s for s in shape.subjects() if isinstance(s, URIRef)}
        self._xsd = str(XSD)

    def problem(self, rules: _Declared, predicate: Node, value: Node) -> str | None:
        if predicate == _TYPE:
            return None if value in self.classes else "closed/type"
        if not isinstance(value, Literal):
            return None
        datatype = value.datatype
        known = datatype is None or datatype in self.datatypes
        if not known and not str(datatype).startswith(self._xsd):
            return "closed/datatype"
        if value.language is not None and predicate not in rules.languages:
            return "closed/language"
        return None


def _iri_values(statements, named, names, declared, applied, described) -> Counter:
    """IRIs in object position: named by the shape, or a node the closed world reached."""
    counts: Counter[tuple[str, str | None]] = Counter()
    for node, predicate, value in statements:
        if not isinstance(value, URIRef) or predicate == _TYPE or value in named:
            continue
        if value in described:  # reached and saying something declared, not a bare IRI
            continue
        holders = [s for s in applied.get(node, ()) if declared[s].closed
                   and predicate in declared[s].properties]  # fmt: skip
        if any(predicate in declared[s].any_iri for s in holders):
            continue
        if holders:  # statements outside every shape were counted already
            counts[("closed/iri-value", names.path(min(holders, key=str), predicate))] += 1
    return counts
