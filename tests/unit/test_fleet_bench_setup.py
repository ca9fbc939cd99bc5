"""bench/fleet.py's set-up at hundreds of people a server: a call a busy pod server dropped is
tried again after a pause, a refusal is not, and it gives up with a plain line, not a trace."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # scripts, no package

import fleet_people

from connectors.solid.css.errors import CssError
from connectors.solid.errors import Forbidden, UpstreamError, UpstreamUnavailable
from server.errors import PodRefused

URL = "http://localhost:3000/.account/account/"


def refused_consent(cause: Exception) -> PodRefused:
    try:
        raise PodRefused("Your pod did not accept the change.") from cause
    except PodRefused as exc:
        return exc


@pytest.mark.parametrize(
    "error",
    [
        CssError("Could not create an account: CSS did not answer (ReadTimeout).", url=URL),
        CssError("CSS refused to create an account (HTTP 500)", url=URL, status=500),
        UpstreamUnavailable("Could not connect to the pod.", url=URL),
        UpstreamError("The pod failed (HTTP 503).", url=URL, status=503),
        refused_consent(UpstreamUnavailable("The pod did not answer in time.", url=URL)),
    ],
)
def test_a_call_a_busy_server_dropped_is_worth_another_try(error):
    assert fleet_people.dropped(error)


@pytest.mark.parametrize(
    "error",
    [
        CssError("CSS refused to add a password login (HTTP 400): taken", url=URL, status=400),
        CssError("CSS did not offer the account control account.pod"),
        Forbidden("The pod refused.", url=URL, status=403),
        refused_consent(Forbidden("The pod refused.", url=URL, status=403)),
        PodRefused("Your pod did not accept the change."),
    ],
)
def test_a_refusal_is_not_tried_again(error):
    assert not fleet_people.dropped(error)


@pytest.fixture
def pauses(monkeypatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(fleet_people.time, "sleep", slept.append)
    return slept


def test_a_dropped_call_is_tried_again_after_a_growing_pause(pauses):
    attempts: list[int] = []

    def call(attempt: int) -> str:
        attempts.append(attempt)
        if attempt < 2:
            raise UpstreamUnavailable("Could not connect to the pod.", url=URL)
        return "made"

    assert fleet_people.patiently("make a person", call) == "made"
    assert attempts == [0, 1, 2]
    assert pauses == [fleet_people.FIRST_PAUSE_S, 2 * fleet_people.FIRST_PAUSE_S]
    assert fleet_people.retried[-2:] == ["make a person", "make a person"]  # and said


def test_a_refusal_stops_the_set_up_at_once_with_a_plain_line(pauses):
    def call(attempt: int) -> None:
        raise Forbidden("The pod refused the grant.", url=URL, status=403)

    with pytest.raises(SystemExit, match="set-up failed to give a consent: The pod refused"):
        fleet_people.patiently("give a consent", call)
    assert pauses == []


def test_a_server_that_never_answers_ends_the_set_up_after_its_tries(pauses):
    def call(attempt: int) -> None:
        raise UpstreamUnavailable("Could not connect to the pod.", url=URL)

    with pytest.raises(SystemExit, match="set-up failed to make a person: Could not connect"):
        fleet_people.patiently("make a person", call)
    assert len(pauses) == fleet_people.TRIES - 1
