"""Linked Data Notifications (W3C LDN, 2017): finding a person's inbox and posting to it.

The inbox is the `ldp:inbox` of their WebID profile (LDN 4.2, discovery from the profile). A
notification is an RDF graph, sent as Turtle (LDN 4.3 lets a sender use any RDF syntax the
receiver accepts; CSS takes Turtle). Shared by the control plane (renewal notices) and usable by
the datacage's result notices, so neither side imports the other.
"""

from __future__ import annotations

from rdflib import Graph, URIRef

from vocab import LDP

from .client import SolidClient

#: Activity Streams 2.0, the vocabulary LDN receivers expect notifications in.


def inbox_of(client: SolidClient, webid: str) -> str | None:
    """The inbox the person's own profile names, or None if it names none."""
    graph, _ = client.get_graph(webid.split("#", 1)[0])
    inbox = graph.value(URIRef(webid), LDP.inbox)
    return None if inbox is None else str(inbox)


def send(client: SolidClient, inbox: str, notification: Graph) -> str:
    """POST the notification to the inbox; return where the inbox put it."""
    return client.post(inbox, notification.serialize(format="turtle"), "text/turtle")
