"""The Spaces service over a real (in-memory) registry: caching never serves a stale space."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.solid.http import Http
from server.algorithms import BundleStore
from server.errors import EditConflict
from server.registry import RegistryConflict, open_registry
from server.spaces.actions import Spaces
from server.spaces.model import Role
from server.spaces.validation import check_space

OWNER = "https://owner.example/profile/card#me"
FIELDS = check_space(
    name="Shared",
    description="",
    purposes=["Marketing"],
    legal_basis="Consent",
    retention="P30D",
    data_requests=[],
)


@pytest.fixture
def registry():
    with open_registry(path=":memory:") as registry:
        yield registry


def service(registry, tmp_path: Path) -> Spaces:
    return Spaces(
        lambda: registry,
        BundleStore(tmp_path / "bundles"),
        Http(),
        "https://dc.example/",
        max_bundle_bytes=2**20,
    )


def test_a_change_made_by_another_process_is_seen_at_once(registry, tmp_path):
    # Two services over one registry stand for two server processes over one SPARQL endpoint.
    first, second = service(registry, tmp_path), service(registry, tmp_path)
    space = first.create(OWNER, FIELDS, frozenset({Role.DATA_PROVIDER}))
    assert second.get(space.id, OWNER).name == "Shared"  # now cached in `second`
    renamed = check_space(**{**_raw(), "name": "Renamed"})
    first.update(space.id, OWNER, renamed)
    assert second.get(space.id, OWNER).name == "Renamed"


def test_what_a_caller_changes_on_a_loaded_space_never_reaches_the_cache(registry, tmp_path):
    spaces = service(registry, tmp_path)
    space = spaces.create(OWNER, FIELDS, frozenset())
    loaded = spaces.get(space.id, OWNER)
    loaded.name = "Scribbled on"
    assert spaces.get(space.id, OWNER).name == "Shared"


def test_an_action_that_keeps_losing_the_race_gives_up_with_a_conflict(registry, tmp_path):
    spaces = service(registry, tmp_path)
    space = spaces.create(OWNER, FIELDS, frozenset())

    class AlwaysBeaten:
        def __getattr__(self, name):
            return getattr(registry, name)

        def write(self, *args, **kwargs):
            raise RegistryConflict("someone else wrote first")

    spaces.store._registry = lambda: AlwaysBeaten()
    with pytest.raises(EditConflict, match="try again"):
        spaces.close(space.id, OWNER)


def _raw() -> dict:
    return {
        "name": "Shared",
        "description": "",
        "purposes": ["Marketing"],
        "legal_basis": "Consent",
        "retention": "P30D",
        "data_requests": [],
    }
