"""How each delivery went, as the datacage reports it: one registry graph per (run, consumer).

The datacage reports every change of state (`retrying`, `delivered`, `failed`, `destroyed`,
`no-destination`); the last one wins. These graphs are what the run page shows, and the events the
audit trail can take up (each write is logged as "delivery reported").
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from rdflib import Graph, Literal, URIRef

from vocab import DCG, RDF, XSD, bind_prefixes

from ..errors import ValidationFailed
from ..registry import Registry, activity
from ..spaces.validation import is_safe_iri

log = logging.getLogger(__name__)

DELIVERY_STATES = ("retrying", "delivered", "failed", "destroyed", "no-destination")


@dataclass(frozen=True)
class DeliveryStatus:
    run: str
    consumer: str
    state: str
    attempts: int
    location: str | None
    detail: str
    notified: bool
    at: datetime


# Records written before a delivery was an activity of its own said `dcg:result` for the run,
# `prov:generatedAtTime` and `prov:atLocation` (an entity's properties, and a pod resource made a
# place); they are still read, so the alternatives in the paths below.
_OF_RUN = """
SELECT ?g ?consumer ?state ?attempts ?location ?detail ?notified ?at WHERE {
  GRAPH ?g {
    ?g a dcg:Delivery ; dcg:deliveryOf|dcg:result ?run ; dcg:deliveredTo ?consumer ;
       dcg:deliveryState ?state ; dcg:deliveryAttempts ?attempts ; dcg:plainDescription ?detail ;
       dcg:stateReportedAt|prov:generatedAtTime ?at ; dcg:notified ?notified .
    OPTIONAL { ?g dcg:deliveredCopy|prov:atLocation ?location }
  }
}
"""
# The state of every delivery of every run of a space, joined to each run's own graph (only the
# state: reading every field for every run costs four times as much, and a dashboard needs the
# details of the last run alone, which `statuses_of` reads).
_STATES_OF_SPACE = """
SELECT ?run ?state WHERE {
  GRAPH ?g { ?g a dcg:Delivery ; dcg:deliveryOf|dcg:result ?run ; dcg:deliveryState ?state . }
  GRAPH ?run { ?run dcg:space ?space }
}
"""


def record_delivery(
    registry: Registry,
    run: str,
    body: dict,
    at: datetime,
    container: str | None,
    *,
    space_iri: str | None = None,
) -> DeliveryStatus:
    """Check and keep one report (`body` already has the right JSON types). The write moves
    the run's space's activity counter (`registry.activity`); `space_iri` saves looking the
    space up in the run's record."""
    if body["state"] not in DELIVERY_STATES:
        raise ValidationFailed({"state": [f"One of {', '.join(DELIVERY_STATES)}."]})
    location, detail = body["location"], body["detail"][:1000]
    if location is not None and not is_safe_iri(location):
        raise ValidationFailed({"location": ["An http(s) address, or null."]})
    if location is not None and (container is None or not location.startswith(container)):
        # Queued before the consumer moved or removed their container: the report is still
        # true, but we link only into the container they chose now.
        location, detail = None, f"{detail} (in a container you have since changed)"
    status = DeliveryStatus(
        run,
        body["consumer"],
        body["state"],
        max(0, body["attempts"]),
        location,
        detail,
        body["notified"],
        at,
    )
    name = f"{run}/deliveries/{hashlib.sha256(status.consumer.encode()).hexdigest()[:24]}"
    space_iri = space_iri or _space_of(registry, run)
    registry.write_counted(
        name,
        status_graph(name, status),
        expected_revision=registry.revision(name),
        deltas=activity.counted(space_iri) if space_iri else {},
    )
    log.info(
        "delivery reported",
        extra={
            "run": run,
            "consumer": status.consumer,
            "state": status.state,
            "attempts": status.attempts,
            "notified": status.notified,
        },
    )
    return status


def _space_of(registry: Registry, run: str) -> str | None:
    rows = registry.select_text(
        "SELECT ?space WHERE { GRAPH ?run { ?run dcg:space ?space } }", {"run": URIRef(run)}
    )
    return rows[0]["space"] if rows else None


def statuses_of(registry: Registry, run: str) -> list[DeliveryStatus]:
    rows = registry.select(_OF_RUN, {"run": URIRef(run)})
    return sorted((_status(run, row) for row in rows), key=lambda s: s.consumer)


def states_of_space(registry: Registry, space_iri: str) -> list[tuple[str, str]]:
    """(run, state) of every delivery of every run of the space, in one query (the dashboard)."""
    rows = registry.select(_STATES_OF_SPACE, {"space": URIRef(space_iri)})
    return sorted((str(row["run"]), str(row["state"])) for row in rows)


def _status(run: str, row: dict) -> DeliveryStatus:
    return DeliveryStatus(
        run,
        str(row["consumer"]),
        str(row["state"]),
        int(row["attempts"].toPython()),  # type: ignore[union-attr]
        str(row["location"]) if "location" in row else None,
        str(row["detail"]),
        bool(row["notified"].toPython()),  # type: ignore[union-attr]
        row["at"].toPython(),  # type: ignore[union-attr]
    )


def status_graph(name: str, s: DeliveryStatus) -> Graph:
    graph, node = bind_prefixes(Graph()), URIRef(name)
    # A delivery is an activity: informed by the run, generating the copy in the consumer's pod.
    graph.add((node, RDF.type, DCG.Delivery))
    graph.add((node, DCG.deliveryOf, URIRef(s.run)))
    graph.add((node, DCG.deliveredTo, URIRef(s.consumer)))
    graph.add((node, DCG.deliveryState, Literal(s.state)))
    graph.add((node, DCG.deliveryAttempts, Literal(s.attempts)))
    graph.add((node, DCG.plainDescription, Literal(s.detail)))
    graph.add((node, DCG.notified, Literal(s.notified)))
    graph.add(
        (
            node,
            DCG.stateReportedAt,
            Literal(s.at.isoformat(timespec="seconds"), datatype=XSD.dateTime),
        )
    )
    if s.location:
        graph.add((node, DCG.deliveredCopy, URIRef(s.location)))
    return graph
