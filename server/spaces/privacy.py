"""A space's differential-privacy term: checked from forms and the API, and kept in its graph.

The term itself (``datafuse.noise.DifferentialPrivacy``) is part of the terms participants
approve (``model.terms_digest``); it reaches the algorithm in the run's job and is named in
each result's provenance. Here: reading it from what a person typed, and writing it to (and
reading it from) the space's named graph, as one node under the space's own IRI.
"""

from __future__ import annotations

from collections.abc import Mapping

from rdflib import Graph, Literal, URIRef

from datafuse.noise import LAPLACE, DifferentialPrivacy, PrivacyTermError, term_problems
from vocab import DCG, RDF, XSD

#: The fields of a term, as forms and the API name them.
FIELDS = ("epsilon", "lower", "upper")


def check_privacy(value: object) -> tuple[DifferentialPrivacy | None, dict[str, list[str]]]:
    """The term from ``{"epsilon", "lower", "upper"[, "mechanism"]}`` (None: no term).

    Returns the term or None, and the problems by field (``dp_epsilon``, ``dp_lower``, ...).
    """
    if value is None:
        return None, {}
    if not isinstance(value, Mapping):
        return None, {
            "differential_privacy": [
                "Give the differential-privacy term as an object with epsilon, lower and upper."
            ]
        }
    given = {name: value.get(name) for name in FIELDS}
    mechanism = value.get("mechanism", LAPLACE)
    problems = term_problems(given["epsilon"], given["lower"], given["upper"], mechanism)
    if problems:
        return None, problems
    return DifferentialPrivacy(
        epsilon=float(given["epsilon"]),  # type: ignore[arg-type]
        lower=float(given["lower"]),  # type: ignore[arg-type]
        upper=float(given["upper"]),  # type: ignore[arg-type]
        mechanism=str(mechanism),
    ), {}


def term_iri(space_iri: str) -> URIRef:
    return URIRef(f"{space_iri}/terms/differential-privacy")


def add_privacy(graph: Graph, subject: URIRef, node: URIRef, term: DifferentialPrivacy) -> None:
    """``subject dcg:differentialPrivacy node``, and the term's parameters on ``node``."""
    graph.add((subject, DCG.differentialPrivacy, node))
    graph.add((node, RDF.type, DCG.DifferentialPrivacy))
    graph.add((node, DCG.noiseMechanism, Literal(term.mechanism)))
    graph.add((node, DCG.epsilon, Literal(term.epsilon, datatype=XSD.double)))
    graph.add((node, DCG.clampLower, Literal(term.lower, datatype=XSD.double)))
    graph.add((node, DCG.clampUpper, Literal(term.upper, datatype=XSD.double)))


def read_privacy(graph: Graph, subject: URIRef) -> DifferentialPrivacy | None:
    """The term ``subject`` names; None when it has none. ValueError when it is damaged."""
    node = graph.value(subject, DCG.differentialPrivacy)
    if node is None:
        return None
    body: dict[str, object] = {"mechanism": str(graph.value(node, DCG.noiseMechanism) or "")}
    for name, predicate in (
        ("epsilon", DCG.epsilon),
        ("lower", DCG.clampLower),
        ("upper", DCG.clampUpper),
    ):
        value = graph.value(node, predicate)
        body[name] = value.toPython() if isinstance(value, Literal) else None
    try:
        return DifferentialPrivacy.from_json(body)
    except PrivacyTermError as error:
        raise ValueError(f"{subject}'s differential-privacy term is damaged: {error}") from None
