"""No identifier read from a pod may leave verbatim: not in a term, not in the raw Turtle.

Every IRI (also percent-decoded, so ``mailto:alice%40example.org`` is seen) and every literal
(its text and its datatype) of the result is searched in one pass over their joined text, and
so are the raw bytes, which hold what the parser drops (comments) or spells differently. The
shape may allow identifiers at a property: a property shape with
``dcg:mayContainIdentifiers true`` and a plain IRI ``sh:path`` exempts the values of that
property on the focus nodes of its node shape. A refusal names the property and the kind of
identifier, never the identifier.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from urllib.parse import unquote

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from vocab import DCG, SH

from .identifiers import InputIdentifiers
from .rules import capped, focus_nodes

_SEPARATOR = "\n"  # no identifier holds one: normalise() collapses whitespace


def identifier_problems(
    result: Graph, shape: Graph, contents: dict[str, bytes], identifiers: InputIdentifiers
) -> list[str]:
    if not identifiers.values:
        return []
    matcher = identifiers.matcher
    terms = _terms(result)
    offsets, texts = [], []
    position = 0
    for _, text in terms:
        offsets.append(position)
        texts.append(text)
        position += len(text) + len(_SEPARATOR)
    joined = _SEPARATOR.join(texts)
    exempt = _exempt(result, shape)
    places: Counter[tuple[str, str]] = Counter()  # (where, kind) -> how often
    in_terms: set[str] = set()
    allowed: set[str] = set()
    for match in matcher.find(joined):
        node = terms[bisect_right(offsets, match.start()) - 1][0]
        value = match.group()
        refused = _where(result, node, exempt)
        if refused:
            in_terms.add(value)
            for where in refused:
                places[(where, identifiers.kind_of(value))] += 1
        else:
            allowed.add(value)
    problems = [
        f"{where} contains {kind}{'' if n == 1 else f' ({n} times)'}."
        for (where, kind), n in sorted(places.items())
    ]
    for name, data in contents.items():
        hidden = matcher.found(data.decode("utf-8", "replace").lower()) - in_terms - allowed
        for kind in sorted({identifiers.kind_of(v) for v in hidden}):
            problems.append(
                f"{name} contains {kind} outside the values checked (in a comment, or spelt "
                "so that the Turtle parser reads it differently)."
            )
        for kind in sorted({identifiers.kind_of(v) for v in matcher.found(name.lower())}):
            problems.append(f"The name of an output file contains {kind}.")
    return capped(problems, "places holding identifiers read from pods")


def _terms(result: Graph) -> list[tuple[Node, str]]:
    """Each distinct IRI and literal with the lower-cased text searched in it."""
    terms: list[tuple[Node, str]] = []
    seen: set[Node] = set()
    for triple in result:
        for node in triple:
            if node in seen or not isinstance(node, URIRef | Literal):
                continue
            seen.add(node)
            parts = [str(node)]
            if isinstance(node, URIRef) and "%" in parts[0]:
                parts.append(unquote(parts[0]))
            elif isinstance(node, Literal) and node.datatype is not None:
                parts.append(str(node.datatype))
            # Whitespace collapsed as in the identifiers, so "Alice\n  Smith" is "alice smith".
            terms.append((node, _SEPARATOR.join(" ".join(p.split()) for p in parts).lower()))
    return terms


def _where(result: Graph, node: Node, exempt: set[tuple[Node, Node]]) -> list[str]:
    """Each place the node appears that no exemption covers, in words."""
    places = []
    if (node, None, None) in result:
        places.append("The IRI of a node in the result")
    if (None, node, None) in result:
        places.append(f"The property IRI {_short(result, node)}")
    for subject, predicate in result.subject_predicates(node):
        if (subject, predicate) not in exempt:
            places.append(f"A value of {_short(result, predicate)}")
    return sorted(set(places))


def _exempt(result: Graph, shape: Graph) -> set[tuple[Node, Node]]:
    """(focus node, property) pairs whose values the shape lets hold identifiers."""
    pairs: set[tuple[Node, Node]] = set()
    for property_shape in shape.subjects(DCG.mayContainIdentifiers, None):
        allowed = shape.value(property_shape, DCG.mayContainIdentifiers)
        path = shape.value(property_shape, SH.path)
        if not (isinstance(allowed, Literal) and allowed.value is True):
            continue
        if not isinstance(path, URIRef):
            continue  # only a plain property: a path expression could reach anything
        for node_shape in shape.subjects(SH.property, property_shape):
            pairs.update((focus, path) for focus in focus_nodes(result, shape, node_shape))
    return pairs


def _short(graph: Graph, node: Node) -> str:
    return node.n3(graph.namespace_manager) if isinstance(node, URIRef) else "a literal"
