"""The schedule's settings and the single-machine timer: a bad interval stops the process
with a plain message naming the variable; each chore is due at once, then once per period."""

from __future__ import annotations

import pytest

from server import config
from server.datacage.schedule import Timer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_chore_is_due_at_once_then_once_per_period():
    clock = Clock()
    timer = Timer({"recurring": 60.0, "expiry": 600.0}, clock=clock)
    assert timer.due() == ["recurring", "expiry"]
    assert timer.due() == []
    clock.now += 59.9
    assert timer.due() == []
    clock.now += 0.1
    assert timer.due() == ["recurring"]
    clock.now += 600
    assert timer.due() == ["recurring", "expiry"]


def test_an_unknown_chore_is_refused():
    with pytest.raises(ValueError, match="no such chores"):
        Timer({"reboot": 1.0})


@pytest.mark.parametrize("name", sorted(config.FLEET_PERIODS))
@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5", "soon"])
def test_a_period_that_cannot_work_is_refused_naming_the_variable(name, value):
    with pytest.raises(config.ConfigError, match=f"DATACAGE_{name}"):
        config.check({**config.DEFAULTS, **config.from_environment({f"DATACAGE_{name}": value})})


def test_the_fleet_periods_are_declared_once_and_reach_the_fleet_and_the_single_worker():
    from server.fleet.app import FleetSettings

    env = {"DATACAGE_FLEET_OFFER_TTL_S": "4", "DATACAGE_FLEET_EXPIRE_EVERY_S": "7.5"}
    settings = {**config.DEFAULTS, **config.from_environment(env)}
    fleet = FleetSettings("redis://127.0.0.1:6379/0", **config.fleet_periods(settings))
    assert (fleet.offer_ttl_s, fleet.expire_every_s, fleet.offer_every_s) == (4.0, 7.5, 10.0)
    reference = config.reference_markdown()
    assert all(f"`DATACAGE_{name}`" in reference for name in config.FLEET_PERIODS)


def test_a_beat_with_a_period_that_cannot_work_says_which_without_a_traceback():
    from click.testing import CliRunner

    from server.cli import main

    env = {"DATACAGE_FLEET_BROKER_URL": "redis://x:6379/0", "DATACAGE_FLEET_OFFER_EVERY_S": "0"}
    result = CliRunner().invoke(main, ["fleet-beat"], env=env)
    assert result.exit_code != 0
    assert "DATACAGE_FLEET_OFFER_EVERY_S must be a positive number of seconds" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value", [0.0, 0.5, float("nan"), float("inf"), -3600.0])
def test_a_recurring_interval_that_cannot_work_is_refused(value):
    with pytest.raises(config.ConfigError, match="DATACAGE_RECURRING_INTERVAL"):
        config.check({**config.DEFAULTS, "RECURRING_INTERVAL": value})


def test_the_recurring_interval_is_read_from_the_environment_as_seconds():
    values = config.from_environment({"DATACAGE_RECURRING_INTERVAL": "604800"})
    assert values["RECURRING_INTERVAL"] == 604800.0
    config.check({**config.DEFAULTS, **values})
