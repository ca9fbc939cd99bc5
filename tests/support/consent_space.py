"""An active space that asks individuals for data, set up through the service layer.

Consent tests start where organisations have finished: one owner holding every role, the sample
algorithm registered and approved. The browser tests of spaces cover how they got there.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from server.algorithms import build_bundle
from server.services import services
from server.spaces.model import Role, Space
from server.spaces.validation import check_space

BUNDLE_SOURCE = Path(__file__).parents[1] / "fixtures" / "bundles" / "common-customers"


def make_active_space(
    app: Flask,
    owner: str,
    data_requests: list[dict[str, str]],
    *,
    name: str = "Common customers",
    recurring: bool = False,
    consent_period: str = "P1Y",
    bundle_source: Path = BUNDLE_SOURCE,
    privacy: dict[str, float] | None = None,  # a differential-privacy term, as the API takes it
) -> Space:
    fields = check_space(
        name=name,
        description="Find the customers two shops share, without either seeing the other's list.",
        purposes=["Marketing"],
        legal_basis="Consent",
        retention="P90D",
        data_requests=data_requests,
        consent_period=consent_period,
        recurring=recurring,
        privacy=privacy,
    )
    spaces = services(app).spaces
    space = spaces.create(owner, fields, frozenset(Role))
    spaces.register_algorithm(space.id, owner, build_bundle(bundle_source))
    spaces.submit_for_approval(space.id, owner)
    digest = spaces.get(space.id, owner).terms_digest
    assert digest is not None
    return spaces.approve(space.id, owner, digest)
