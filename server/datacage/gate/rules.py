"""The gate's rules on the parsed result: the approved shape, and the smallest group (k).

SHACL (W3C Recommendation, 2017) decides the form; pySHACL runs it with no inference and no
imports, so nothing outside the cage is fetched. The k rule reads what each result node declares
with ``dcg:individuals``: the gate checks the declared coverage; whether the code computes it
truthfully is what participants approve when they approve the algorithm's digest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pyshacl import validate
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from vocab import DCG, RDF, RDFS, SH, XSD

MAX_REPORTED = 10
_SPARQL_TEXT = (SH.select, SH.ask, SH.construct, SH.update)
_SERVICE = re.compile(r"\bSERVICE\b", re.IGNORECASE)


def shape_problems(result: Graph, shape: Graph) -> list[str]:
    """The SHACL validation results, in words: where (focus node, property) and what."""
    if any(_SERVICE.search(str(text)) for p in _SPARQL_TEXT for text in shape.objects(None, p)):
        return [
            "The output shape has a SPARQL query with SERVICE, which would reach outside the "
            "datacage; the gate does not run it, so nothing can be released."
        ]
    try:
        conforms, report, _ = validate(
            result,
            shacl_graph=shape,
            inference="none",
            do_owl_imports=False,
            advanced=False,
            js=False,
            abort_on_first=False,
            allow_warnings=False,
            inplace=True,  # with no inference nothing is added, and a copy of 4 MB is slow
        )
    except Exception as error:  # a shape pySHACL cannot run is a refusal, not a crash
        return [f"The output could not be checked against its shape: {error}."]
    if conforms:
        return []
    problems = sorted(
        f"{describe(result, report.value(r, SH.focusNode))}"
        f"{_at(result, report.value(r, SH.resultPath))}: "
        f"{report.value(r, SH.resultMessage) or 'does not fit the output shape'}."
        for r in set(report.subjects(RDF.type, SH.ValidationResult))
    )
    return capped(problems, "places where the output does not fit its shape")


def coverage_problems(
    result: Graph, shape: Graph, min_individuals: int, individuals_in_run: int
) -> list[str]:
    """Each result node declares exactly one ``dcg:individuals``, from k to the run's people."""
    problems: list[str] = []
    if individuals_in_run < min_individuals:
        problems.append(
            f"This run read the data of {individuals_in_run} people; this space's results must "
            f"each cover at least {min_individuals}, so no result can be released."
        )
    for node in sorted(result_nodes(result, shape), key=str):
        where = describe(result, node)
        values = list(result.objects(node, DCG.individuals))
        if len(values) != 1:
            found = "none" if not values else f"{len(values)} values"
            problems.append(
                f"{where} must say how many individuals it covers with exactly one "
                f"dcg:individuals; it has {found}."
            )
            continue
        count = _integer(values[0])
        if count is None:
            problems.append(f"{where}: dcg:individuals must be an xsd:integer.")
        elif count < min_individuals:
            problems.append(
                f"{where} covers {count} individuals; every figure in a result must cover at "
                f"least {min_individuals} (this space's smallest group)."
            )
        elif count > individuals_in_run:
            problems.append(
                f"{where} claims to cover {count} individuals, but this run read the data of "
                f"only {individuals_in_run}."
            )
    return capped(problems, "results whose coverage is wrong")


def result_nodes(result: Graph, shape: Graph) -> set[Node]:
    """Instances of every class the shape targets, subclasses included (as SHACL counts them)."""
    classes = set(shape.objects(None, SH.targetClass))
    return {n for c in _with_subclasses(result, classes) for n in result.subjects(RDF.type, c)}


def focus_nodes(result: Graph, shape: Graph, node_shape: Node) -> set[Node]:
    """The nodes a node shape applies to, by its explicit targets."""
    nodes: set[Node] = set(shape.objects(node_shape, SH.targetNode))
    for target_class in _with_subclasses(result, set(shape.objects(node_shape, SH.targetClass))):
        nodes.update(result.subjects(RDF.type, target_class))
    for p in shape.objects(node_shape, SH.targetSubjectsOf):
        nodes.update(result.subjects(p, None))
    for p in shape.objects(node_shape, SH.targetObjectsOf):
        nodes.update(result.objects(None, p))
    return nodes


def _with_subclasses(result: Graph, classes: set[Node]) -> Iterator[Node]:
    seen: set[Node] = set()
    todo = list(classes)
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            yield current
            todo.extend(result.subjects(RDFS.subClassOf, current))


def _integer(value: Node) -> int | None:
    if not isinstance(value, Literal) or value.datatype != XSD.integer:
        return None
    return value.value if isinstance(value.value, int) else None


def capped(problems: list[str], what: str) -> list[str]:
    if len(problems) <= MAX_REPORTED:
        return problems
    return [*problems[:MAX_REPORTED], f"... and {len(problems) - MAX_REPORTED} more {what}."]


def describe(graph: Graph, node: Node | None) -> str:
    """A node as a person finds it in the Turtle: a prefixed name, or a blank node's place."""
    if node is None:
        return "The output"
    if isinstance(node, BNode):
        for subject, predicate in graph.subject_predicates(node):
            if not isinstance(subject, BNode):
                return f"The {_short(graph, predicate)} of {_short(graph, subject)}"
        return "A blank node"
    return _short(graph, node)


def _at(graph: Graph, path: Node | None) -> str:
    return "" if path is None or isinstance(path, BNode) else f", {_short(graph, path)}"


def _short(graph: Graph, node: Node) -> str:
    text = node.n3(graph.namespace_manager) if isinstance(node, URIRef | Literal) else str(node)
    return text if len(text) <= 100 else text[:97] + "..."
