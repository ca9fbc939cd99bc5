"""The audit chain on every registry backend, the SPARQL one on a real `oxigraph serve`: entries
read back with the very hash they were written with (literal forms survive the store), appends
from many threads stay one chain, and an edit made through the endpoint is named."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rdflib import Literal, URIRef

from server.audit import AuditTrail, ChainBroken, verify_space
from server.audit.entry import entry_iri
from server.registry import Registry, open_registry
from tests.support.oxigraph import OxigraphServer
from tests.support.registries import oxigraph  # noqa: F401 - the fixture, by name
from vocab import DCTERMS

SPACE = "https://datacage.test/spaces/chain"


@pytest.fixture(params=["disk", "sparql"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    if request.param == "disk":
        opened = open_registry(path=str(tmp_path / "registry"))
    else:
        server: OxigraphServer = request.getfixturevalue("oxigraph")
        server.reset()
        opened = open_registry(
            sparql_query_url=server.query_url, sparql_update_url=server.update_url
        )
    with opened:
        yield opened


def test_a_chain_written_from_threads_verifies_and_an_edit_is_named(registry):
    trail = AuditTrail(lambda: registry, "https://datacage.test/")
    odd = datetime(2026, 12, 1, 13, 59, 59, 999999, tzinfo=UTC)  # microseconds are dropped
    trail.record(SPACE, "space-created", "https://o.test/#me", "Créé « ici ».", at=odd)

    def append(worker: int) -> None:
        for n in range(5):
            trail.record(SPACE, "space-edited", "https://o.test/#me", f"{worker}-{n}")

    threads = [threading.Thread(target=append, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert verify_space(trail, registry, SPACE).entries == 21

    name = entry_iri(SPACE, 7)
    stored = registry.read(name)
    stored.graph.set((URIRef(name), DCTERMS.description, Literal("Nothing to see.")))
    registry.write(name, stored.graph, expected_revision=stored.revision)
    with pytest.raises(ChainBroken) as caught:
        verify_space(trail, registry, SPACE)
    assert caught.value.entry == name
