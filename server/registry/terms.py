"""Between rdflib (what callers hold) and pyoxigraph (what both backends parse and serialise).

Both backends go through these functions, so a graph reads back the same whichever store holds
it. Two normalisations come from RDF 1.1 itself and are documented in `docs/registry.md`: a
literal typed `xsd:string` reads back as a plain literal, and language tags read back in lower
case (RDF 1.1 Concepts §3.3).

Blank nodes are stored as skolem IRIs (RDF 1.1 Concepts §3.5): a graph's content must survive
being pasted into a SPARQL update whose template is instantiated once per solution, and a blank
node there would be minted afresh each time. Each graph gets its own skolem prefix, so two graphs
using the same blank node label never share a node, and labels stay stable across
read-modify-write cycles.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote, unquote, urlsplit

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Identifier

from server.registry.base import (
    BOOKKEEPING,
    Bindings,
    RegistryError,
    Row,
    StoredGraph,
)
from vocab import DCG, NAMESPACES, XSD

OxTerm = ox.NamedNode | ox.BlankNode | ox.Literal
_XSD_STRING = str(XSD.string)
_INTEGER = ox.NamedNode(str(XSD.integer))
# As plain strings: rdflib hashes a URIRef differently from the str of the same IRI.
_BOOKKEEPING_IRIS = frozenset(str(predicate) for predicate in BOOKKEEPING)
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHOWN = 80  # characters of an offending term quoted in an error message

# Declared before every `select` and `ask`, so queries can say dcg:, rdf:, dcterms: and so on.
_PREFIXES = "".join(f"PREFIX {prefix}: <{ns}>\n" for prefix, ns in NAMESPACES.items())


def skolem_prefix(name: str) -> str:
    """Where the blank nodes of graph `name` live as IRIs: under the name's own authority."""
    parts = urlsplit(name)
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{parts.scheme}://{parts.netloc}/.well-known/genid/datacage/{digest}/"


def to_oxigraph(term: object, *, skolem: str) -> OxTerm:
    """The pyoxigraph term for rdflib `term`; blank nodes become IRIs under `skolem`."""
    try:
        if isinstance(term, URIRef):
            return ox.NamedNode(str(term))
        if isinstance(term, BNode):
            return ox.NamedNode(skolem + quote(str(term), safe=""))
        if isinstance(term, Literal):
            if term.language:
                return ox.Literal(str(term), language=term.language)
            if term.datatype is not None:
                return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
            return ox.Literal(str(term))
    except ValueError as error:
        raise RegistryError(f"Cannot store {_shown(term)}: {error}.") from None
    raise RegistryError(f"Cannot store {_shown(term)}: not an IRI, blank node or literal.")


def to_rdflib(term: object, *, skolem: str | None = None) -> Identifier:
    """The rdflib term for pyoxigraph `term`; IRIs under `skolem` turn back into blank nodes."""
    if isinstance(term, ox.NamedNode):
        if skolem is not None and term.value.startswith(skolem):
            return BNode(unquote(term.value[len(skolem) :]))
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        if term.datatype.value == _XSD_STRING:
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(term.datatype.value))
    raise RegistryError(f"The store returned {_shown(term)}, which rdflib cannot represent.")


def insert_lines(name: str, graph: Graph, *, revision: int, token: str) -> str:
    """`graph` plus its bookkeeping as N-Triples lines, ready for an INSERT DATA block.

    Everything is converted before anything is sent, so a term that cannot be stored fails the
    write before the store is touched.
    """
    node = URIRef(name)
    for predicate in BOOKKEEPING:
        if (node, predicate, None) in graph:
            raise RegistryError(
                "The graph must not state dcg:revision or dcg:writeToken of its own name; "
                "the registry keeps those."
            )
    skolem = skolem_prefix(name)
    lines = [_line(triple, skolem) for triple in graph.triples((None, None, None))]
    subject = ox.NamedNode(name)
    lines.append(f"{subject} <{DCG.revision}> {ox.Literal(str(revision), datatype=_INTEGER)} .")
    lines.append(f"{subject} <{DCG.writeToken}> {ox.Literal(token)} .")
    return "\n".join(lines)


def _line(triple: tuple[object, object, object], skolem: str) -> str:
    subject, predicate, obj = triple
    if isinstance(subject, Literal):
        raise RegistryError(f"Cannot store {_shown(subject)} as a subject.")
    if not isinstance(predicate, URIRef):
        raise RegistryError(f"Cannot store {_shown(predicate)} as a predicate.")
    return (
        f"{to_oxigraph(subject, skolem=skolem)} {to_oxigraph(predicate, skolem=skolem)} "
        f"{to_oxigraph(obj, skolem=skolem)} ."
    )


