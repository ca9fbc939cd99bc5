"""Solid Type Indexes (https://solid.github.io/type-indexes/): where a person keeps which data.

A WebID profile links a public type index (`solid:publicTypeIndex`) and a preferences file
(`pim:preferencesFile`) that links a private one (`solid:privateTypeIndex`). Each index lists
`solid:TypeRegistration`s: a class (`solid:forClass`) and either resources holding data of it
(`solid:instance`) or containers of such resources (`solid:instanceContainer`).

Profiles and indexes are other people's documents, so:
- they are read with the client's own parsing (`client.get_graph`: size limits, no remote
  JSON-LD contexts);
- nothing is read from, and no URL returned for, an origin other than the WebID's or that of
  a storage the profile declares (`pim:storage`): a hostile profile must not make us, or the
  caller after us, request other hosts;
- the preferences file and the private index are readable by their owner only, so a 401, 403
  or 404 there means "no private index", not an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urlsplit

from rdflib import Graph, URIRef
from rdflib.namespace import RDF
from rdflib.term import Node

from vocab import PIM, SOLID

from . import errors

if TYPE_CHECKING:
    from .client import SolidClient

#: What an owner-only document answers someone it does not let in (or when it is missing).
_PRIVATE_UNAVAILABLE = (errors.Unauthenticated, errors.Forbidden, errors.NotFound)


@dataclass(frozen=True, order=True)
class TypeRegistration:
    """Where data of a class lives: a resource, or a container of such resources."""

    url: str
    is_container: bool
    #: The type index that lists it (the public one when both do).
    index: str


def find_instances(client: SolidClient, webid: str, rdf_class: str) -> list[TypeRegistration]:
    """Every resource and container the WebID's type indexes register for `rdf_class`.

    Sorted and without duplicates; a place listed in both indexes is reported once, under the
    public index, since anyone can see it there.
    """
    me = URIRef(webid)
    profile, _ = client.get_graph(urldefrag(webid)[0])
    origins = {_origin(webid)} | {_origin(str(s)) for s in profile.objects(me, PIM.storage)}
    origins.discard("")  # not http(s): nothing may be read or returned there
    found: dict[tuple[str, bool], TypeRegistration] = {}

    def collect(index: str, graph: Graph) -> None:
        for registration in _registrations(graph, URIRef(rdf_class), index, origins):
            found.setdefault((registration.url, registration.is_container), registration)

    for index in _links(profile, me, SOLID.publicTypeIndex, origins):
        collect(index, client.get_graph(index)[0])
    for preferences in _links(profile, me, PIM.preferencesFile, origins):
        settings = _read_private(client, preferences)
        if settings is None:
            continue
        for index in _links(settings, me, SOLID.privateTypeIndex, origins):
            graph = _read_private(client, index)
            if graph is not None:
                collect(index, graph)
    return sorted(found.values())


def _registrations(
    graph: Graph, rdf_class: URIRef, index: str, origins: set[str]
) -> Iterator[TypeRegistration]:
    for registration in graph.subjects(SOLID.forClass, rdf_class):
        if (registration, RDF.type, SOLID.TypeRegistration) not in graph:
            continue
        for predicate, is_container in ((SOLID.instance, False), (SOLID.instanceContainer, True)):
            for url in _links(graph, registration, predicate, origins):
                yield TypeRegistration(url, is_container, index)


def _links(graph: Graph, subject: Node, predicate: URIRef, origins: set[str]) -> list[str]:
    """The IRIs `subject` links with `predicate` that stay on the allowed origins."""
    values = {str(o) for o in graph.objects(subject, predicate) if isinstance(o, URIRef)}
    return sorted(url for url in values if _origin(url) in origins)


def _read_private(client: SolidClient, url: str) -> Graph | None:
    try:
        graph, _ = client.get_graph(url)
    except _PRIVATE_UNAVAILABLE:
        return None
    return graph


def _origin(url: str) -> str:
    """`scheme://host:port` in lower case; empty (never allowed) for anything but http(s)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
