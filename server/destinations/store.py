"""Result destinations in the registry: one graph per (space, consumer), named by a digest."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rdflib import Graph, Literal, URIRef

from vocab import ACL, DCG, LDP, PROV, RDF, XSD, bind_prefixes

from ..registry import Registry


@dataclass(frozen=True)
class Destination:
    space_iri: str
    consumer: str
    container: str
    modes: tuple[str, ...]  # what the datacage was granted: "Append" (and "Write" if asked)
    access_system: str  # "WAC" or "ACP"
    designated_at: datetime
    inbox: str | None = None  # the consumer's LDN inbox, if their profile names one

    def as_job(self) -> dict[str, str | None]:
        return {"consumer": self.consumer, "container": self.container, "inbox": self.inbox}


def destination_name(space_iri: str, consumer: str) -> str:
    return f"{space_iri}/destinations/{hashlib.sha256(consumer.encode()).hexdigest()[:24]}"


class DestinationStore:
    def __init__(self, registry: Callable[[], Registry]):
        self._registry = registry  # a factory: the registry opens on first use

    def get(self, space_iri: str, consumer: str) -> Destination | None:
        stored = self._registry().read(destination_name(space_iri, consumer))
        return None if stored is None else _from_graph(stored.graph)

    def of_space(self, space_iri: str, consumers: list[str]) -> list[Destination]:
        found = (self.get(space_iri, consumer) for consumer in consumers)
        return [d for d in found if d is not None]

    def put(self, destination: Destination) -> None:
        registry = self._registry()
        name = destination_name(destination.space_iri, destination.consumer)
        registry.write(
            name, destination_graph(name, destination), expected_revision=registry.revision(name)
        )

    def delete(self, space_iri: str, consumer: str) -> None:
        registry = self._registry()
        name = destination_name(space_iri, consumer)
        revision = registry.revision(name)
        if revision:
            registry.delete(name, expected_revision=revision)


def destination_graph(name: str, d: Destination) -> Graph:
    graph, node = bind_prefixes(Graph()), URIRef(name)
    graph.add((node, RDF.type, DCG.ResultDestination))
    graph.add((node, DCG.space, URIRef(d.space_iri)))
    graph.add((node, DCG.deliveredTo, URIRef(d.consumer)))
    graph.add((node, DCG.resultContainer, URIRef(d.container)))
    graph.add((node, DCG.accessSystem, Literal(d.access_system)))
    when = Literal(d.designated_at.isoformat(timespec="seconds"), datatype=XSD.dateTime)
    graph.add((node, PROV.generatedAtTime, when))
    for mode in d.modes:
        graph.add((node, DCG.grantedMode, ACL[mode]))
    if d.inbox:
        graph.add((node, LDP.inbox, URIRef(d.inbox)))
    return graph


def _from_graph(graph: Graph) -> Destination:
    node = next(graph.subjects(RDF.type, DCG.ResultDestination))
    inbox = graph.value(node, LDP.inbox)
    return Destination(
        space_iri=str(graph.value(node, DCG.space)),
        consumer=str(graph.value(node, DCG.deliveredTo)),
        container=str(graph.value(node, DCG.resultContainer)),
        modes=tuple(
            sorted(str(m).rsplit("#", 1)[-1] for m in graph.objects(node, DCG.grantedMode))
        ),
        access_system=str(graph.value(node, DCG.accessSystem)),
        designated_at=graph.value(node, PROV.generatedAtTime).toPython(),  # type: ignore[union-attr]
        inbox=None if inbox is None else str(inbox),
    )
