"""Runs over a real in-memory registry with a clock the test moves: the world the lease and
recurring-run tests share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.registry import open_registry
from server.runs.actions import FinishReport, Runs
from server.runs.store import RunStore
from tests.support.runs_world import CAGE, PUBLIC

LEASE_S = 30.0
OWNER = "https://owner.example/profile/card#me"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runs(tmp_path, clock):
    from connectors.solid.http import Http
    from server.algorithms import BundleStore
    from server.consent.store import ConsentStore
    from server.spaces.actions import Spaces

    with open_registry(path=":memory:") as registry:
        spaces = Spaces(
            lambda: registry, BundleStore(tmp_path / "b"), Http(), PUBLIC, max_bundle_bytes=2**20
        )
        consents = ConsentStore(lambda: registry, PUBLIC)
        yield Runs(
            RunStore(lambda: registry, PUBLIC),
            spaces,
            consents,
            lambda: CAGE,
            clock=clock,
            lease_seconds=LEASE_S,
            max_claims=2,
        )


def refused_report(**changes) -> FinishReport:
    body = {
        "outcome": "algorithm-error",
        "refusal": None,
        "notes": [],
        "individuals_read": 0,
        "result_digest": None,
        "result_size": None,
    }
    return FinishReport.from_json({**body, **changes})
