"""Runs on a control plane of their own (registry in memory, bundles in tmp_path): an active
space whose every participant approved, and the datacage's attestation of a bundle. Test
modules import the `runs` fixture by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.solid.http import Http
from server.algorithms import BundleStore, build_bundle
from server.consent.store import ConsentStore
from server.registry import open_registry
from server.runs.actions import Runs
from server.runs.model import Attestation
from server.runs.store import RunStore
from server.spaces.actions import Spaces
from server.spaces.model import Role
from server.spaces.validation import check_space

OWNER = "https://owner.example/profile/card#me"


CAGE = "https://cage.example/profile/card#me"


STRANGER = "https://stranger.example/profile/card#me"


SURVEY = Path(__file__).parents[1] / "fixtures" / "bundles" / "shop-survey"


PUBLIC = "https://dc.example/"


@pytest.fixture
def runs(tmp_path):
    with open_registry(path=":memory:") as registry:
        spaces = Spaces(
            lambda: registry,
            BundleStore(tmp_path / "bundles"),
            Http(),
            PUBLIC,
            max_bundle_bytes=2**20,
        )
        consents = ConsentStore(lambda: registry, PUBLIC)
        yield Runs(RunStore(lambda: registry, PUBLIC), spaces, consents, lambda: CAGE)


def active_space(runs: Runs):
    fields = check_space(
        name="Survey",
        description="",
        purposes=["Marketing"],
        legal_basis="Consent",
        retention="P30D",
        data_requests=[{"kind": "path", "target": "shop/orders.csv", "description": "Orders"}],
    )
    spaces = runs.spaces
    space = spaces.create(OWNER, fields, frozenset(Role))
    spaces.register_algorithm(space.id, OWNER, build_bundle(SURVEY))
    spaces.submit_for_approval(space.id, OWNER)
    return spaces.approve(space.id, OWNER, spaces.get(space.id, OWNER).terms_digest)


def attestation(digest: str) -> Attestation:
    return Attestation("software-unattested", "sha256:" + "c" * 64, digest, "k" * 64)
