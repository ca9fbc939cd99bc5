"""Telling a consumer a result arrived: a Linked Data Notification (W3C LDN, 2017) to their inbox.

The inbox is the `ldp:inbox` of their WebID profile (LDN 4.2, discovery from the profile); the
notification is an Activity Streams 2.0 `Create` (the datacage created a resource in their pod),
sent as Turtle (LDN 4.3 lets a sender use any RDF syntax the receiver accepts; CSS takes Turtle).
It names the run and the result's location, nothing about its content.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from rdflib import Graph, Literal, URIRef

from connectors.solid import SolidClient
from vocab import AS, RDF, XSD


def notification(actor: str, location: str, run_iri: str, at: datetime) -> Graph:
    graph = Graph()
    graph.bind("as", AS)
    tag = hashlib.sha256(location.encode()).hexdigest()[:16]
    activity = URIRef(f"{run_iri}#delivered-{tag}")
    graph.add((activity, RDF.type, AS.Create))
    graph.add((activity, AS.actor, URIRef(actor)))
    graph.add((activity, AS.object, URIRef(location)))
    graph.add((activity, AS.context, URIRef(run_iri)))
    graph.add((activity, AS.summary, Literal("A result of a datacage run arrived in your pod.")))
    graph.add(
        (activity, AS.published, Literal(at.isoformat(timespec="seconds"), datatype=XSD.dateTime))
    )
    return graph


def notify(
    client: SolidClient, inbox: str, actor: str, location: str, run_iri: str, at: datetime
) -> str:
    """POST the notification; return where the inbox put it."""
    body = notification(actor, location, run_iri, at).serialize(format="turtle")
    return client.post(inbox, body, "text/turtle")
