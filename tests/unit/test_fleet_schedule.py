"""The schedule's settings and the single-machine timer: a bad interval stops the process
with a plain message naming the variable; each chore is due at once, then once per period."""

from __future__ import annotations

import pytest

from server import config
from server.datacage.schedule import Timer
from server.fleet.worker_process import settings_from_env


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


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5", "soon"])
def test_a_period_that_cannot_work_stops_the_process_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("DATACAGE_FLEET_RECURRING_EVERY_S", value)
    with pytest.raises(SystemExit, match="DATACAGE_FLEET_RECURRING_EVERY_S"):
        settings_from_env("redis://127.0.0.1:6379/0")


@pytest.mark.parametrize("value", [0.0, 0.5, float("nan"), float("inf"), -3600.0])
def test_a_recurring_interval_that_cannot_work_is_refused(value):
    with pytest.raises(config.ConfigError, match="DATACAGE_RECURRING_INTERVAL"):
        config.check({**config.DEFAULTS, "RECURRING_INTERVAL": value})


def test_the_recurring_interval_is_read_from_the_environment_as_seconds():
    values = config.from_environment({"DATACAGE_RECURRING_INTERVAL": "604800"})
    assert values["RECURRING_INTERVAL"] == 604800.0
    config.check({**config.DEFAULTS, **values})
