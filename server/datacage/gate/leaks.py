"""No identifier read from a pod may leave: not in a term, not in the raw Turtle, in no form.

Every IRI and every literal (its text and its datatype) of the result is searched, and so are
the raw bytes, which hold what the parser drops (comments) or spells differently. The search is
`InputIdentifiers.scanner`: the identifier as read in any case or spacing, and its re-spelt,
reversed, percent-encoded, hex, Base32, Base64 and hashed forms (`scan`). The shape may allow
identifiers at a property: a property shape with ``dcg:mayContainIdentifiers true`` and a plain
IRI ``sh:path`` exempts the values of that property on the focus nodes of its node shape. A
refusal names the property, the kind of identifier and its form, never the identifier.
"""

from __future__ import annotations

from collections import Counter

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from vocab import DCG, SH

from .identifiers import InputIdentifiers
from .rules import capped, focus_nodes

# Between terms and parts of a term: no view of the scan removes it and no needle holds it, so
# nothing is found across two terms that is not in one of them.
_SEPARATOR = "\0"


Found = dict[str, tuple[set[tuple[str, str]], set[tuple[str, str]]]]


def in_files(contents: dict[str, bytes], identifiers: InputIdentifiers) -> Found:
    """What the scan finds in each file's raw bytes and in its name. It needs no parse, so the
    gate runs it while its sandbox parses (the scan is linear in the size, which was capped)."""
    if not identifiers.values:
        return {}
    scanner = identifiers.scanner
    return {
        name: (scanner.found(data.decode("utf-8", "replace")), scanner.found(name))
        for name, data in contents.items()
    }


def identifier_problems(
    result: Graph,
    shape: Graph,
    contents: dict[str, bytes],
    identifiers: InputIdentifiers,
    found_in_files: Found | None = None,
) -> list[str]:
    """``found_in_files``: :func:`in_files` of ``contents``, if it ran already."""
    if not identifiers.values:
        return []
    scanner = identifiers.scanner
    if found_in_files is None:
        found_in_files = in_files(contents, identifiers)
    terms = _terms(result)
    exempt = _exempt(result, shape)
    places: Counter[tuple[str, str, str]] = Counter()  # (where, kind, form) -> how often
    in_terms: set[str] = set()
    allowed: set[str] = set()
    # One pass over all terms; only when it finds something is each term searched alone.
    if scanner.found(_SEPARATOR.join(text for _, text in terms)):
        for node, text in terms:
            found = scanner.found(text)
            if not found:
                continue
            refused = _where(result, node, exempt)
            (in_terms if refused else allowed).update(value for value, _ in found)
            # Counted once per term: a WebID holds its profile document's address too.
            for kind, form in {(identifiers.kind_of(v), f) for v, f in found}:
                for where in refused:
                    places[(where, kind, form)] += 1
    problems = [
        f"{where} contains {kind}{_form(form)}{'' if n == 1 else f' ({n} times)'}."
        for (where, kind, form), n in sorted(places.items())
    ]
    for name in contents:
        in_bytes, in_name = found_in_files[name]
        hidden = {
            (value, form)
            for value, form in in_bytes
            if value not in in_terms and value not in allowed
        }
        for kind, form in sorted({(identifiers.kind_of(v), f) for v, f in hidden}):
            problems.append(
                f"{name} contains {kind}{_form(form)} outside the values checked (in a "
                "comment, or spelt so that the Turtle parser reads it differently)."
            )
        for kind, form in sorted({(identifiers.kind_of(v), f) for v, f in in_name}):
            problems.append(f"The name of an output file contains {kind}{_form(form)}.")
    return capped(problems, "places holding identifiers read from pods")


def _form(form: str) -> str:
    return f" ({form})" if form else ""


def _terms(result: Graph) -> list[tuple[Node, str]]:
    """Each distinct IRI and literal with the text searched in it."""
    terms: list[tuple[Node, str]] = []
    seen: set[Node] = set()
    for triple in result:
        for node in triple:
            if node in seen or not isinstance(node, URIRef | Literal):
                continue
            seen.add(node)
            parts = [str(node)]
            if isinstance(node, Literal) and node.datatype is not None:
                parts.append(str(node.datatype))
            terms.append((node, _SEPARATOR.join(parts)))
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
