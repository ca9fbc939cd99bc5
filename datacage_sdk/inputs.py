"""The run's inputs per data provider, as rdflib graphs or as rows.

Two kinds of provider, as the datacage stages them (docs/algorithm-runtime.md, "The input
layout"): the individuals whose pods were read, together one provider (:class:`Individuals`,
each person under a random ``person-N``), and each organisation's dataset, one provider each
(:class:`Dataset`, from ``"datasets"`` in ``index.json``; files under ``datasets/<id>/``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from rdflib import Graph, URIRef

# Relative IRIs in an input (``<#me>``) resolve per file, so two people never merge.
INPUT_BASE = "https://input.datacage.invalid/"
_RDF_TYPES = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/n-triples": "nt",
    "application/rdf+xml": "xml",
    "text/n3": "n3",
}
_DATASET_RDF = {"turtle": "turtle", "jsonld": "json-ld"}
_VCARD = "http://www.w3.org/2006/vcard/ns#"
#: Where pods keep e-mail addresses: schema.org, FOAF (mailto: IRIs) and vCard.
EMAIL_PREDICATES = (
    URIRef("http://schema.org/email"),
    URIRef("https://schema.org/email"),
    URIRef("http://xmlns.com/foaf/0.1/mbox"),
    URIRef(_VCARD + "hasEmail"),
    URIRef(_VCARD + "email"),
)


class InputError(ValueError):
    """An input cannot be read the way the algorithm asked (in plain words)."""


@dataclass(frozen=True)
class Person:
    id: str  # person-1, person-2... in a random order each run
    resources: list[Any]  # the bootstrap's Resource objects: name, content_type, read_*()

    def graph(self) -> Graph:
        """Every RDF resource of this person, parsed into one graph."""
        graph = Graph()
        for number, resource in enumerate(self.resources, start=1):
            kind = _RDF_TYPES.get(resource.content_type.split(";")[0].strip().lower())
            if kind is not None:
                base = f"{INPUT_BASE}{self.id}/{number}"
                _parse(graph, resource.read_bytes(), kind, base, resource.name)
        return graph

    def rows(self, name: str | None = None) -> list[dict[str, str]]:
        """The rows of this person's CSV resources (only the one called ``name``, if given)."""
        rows: list[dict[str, str]] = []
        for resource in self.resources:
            is_csv = resource.content_type.split(";")[0].strip().lower() == "text/csv"
            if is_csv and (name is None or resource.name == name):
                rows += _csv_rows(resource.read_text(), resource.name, None)
        return rows


class Individuals:
    """The individuals whose pods were read: one data provider."""

    kind = "individuals"
    id = "individuals"

    def __init__(self, people: Iterable[Any]) -> None:
        self.people = [Person(p.id, list(p.resources)) for p in people]

    def __len__(self) -> int:
        return len(self.people)

    def graphs(self) -> dict[str, Graph]:
        return {person.id: person.graph() for person in self.people}

    def rows(self, name: str | None = None) -> list[dict[str, str]]:
        """Everyone's CSV rows, each with a ``person`` column saying whose it is."""
        return [{"person": person.id, **row} for person in self.people for row in person.rows(name)]

    def emails(self) -> Iterator[tuple[str, str]]:
        """(person id, address as written) for every e-mail address in each person's RDF,
        following vcard:hasEmail to the node whose vcard:value holds it."""
        value = URIRef(_VCARD + "value")
        for person in self.people:
            graph = person.graph()
            for predicate in EMAIL_PREDICATES:
                for found in graph.objects(None, predicate):
                    inner = [str(v) for v in graph.objects(found, value)]
                    for address in inner or [str(found)]:
                        yield person.id, address

    def values(self, *predicates: URIRef) -> Iterator[tuple[str, str]]:
        """(person id, value) for every value of ``predicates`` in each person's RDF."""
        for person in self.people:
            graph = person.graph()
            for predicate in predicates:
                for value in graph.objects(None, predicate):
                    yield person.id, str(value)


@dataclass(frozen=True)
class Dataset:
    """One organisation's dataset, pushed encrypted and staged decrypted for this run."""

    id: str  # dataset-1, dataset-2...
    provider: str  # the organisation's WebID
    name: str
    path: Path
    format: str  # csv | parquet | turtle | jsonld
    schema: dict[str, Any] | None
    kind = "dataset"

    def rows(self) -> list[dict[str, Any]]:
        """The dataset's rows; with a schema, each value has its column's type."""
        if self.format == "csv":
            return _csv_rows(self.path.read_text(encoding="utf-8"), self.name, self.schema)
        if self.format == "parquet":
            raise InputError(
                f"The dataset {self.name!r} is Parquet, which the sandbox cannot read (no pyarrow "
                "inside); ask its provider for CSV."
            )
        raise InputError(f"The dataset {self.name!r} is {self.format}: read it with .graph().")

    def graph(self) -> Graph:
        if self.format not in _DATASET_RDF:
            raise InputError(f"The dataset {self.name!r} is {self.format}: read it with .rows().")
        graph = Graph()
        _parse(
            graph,
            self.path.read_bytes(),
            _DATASET_RDF[self.format],
            INPUT_BASE + self.id,
            self.name,
        )
        return graph


def datasets(input_dir: Path) -> list[Dataset]:
    """The datasets ``index.json`` lists; an index without ``"datasets"`` means none."""
    index = json.loads((input_dir / "index.json").read_text(encoding="utf-8"))
    found = []
    for item in index.get("datasets") or []:
        path = (input_dir / item["file"]).resolve()
        if input_dir.resolve() not in path.parents:
            raise InputError(
                f"index.json names a dataset file outside the inputs: {item['file']!r}"
            )
        found.append(
            Dataset(
                id=str(item["id"]),
                provider=str(item.get("provider", "")),
                name=str(item.get("name", item["id"])),
                path=path,
                format=str(item.get("format", "csv")).lower(),
                schema=item.get("schema"),
            )
        )
    return found


def _parse(graph: Graph, data: bytes, kind: str, base: str, name: str) -> None:
    try:
        graph.parse(data=data, format=kind, publicID=base)
    except Exception as error:  # rdflib raises many kinds; the algorithm gets one
        raise InputError(f"{name} could not be read as {kind}: {type(error).__name__}") from None


def _csv_rows(text: str, name: str, schema: dict[str, Any] | None) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    types = {c["name"]: c.get("type", "string") for c in (schema or {}).get("columns", [])}
    rows = []
    for line, row in enumerate(reader, start=2):
        try:
            rows.append(
                {key: _typed(value, types.get(key, "string")) for key, value in row.items()}
            )
        except (ValueError, InvalidOperation):
            raise InputError(
                f"{name}, line {line}: a value does not have its column's type."
            ) from None
    return rows


def _typed(value: str | None, kind: str) -> Any:
    if value is None or value == "":
        return None
    if kind == "integer":
        return int(value)
    if kind == "decimal":
        return Decimal(value)
    if kind == "boolean":
        lowered = value.strip().lower()
        if lowered not in ("true", "false", "1", "0"):
            raise ValueError(value)
        return lowered in ("true", "1")
    if kind == "date":
        return date.fromisoformat(value.strip())
    return value
