"""The choices a space offers, with human labels: DPV purposes and legal bases.

Read from the vocabulary files in `vocab/`, so the form, the API's validation and the RDF the
registry writes can never disagree about which purposes exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from rdflib import URIRef

from vocab import DPV, RDF, RDFS
from vocab import load as load_vocabulary


@dataclass(frozen=True)
class Choice:
    iri: str
    label: str
    comment: str

    @property
    def key(self) -> str:
        """The short name used in forms and the API: `Marketing` for dpv:Marketing."""
        return self.iri.removeprefix(str(DPV))


@cache
def purposes() -> tuple[Choice, ...]:
    return _instances_of(DPV.Purpose)


@cache
def legal_bases() -> tuple[Choice, ...]:
    return _instances_of(DPV.LegalBasis)


def purpose(key_or_iri: str) -> Choice | None:
    return _find(purposes(), key_or_iri)


def legal_basis(key_or_iri: str) -> Choice | None:
    return _find(legal_bases(), key_or_iri)


def label_of(iri: str) -> str:
    choice = purpose(iri) or legal_basis(iri)
    return choice.label if choice else iri


def _find(choices: tuple[Choice, ...], key_or_iri: str) -> Choice | None:
    return next((c for c in choices if key_or_iri in (c.key, c.iri)), None)


def _instances_of(kind: URIRef) -> tuple[Choice, ...]:
    graph = load_vocabulary("dpv")
    choices = [
        Choice(
            str(term),
            str(graph.value(term, RDFS.label, default=term.removeprefix(str(DPV)))),
            str(graph.value(term, RDFS.comment, default="")),
        )
        for term in graph.subjects(RDF.type, kind)
        if isinstance(term, URIRef) and term != kind
    ]
    return tuple(sorted(choices, key=lambda c: c.label))
