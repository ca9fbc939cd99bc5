"""SHACL validation of the result (W3C SHACL, 2017) by pySHACL, with RE2 for ``sh:pattern``.

pySHACL compiles ``sh:pattern`` with Python's ``re``, which backtracks: ``^(a|aa)+$`` on 61
characters holds the interpreter for hours. Here its string constraints get RE2 instead, which
runs in linear time; patterns RE2 cannot run were refused before (``.unsafe``). pySHACL gets
the shape with its property shapes carrying their node shapes' targets (``.bulk``: the same
results, evaluated once for all focus nodes instead of once per node). No inference,
no imports, no advanced features, no JavaScript; SPARQL was refused before too. The results
become refusals naming the shape's place and the constraint component, never a value.
"""

from __future__ import annotations

import re
from collections import Counter

import re2
from pyshacl import validate
from pyshacl.constraints.core import string_based_constraints
from rdflib import Graph, URIRef
from rdflib.term import Node

from vocab import RDF, SH

from .bulk import bulk_shapes
from .refusal import GateRefusal
from .shapes import Names


class _LinearRegex:
    """What pySHACL's pattern constraint uses of ``re``: the two flags and ``compile``."""

    I = re.I  # noqa: E741 - the name pySHACL reads
    M = re.M

    @staticmethod
    def compile(pattern: str, flags: int = 0) -> re2._Regexp:
        inline = ("i" if flags & re.I else "") + ("m" if flags & re.M else "")
        return re2.compile((f"(?{inline})" if inline else "") + pattern)


def use_linear_regex() -> None:
    """Point pySHACL's pattern constraint at RE2 (fails loudly if pySHACL changed)."""
    if not hasattr(string_based_constraints, "re"):
        raise RuntimeError("pySHACL's pattern constraint no longer uses re: check the RE2 patch")
    string_based_constraints.re = _LinearRegex


def shape_refusals(result: Graph, shape: Graph, names: Names) -> list[GateRefusal]:
    use_linear_regex()
    try:
        conforms, report, _ = validate(
            result,
            shacl_graph=bulk_shapes(shape),  # the same results, far fewer evaluations
            inference="none",
            do_owl_imports=False,
            advanced=False,
            js=False,
            abort_on_first=False,
            allow_warnings=False,
            inplace=True,  # with no inference nothing is added, and a copy of 4 MB is slow
        )
    except MemoryError:
        raise
    except Exception:  # a shape pySHACL cannot run is a refusal, not a crash
        return [GateRefusal("shape/unreadable")]
    if conforms:
        return []
    counts: Counter[tuple[str, str | None]] = Counter()
    for result_node in report.subjects(RDF.type, SH.ValidationResult):
        where = _where(shape, names, report.value(result_node, SH.sourceShape))
        component = report.value(result_node, SH.sourceConstraintComponent)
        counts[(where, _component(component))] += 1
    if not counts:
        return [GateRefusal("shape/violation")]
    return [
        GateRefusal("shape/violation", where, count, detail)
        for (where, detail), count in sorted(counts.items(), key=lambda i: (i[0][0], i[0][1] or ""))
    ]


def _where(shape: Graph, names: Names, source: Node | None) -> str:
    if source is None:
        return names.node_shape(URIRef(""))
    path = shape.value(source, SH.path)
    if path is None:
        return names.node_shape(source)
    parent = min(shape.subjects(SH.property, source), key=str, default=None)
    if parent is None:
        return names.node_shape(source)
    return names.path(parent, path)


def _component(component: Node | None) -> str | None:
    text = str(component or "")
    local = text[len(str(SH)) :]
    return f"sh:{local}" if text.startswith(str(SH)) and local.isalpha() else None