def stored_graph(name: str, triples: Iterable[ox.Triple | ox.Quad]) -> StoredGraph | None:
    """Split a graph as stored into its content and revision; None if it has no revision."""
    skolem = skolem_prefix(name)
    subject = ox.NamedNode(name)
    # No prefixes bound: binding ours costs more than reading a space; serialisers bind them.
    graph = Graph()
    revisions: list[ox.Literal] = []
    for triple in triples:
        if triple.subject == subject and triple.predicate.value in _BOOKKEEPING_IRIS:
            if triple.predicate.value == str(DCG.revision):
                revisions.append(triple.object)
            continue
        graph.add(
            (
                to_rdflib(triple.subject, skolem=skolem),
                to_rdflib(triple.predicate),
                to_rdflib(triple.object, skolem=skolem),
            )
        )
    if not revisions:
        return None
    if len(revisions) > 1 or not revisions[0].value.isdigit():
        raise RegistryError(f"{name} is damaged: it has no single integer revision.")
    return StoredGraph(name=name, graph=graph, revision=int(revisions[0].value))


def select_rows(result: object) -> list[Row]:
    """The rows of a SELECT result, unbound variables left out; RegistryError for other results.

    pyoxigraph results must be released by the thread that made them, and a traceback that
    kept one alive would often be freed on another thread (a warning, and a leak). So the
    result is dropped here even when raising, and plain loops are used, not comprehensions,
    whose frames would hold the iterator.
    """
    solution = None
    try:
        if not isinstance(result, ox.QuerySolutions):
            raise RegistryError("select() needs a SELECT query.")
        variables = [variable.value for variable in result.variables]
        found: list[Row] = []
        for solution in result:
            row: Row = {}
            for variable in variables:
                value = solution[variable]
                if value is not None:
                    row[variable] = to_rdflib(value)
            found.append(row)
        return found
    finally:
        del result, solution


def text_rows(result: object) -> list[dict[str, str]]:
    """The rows of a SELECT result as lexical values (see `Registry.select_text`), with the
    same care for the result's thread as `select_rows`."""
    solution = None
    try:
        if not isinstance(result, ox.QuerySolutions):
            raise RegistryError("select_text() needs a SELECT query.")
        variables = [variable.value for variable in result.variables]
        found: list[dict[str, str]] = []
        for solution in result:
            row: dict[str, str] = {}
            for variable in variables:
                value = solution[variable]
                if value is not None:
                    row[variable] = value.value
            found.append(row)
        return found
    finally:
        del result, solution


def ask_answer(result: object) -> bool:
    """The answer of an ASK result; RegistryError for other results (see `select_rows`)."""
    try:
        if not isinstance(result, ox.QueryBoolean):
            raise RegistryError("ask() needs an ASK query.")
        return bool(result)
    finally:
        del result


def prepared_query(query: str, bindings: Bindings | None) -> str:
    """`query` with our prefixes declared and `bindings` appended as a VALUES clause.

    A trailing VALUES clause (SPARQL 1.1 Query §10.2) binds variables wherever they occur,
    projected or not (pyoxigraph's own substitutions only reach projected ones), and behaves
    the same on every endpoint. Nothing unchecked is pasted: variable names must be VARNAMEs,
    IRIs pass pyoxigraph's RFC 3987 parser (no `>` or space can end them), and literals are
    written by pyoxigraph's N-Triples escaping. A query with its own trailing VALUES cannot
    take bindings.
    """
    if not isinstance(query, str):
        raise RegistryError("A query must be a string.")
    text = _PREFIXES + query
    if bindings:
        names: list[str] = []
        values: list[str] = []
        for variable, term in _binding_terms(bindings):
            names.append(f"?{variable}")
            values.append(str(term))
        text += f"\nVALUES ({' '.join(names)}) {{ ({' '.join(values)}) }}"
    return text


def _binding_terms(bindings: Bindings) -> Iterator[tuple[str, OxTerm]]:
    # Blank nodes are refused: outside its graph a blank node means nothing; bind its skolem IRI.
    for variable, value in bindings.items():
        if not isinstance(variable, str) or not _VARIABLE.fullmatch(variable):
            raise RegistryError(f"{_shown(variable)} is not a SPARQL variable name (no '?').")
        if not isinstance(value, URIRef | Literal):
            raise RegistryError(f"?{variable} can only be bound to an IRI or a literal.")
        yield variable, to_oxigraph(value, skolem="")


def _shown(term: object) -> str:
    text = repr(term)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
