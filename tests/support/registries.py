"""The registry on every back end, for tests that must hold on each: in memory, on disk,
`oxigraph serve` and Virtuoso. Test modules import both fixtures by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.registry import Registry, open_registry
from tests.support.oxigraph import OxigraphServer
from tests.support.virtuoso import VirtuosoServer

BACK_ENDS = ["memory", "disk", "sparql", "virtuoso"]
#: The back ends whose every write is one transaction, all or nothing (not Virtuoso's).
ATOMIC_BACK_ENDS = ["memory", "disk", "sparql"]


@pytest.fixture(scope="module")
def oxigraph() -> Iterator[OxigraphServer]:
    with OxigraphServer() as server:
        yield server


@pytest.fixture(params=BACK_ENDS)
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    if request.param == "virtuoso":
        virtuoso: VirtuosoServer = request.getfixturevalue("virtuoso")
        virtuoso.reset()
        opened = open_registry(virtuoso_url=virtuoso.registry_url)
    elif request.param == "memory":
        opened = open_registry()
    elif request.param == "disk":
        opened = open_registry(path=str(tmp_path / "registry"))
    else:
        server: OxigraphServer = request.getfixturevalue("oxigraph")
        server.reset()
        opened = open_registry(
            sparql_query_url=server.query_url, sparql_update_url=server.update_url
        )
    with opened:
        yield opened
