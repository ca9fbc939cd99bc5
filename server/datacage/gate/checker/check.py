"""Every check of one request, in order: the shape's own safety, then the output against it."""

from __future__ import annotations

from collections.abc import Callable

from rdflib import Graph

from .closure import closure_refusals
from .coverage import coverage_refusals
from .refusal import GateRefusal
from .shapes import Names
from .unsafe import pattern_problems, sparql_terms
from .validate import shape_refusals


def shape_safety(shape: Graph) -> list[GateRefusal]:
    """Refusals for a shape the gate will not run at all (also checked at registration)."""
    terms = sparql_terms(shape)
    found = [GateRefusal("shape/sparql", None, len(terms), terms[0])] if terms else []
    bad_patterns = pattern_problems(shape)
    if bad_patterns:
        found.append(GateRefusal("shape/pattern", None, bad_patterns))
    return found


def check_graph(
    result: Graph, shape: Graph, names: Names, min_individuals: int, individuals_in_run: int
) -> list[GateRefusal]:
    if len(result) == 0:
        return [GateRefusal("turtle/empty")]
    statements = list(result)
    return [
        *shape_refusals(result, shape, names),
        *closure_refusals(result, shape, names, statements),
        *coverage_refusals(statements, min_individuals, individuals_in_run),
    ]


def parse_files(files: list[list[str]], base: str) -> tuple[Graph, int]:
    """All files in one graph, and how many did not parse."""
    graph, bad = Graph(), 0
    for name, text in files:
        try:
            graph.parse(data=text, format="turtle", publicID=base + name)
        except MemoryError:
            raise  # the sandbox's limit, not the file's fault: no verdict at all
        except Exception:  # BadSyntax mostly; hostile input can raise other errors
            bad += 1
    return graph, bad


def check_request(request: dict, say: Callable[[dict[str, object]], None]) -> None:
    shape = Graph().parse(data=request["shape"], format="nt")
    names = Names(shape, [tuple(pair) for pair in request["namespaces"]])
    refusals = shape_safety(shape)
    if refusals:  # not a line of its SPARQL or its patterns is run
        say({"refusals": [r.to_json() for r in refusals]})
        return
    result, bad = parse_files(request["files"], request["base"])
    if bad:
        say({"refusals": [GateRefusal("turtle/syntax", None, bad).to_json()]})
        return
    say({"parsed": True})
    refusals = check_graph(
        result, shape, names, request["min_individuals"], request["individuals_in_run"]
    )
    say({"refusals": [r.to_json() for r in refusals]})
