"""The control plane's RDF registry: one named graph per record, written by compare-and-swap.

Two backends share the `Registry` contract: `EmbeddedRegistry` (pyoxigraph, on disk or in
memory; one process) and `SparqlRegistry` (a SPARQL 1.1 endpoint; any number of processes).
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

__all__ = [
    "MEMORY",
    "EmbeddedRegistry",
    "Registry",
    "RegistryConflict",
    "RegistryError",
    "RegistryUnavailable",
    "SparqlRegistry",
    "StoredGraph",
    "open_registry",
]


def open_registry(
    *,
    path: str | None = None,
    sparql_query_url: str | None = None,
    sparql_update_url: str | None = None,
    timeout: float = 10.0,
) -> Registry:
    """The SPARQL registry if `sparql_query_url` is given, else the embedded one at `path`.

    `path` None or ":memory:" keeps the registry in memory (tests); a directory is created
    (mode 0700) if missing. `timeout` (seconds) applies to each SPARQL request.
    """
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
