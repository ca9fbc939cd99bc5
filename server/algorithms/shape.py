"""The output shape: a SHACL shapes graph (Turtle) describing what the algorithm may emit.

The datacage gates every result against this shape before it leaves, so a shape that is not
SHACL, or that targets nothing, would let anything through. Four checks, cheapest first: it
parses as Turtle, it has a targeted ``sh:NodeShape``, it uses no SPARQL and no regular
expression a linear-time engine cannot run (the gate would refuse every result of it: see
``server.datacage.gate.checker.unsafe``), and it conforms to the SHACL-for-SHACL shapes (SHACL
section 6.1, "SHACL Shapes to Validate Shapes Graphs"), which pySHACL ships.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pyshacl.entrypoints import meta_validate
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from server.algorithms.errors import BundleError
from server.algorithms.limits import BundleLimits, describe_size
from server.algorithms.paths import MANIFEST_PATH
from vocab import RDF, SH

# Relative IRIs in a shape resolve against this, not against the server's working directory.
SHAPE_BASE = "https://bundle.datacage.invalid/"
TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
_MAX_REPORTED = 10
_BAD_SYNTAX = re.compile(r"at line (\d+) of <[^>]*>:\s*Bad syntax \((.*?)\) at \^", re.DOTALL)


def parse_shape(path: str, data: bytes) -> Graph:
    """The shapes graph in ``data`` (the file at ``path``); raises :class:`BundleError`."""
    problems: list[str] = []
    graph = _parse(path, data, problems)
    if graph is None:
        raise BundleError(problems)
    return graph


def check_shape(files: Mapping[str, bytes], path: str, limits: BundleLimits) -> list[str]:
    """Problems with the manifest's ``output_shape``, the file at ``path``."""
    if path not in files:
        return [f"{MANIFEST_PATH}: output_shape {path!r} is not a file in the bundle."]
    if len(files[path]) > limits.max_shape_bytes:
        limit = describe_size(limits.max_shape_bytes)
        return [f"{path} is larger than {limit}, the limit for the output shape."]
    problems: list[str] = []
    graph = _parse(path, files[path], problems)
    if graph is None:
        return problems
    if len(graph) > limits.max_shape_triples:
        limit = limits.max_shape_triples
        return [f"{path} has {len(graph)} triples; the limit for the output shape is {limit}."]
    node_shapes = sorted(set(graph.subjects(RDF.type, SH.NodeShape)), key=str)
    if not node_shapes:
        return [
            f"{path} is not a SHACL shapes graph: it declares no sh:NodeShape, so it does not "
            "describe the output (e.g. 'ex:ReportShape a sh:NodeShape ; sh:targetClass ex:Report')."
        ]
    if not any(
        graph.value(shape, target) is not None for shape in node_shapes for target in TARGETS
    ):
        return [
            f"{path}: no sh:NodeShape has a target (sh:targetClass, sh:targetNode, "
            "sh:targetSubjectsOf or sh:targetObjectsOf), so the shape would check nothing."
        ]
    unsafe = _unsafe_problems(path, graph)
    return unsafe or _meta_problems(path, graph)


def _unsafe_problems(path: str, graph: Graph) -> list[str]:
    # The gate's checker is bound alone into the gate's sandbox (it may import nothing of the
    # server), so these checks live there and registration borrows them, lazily: the gate's
    # package reads SHAPE_BASE from this module when it loads.
    from server.datacage.gate.checker.unsafe import pattern_problems, sparql_terms

    problems = []
    terms = sparql_terms(graph)
    if terms:
        problems.append(
            f"{path} uses SPARQL ({', '.join(terms)}): output shapes may not, since the gate "
            "would run the query on people's data. Use SHACL Core constraints (sh:datatype, "
            "sh:in, sh:pattern, sh:minCount, ...)."
        )
    bad = pattern_problems(graph)
    if bad:
        problems.append(
            f"{path} has {bad} sh:pattern the gate's linear-time engine (RE2) cannot run: "
            "back-references, look-around and the flags x and q are not allowed."
        )
    return problems


def _parse(path: str, data: bytes, problems: list[str]) -> Graph | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problems.append(f"{path}:{line}: not UTF-8, which Turtle requires.")
        return None
    graph = Graph()
    try:
        graph.parse(data=text, format="turtle", publicID=SHAPE_BASE + path)
    except Exception as error:
        # rdflib reports bad Turtle as BadSyntax, but odd input can raise other errors too.
        problems.append(_turtle_problem(path, error))
        return None
    return graph


def _turtle_problem(path: str, error: Exception) -> str:
    match = _BAD_SYNTAX.search(str(error))
    if match:
        return f"{path}:{match.group(1)}: not valid Turtle: {match.group(2)}."
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"{path} is not valid Turtle: {first_line}."


def _meta_problems(path: str, graph: Graph) -> list[str]:
    try:
        conforms, report, _ = meta_validate(graph, inference="none")
    except Exception as error:  # pySHACL gives up on some malformed shapes instead of reporting
        return [f"{path} could not be checked as SHACL: {error}."]
    if conforms:
        return []
    problems = sorted(
        f"{path} is not valid SHACL: {_describe(graph, report.value(result, SH.focusNode))} "
        f"{_describe(graph, report.value(result, SH.resultPath))}: "
        f"{report.value(result, SH.resultMessage)}."
        for result in set(report.subjects(RDF.type, SH.ValidationResult))
    )
    if len(problems) > _MAX_REPORTED:
        more = len(problems) - _MAX_REPORTED
        problems = [*problems[:_MAX_REPORTED], f"{path}: ... and {more} more SHACL problems."]
    return problems


def _describe(graph: Graph, node: Node | None) -> str:
    """A node as a person finds it in the Turtle file: a prefixed name, or where a blank node is."""
    if node is None:
        return ""
    if isinstance(node, BNode):
        for subject, predicate in graph.subject_predicates(node):
            return f"the {_describe(graph, predicate)} of {_describe(graph, subject)}"
        return "a blank node"
    if isinstance(node, URIRef | Literal):
        return node.n3(graph.namespace_manager)
    return str(node)
