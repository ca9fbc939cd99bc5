"""One setting names a fleet's broker for both planes: `DATACAGE_FLEET_BROKER_URL` sends the
control plane's started runs to it and makes a worker or the beat join the fleet. The worker's
old name, `DATACAGE_BROKER_URL`, is still read for one release, with a deprecation warning."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from server import config
from server.cli import main
from tests.support.worker_env import worker_identity

BROKER = "redis://broker.example:6379/0"


@pytest.fixture
def warnings() -> list[str]:
    # A handler on the module's own logger: the app's logging setup may stop propagation.
    seen: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("server.config")
    logger.addHandler(handler)
    yield seen
    logger.removeHandler(handler)


@pytest.fixture
def worker_env(tmp_path: Path) -> dict[str, str]:
    return worker_identity(tmp_path)


@pytest.fixture
def fleets(monkeypatch) -> list[str]:
    """The brokers `datacage worker` would join (no sign-in, nothing started)."""
    joined: list[str] = []
    monkeypatch.setattr("server.datacage.worker.Worker", lambda *args, **kwargs: object())
    monkeypatch.setattr(
        "server.fleet.worker_process.serve_fleet",
        lambda _cage, settings, _root: joined.append(settings.broker_url),
    )
    return joined


@pytest.mark.parametrize("variable", ["DATACAGE_FLEET_BROKER_URL", "DATACAGE_BROKER_URL"])
def test_the_worker_joins_the_fleet_the_control_plane_dispatches_to(worker_env, fleets, variable):
    env = {**worker_env, variable: BROKER}
    result = CliRunner().invoke(main, ["worker"], env=env)
    assert result.exit_code == 0, result.output
    assert fleets == [BROKER]
    assert config.from_environment(env)["FLEET_BROKER_URL"] == BROKER  # the control plane's


def test_the_reference_has_one_broker_variable():
    table = config.reference_markdown().split("Deprecated")[0]
    assert "`DATACAGE_FLEET_BROKER_URL`" in table
    assert "DATACAGE_BROKER_URL" not in table


def test_the_workers_old_name_still_works_for_one_release_and_says_so(worker_env, warnings):
    worker = config.worker_settings({**worker_env, "DATACAGE_BROKER_URL": BROKER})
    assert worker["FLEET_BROKER_URL"] == BROKER
    assert warnings == [
        "DATACAGE_BROKER_URL is deprecated and will stop working in the next release: "
        "use DATACAGE_FLEET_BROKER_URL"
    ]
    assert "- `DATACAGE_BROKER_URL`: use `DATACAGE_FLEET_BROKER_URL`." in (
        config.reference_markdown()
    )


def test_the_new_name_wins_over_the_old_one():
    values = config.from_environment(
        {"DATACAGE_FLEET_BROKER_URL": BROKER, "DATACAGE_BROKER_URL": "redis://old:6379/0"}
    )
    assert values["FLEET_BROKER_URL"] == BROKER


@pytest.fixture
def beats(monkeypatch) -> list[str]:
    """The brokers `datacage fleet-beat` would serve (nothing is started)."""
    served: list[str] = []
    monkeypatch.setattr(
        "server.fleet.worker_process.serve_beat",
        lambda settings, _file: served.append(settings.broker_url),
    )
    return served


@pytest.mark.parametrize("variable", ["DATACAGE_FLEET_BROKER_URL", "DATACAGE_BROKER_URL"])
def test_the_beat_reads_the_same_setting(beats, variable):
    result = CliRunner().invoke(main, ["fleet-beat"], env={variable: BROKER})
    assert result.exit_code == 0, result.output
    assert beats == [BROKER]


def test_the_beat_flag_overrides_the_setting(beats):
    result = CliRunner().invoke(
        main, ["fleet-beat", "--broker", BROKER], env={"DATACAGE_FLEET_BROKER_URL": "redis://x/0"}
    )
    assert result.exit_code == 0, result.output
    assert beats == [BROKER]


def test_a_beat_without_a_broker_says_what_to_set(beats):
    result = CliRunner().invoke(main, ["fleet-beat"], env={"DATACAGE_FLEET_BROKER_URL": ""})
    assert result.exit_code != 0
    assert "Set DATACAGE_FLEET_BROKER_URL (or --broker)" in result.output
    assert "Traceback" not in result.output
    assert beats == []
