"""Literals Virtuoso 7.2 cannot keep, and what the Virtuoso registry does with them.

Found by writing each kind through the registry on Debian's 7.2.5.1:

- `xsd:duration` and `xsd:yearMonthDuration` cannot be stored at all, not even by INSERT DATA
  ("SR553: Literal of type xsd:duration can not be created from SQL value"), except a few
  mixed forms. A space's retention ("P90D") is one. They are stored *escaped*: as a literal of
  type `dcg:escapedLiteral` whose lexical form is the datatype IRI, a space and the original
  form, and turned back on every read, in query results and in bindings alike.
- An infinite or NaN `xsd:double` or `xsd:float`, stored next to one another, broke the store:
  from then on every write failed ("Insert stopped because out of seg data ... RDF_QUAD_SP").
  They are refused before anything is sent.
- Numbers and booleans are kept as SQL values: an ill-typed one comes back changed
  (`"1.5"^^xsd:integer` reads `1`) and an integer beyond 64 bits is an error. Refused too.
"""

from __future__ import annotations

import math

import pyoxigraph as ox
from rdflib import XSD, Graph, Literal, URIRef
from rdflib.term import Identifier

from server.registry.base import Bindings, RegistryError, Row
from vocab import DCG

ESCAPED = str(DCG.escapedLiteral)
_ESCAPED_TYPES = frozenset({str(XSD.duration), str(XSD.yearMonthDuration)})
_FLOATING = frozenset({str(XSD.double), str(XSD.float)})
_INTEGERS = frozenset(
    str(XSD[name])
    for name in (
        "integer",
        "long",
        "int",
        "short",
        "byte",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    )
)
_CHECKED = _FLOATING | _INTEGERS | {str(XSD.decimal), str(XSD.boolean)}
_INT64 = 2**63


def stored_graph(graph: Graph) -> Graph:
    """`graph` as Virtuoso can keep it: literals escaped or refused (see the module)."""
    stored = Graph()
    for subject, predicate, obj in graph:
        stored.add((subject, predicate, stored_term(obj)))
    return stored


def stored_bindings(bindings: Bindings | None) -> Bindings | None:
    """Bindings matching what `stored_graph` wrote."""
    if not bindings:
        return bindings
    return {variable: stored_term(value) for variable, value in bindings.items()}


def stored_term(term: object) -> object:
    if not isinstance(term, Literal) or term.datatype is None:
        return term
    datatype = str(term.datatype)
    if datatype in _ESCAPED_TYPES:
        return Literal(f"{datatype} {term}", datatype=DCG.escapedLiteral)
    if datatype in _CHECKED:
        _check_value(term, datatype)
    return term


def read_triple(triple: ox.Triple) -> ox.Triple:
    """A triple as stored, with an escaped literal turned back."""
    obj = triple.object
    if isinstance(obj, ox.Literal) and obj.datatype.value == ESCAPED:
        datatype, _, value = obj.value.partition(" ")
        obj = ox.Literal(value, datatype=ox.NamedNode(datatype))
        return ox.Triple(triple.subject, triple.predicate, obj)
    return triple


def read_row(row: Row) -> Row:
    """A query result row with escaped literals turned back."""
    return {variable: _read_term(value) for variable, value in row.items()}


def _read_term(term: Identifier) -> Identifier:
    if isinstance(term, Literal) and term.datatype is not None and str(term.datatype) == ESCAPED:
        datatype, _, value = str(term).partition(" ")
        return Literal(value, datatype=URIRef(datatype))
    return term


def _check_value(term: Literal, datatype: str) -> None:
    shown = f"{str(term)[:40]!r}^^<{datatype}>"
    if term.ill_typed:
        raise RegistryError(
            f"Cannot store {shown}: it is not a valid value of its type, and Virtuoso would "
            "store a different one."
        )
    value = term.toPython()
    if datatype in _FLOATING and not math.isfinite(float(value)):
        raise RegistryError(
            f"Cannot store {shown} in the Virtuoso registry: infinite and NaN numbers corrupt "
            "Virtuoso 7's index."
        )
    if datatype in _INTEGERS and not -_INT64 <= int(value) < _INT64:
        raise RegistryError(f"Cannot store {shown} in the Virtuoso registry: beyond 64 bits.")
