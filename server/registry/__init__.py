"""The control plane's RDF registry: one named graph per record, written by compare-and-swap.

Three backends share the `Registry` contract: `EmbeddedRegistry` (pyoxigraph, on disk or in
memory; one process), `SparqlRegistry` (a SPARQL 1.1 endpoint; any number of processes) and
`VirtuosoRegistry` (Virtuoso 7's authenticated endpoint; any number of processes).
`open_registry` picks one from configuration. See `docs/registry.md`.
"""

from __future__ import annotations

from server.registry.base import (
    Registry,
    RegistryConflict,
    RegistryError,
    RegistryUnavailable,
    StoredGraph,
)
from server.registry.embedded import MEMORY, EmbeddedRegistry
from server.registry.sparql import SparqlRegistry
from server.registry.virtuoso import VirtuosoRegistry

__all__ = [
    "MEMORY",
    "EmbeddedRegistry",
    "Registry",
    "RegistryConflict",
    "RegistryError",
    "RegistryUnavailable",
    "SparqlRegistry",
    "StoredGraph",
    "VirtuosoRegistry",
    "open_registry",
]


def open_registry(
    *,
    path: str | None = None,
    sparql_query_url: str | None = None,
    sparql_update_url: str | None = None,
    timeout: float = 10.0,
    virtuoso_url: str | None = None,
) -> Registry:
    """The Virtuoso registry if `virtuoso_url` is given, the SPARQL registry if
    `sparql_query_url` is, else the embedded one at `path`.

    `path` None or ":memory:" keeps the registry in memory (tests); a directory is created
    (mode 0700) if missing. `timeout` (seconds) applies to each SPARQL request.
    """
    if virtuoso_url:
        if sparql_query_url or sparql_update_url:
            raise RegistryError(
                "Give either a Virtuoso registry URL or SPARQL query and update URLs, not both."
            )
        return VirtuosoRegistry(virtuoso_url, timeout=timeout)
    if sparql_query_url:
        if not sparql_update_url:
            raise RegistryError(
                "A SPARQL registry needs an update URL as well as a query URL "
                "(for Oxigraph and Fuseki, the endpoint's /update)."
            )
        return SparqlRegistry(sparql_query_url, sparql_update_url, timeout=timeout)
    if sparql_update_url:
        raise RegistryError("A SPARQL update URL was given without a query URL.")
    return EmbeddedRegistry(path)
