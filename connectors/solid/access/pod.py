"""What the access-control editors need of a pod client, as a protocol.

The editors read and write ACL and ACR documents through the client that `SolidClient`
hands them (`SolidClient.access_control`); naming the client class here instead would make
the client and its editors import each other.
"""

from __future__ import annotations

from typing import Protocol

from rdflib import Graph

from ..resource import Resource


class PodClient(Protocol):
    """The reads and writes of one person's pod session that access editing uses."""

    @property
    def webid(self) -> str | None: ...

    def head(self, url: str) -> Resource: ...

    def get_graph(
        self, url: str, *, limit: int | None = None, remember: bool = False
    ) -> tuple[Graph, Resource]: ...

    def put_graph(
        self,
        url: str,
        graph: Graph,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> Resource: ...

    def find_storage(self, url: str) -> str: ...
