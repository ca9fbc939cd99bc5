"""The smallest group (k), on every node of the result, not only on instances of a class.

Every node the result describes reports on people, so each one must say how many it covers
with exactly one ``dcg:individuals`` (an ``xsd:integer``), from the space's smallest group to
the number of people whose data the run read. Counting every subject is what makes a
per-person node next to the report (``dcg:individuals 1``, or none) a refusal whatever its
class. The gate checks the coverage the output declares; whether the code computed it
truthfully is what participants approve when they approve the algorithm's digest.
"""

from __future__ import annotations

from collections import Counter

from rdflib import Literal
from rdflib.term import Node

from vocab import DCG, XSD

from .refusal import GateRefusal


def coverage_refusals(
    statements: list[tuple[Node, Node, Node]], min_individuals: int, individuals_in_run: int
) -> list[GateRefusal]:
    """``statements``: the result's, as ``list(graph)``."""
    found: list[GateRefusal] = []
    if individuals_in_run < min_individuals:
        found.append(GateRefusal("k/run-too-small", limit=min_individuals))
    counts: Counter[str] = Counter()
    declared: dict[Node, list[Node]] = {}
    individuals = DCG.individuals
    for node, predicate, value in statements:
        values = declared.setdefault(node, [])
        if predicate == individuals:
            values.append(value)
    for values in declared.values():
        if len(values) != 1:
            counts["k/missing" if not values else "k/several"] += 1
            continue
        count = _integer(values[0])
        if count is None:
            counts["k/not-integer"] += 1
        elif count < min_individuals:
            counts["k/too-small"] += 1
        elif count > individuals_in_run:
            counts["k/too-large"] += 1
    for rule, count in sorted(counts.items()):
        limit = min_individuals if rule == "k/too-small" else None
        found.append(GateRefusal(rule, None, count, limit=limit))
    return found


def _integer(value: Node) -> int | None:
    if not isinstance(value, Literal) or value.datatype != XSD.integer:
        return None
    # A malformed or huge lexical form has no value (rdflib keeps it ill-typed): refused.
    return (
        value.value if isinstance(value.value, int) and not isinstance(value.value, bool) else None
    )
