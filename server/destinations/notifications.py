"""Where a consumer can subscribe to changes of their results container (Solid Notifications 0.2).

A Solid storage describes itself (`Link rel="http://www.w3.org/ns/solid/terms#storageDescription"`,
on CSS `<pod>/.well-known/solid`) and lists its subscription services (`notify:subscription`),
each with the channel types it offers (`notify:channelType`). We only *show* these: subscribing
is the consumer's own choice, made with their own client, since the channel must reach them.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.solid import SolidClient
from connectors.solid import errors as solid_errors
from connectors.solid.resource import STORAGE_DESCRIPTION_REL
from vocab import NOTIFY


@dataclass(frozen=True)
class SubscriptionService:
    url: str
    channel_types: tuple[str, ...]


def subscription_services(client: SolidClient, container: str) -> list[SubscriptionService]:
    """The services the container's storage offers; empty when it describes none."""
    try:
        described = client.head(container).link(STORAGE_DESCRIPTION_REL)
        if not described:
            return []
        graph, _ = client.get_graph(described)
    except solid_errors.SolidError:
        return []
    found = []
    for service in set(graph.objects(None, NOTIFY.subscription)):
        types = sorted(
            str(t).rsplit("#", 1)[-1] for t in graph.objects(service, NOTIFY.channelType)
        )
        found.append(SubscriptionService(str(service), tuple(types)))
    return sorted(found, key=lambda s: s.url)
