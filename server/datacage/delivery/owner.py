"""What the consumer's own WebID profile says: where their pod is, and their LDN inbox.

The datacage takes where results go from the job, and the job from the control plane, which it
does not trust (docs/datacage.md). So before each write it reads the consumer's profile itself:
the container must lie inside a storage the profile names (`pim:storage`, Solid Protocol 4.1;
when it names none, the storage its own document lives in), and the notification goes to the
profile's `ldp:inbox` (LDN 4.2), not to an address the job supplied.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import URIRef

from connectors.solid import SolidClient
from connectors.solid.resource import STORAGE_DESCRIPTION_REL
from vocab import LDP, PIM, RDF


@dataclass(frozen=True)
class ConsumerPod:
    storages: tuple[str, ...]
    inbox: str | None

    def holds(self, container: str) -> bool:
        return any(container.startswith(s) for s in self.storages)


def consumer_pod(client: SolidClient, webid: str) -> ConsumerPod:
    graph, profile = client.get_graph(webid.split("#", 1)[0])
    me = URIRef(webid)
    storages = [str(s) for s in graph.objects(me, PIM.storage)]
    described = profile.link(STORAGE_DESCRIPTION_REL)
    if not storages and described:
        # No pim:storage (CSS 7 writes none): the storage the profile document itself lives in,
        # as its storage description names it (Solid Protocol 4.1).
        description, _ = client.get_graph(described)
        storages = [str(s) for s in description.subjects(RDF.type, PIM.Storage)]
        storages = [s for s in storages if profile.url.startswith(s)]
    inbox = graph.value(me, LDP.inbox)
    return ConsumerPod(
        tuple(s if s.endswith("/") else s + "/" for s in storages),
        None if inbox is None else str(inbox),
    )
