"""`datacage worker` reads its settings from the declared configuration (server/config.py):
no variable of its own outside it, and a bad or missing one is named in one line."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from server import config
from server.attestation.software import SoftwareAttestationProvider
from server.attestation.tsm import AttesterError, configured_provider
from server.cli import main
from tests.support.worker_env import worker_identity

WORKER_SETTINGS = {
    "CONTROL_PLANE",
    "ISSUER",
    "CLIENT_ID",
    "CLIENT_SECRET_FILE",
    "WORKER_DIR",
    "POD_CA",
    "POD_GATEWAY",
    "ALLOW_PLAIN_HTTP_PODS",
    "FLEET_BROKER_URL",
    "DELIVERY_DIR",
    "DELIVERY_KEY_FILE",
    "WORKER_LOG_FORMAT",
    "ATTESTATION_PROVIDER",
}


@pytest.fixture
def identity(tmp_path: Path) -> dict[str, str]:
    return worker_identity(tmp_path)


def test_the_worker_has_no_variable_outside_the_declared_configuration() -> None:
    command = main.commands["worker"]
    own = [p.name for p in command.params if isinstance(p, click.Option) and p.envvar]
    assert own == [], "declare these in server/config.py instead of click's envvar="
    assert config.DEFAULTS.keys() >= WORKER_SETTINGS


def test_the_reference_lists_every_worker_setting() -> None:
    reference = config.reference_markdown()
    for name in WORKER_SETTINGS:
        assert f"`DATACAGE_{name}`" in reference


def test_the_attestation_default_is_the_software_stand_in_by_its_name() -> None:
    assert config.DEFAULTS["ATTESTATION_PROVIDER"] == "software-unattested"
    assert config.DEFAULTS["WORKER_LOG_FORMAT"] == "text"


def test_the_environment_is_read_and_a_flag_wins(identity: dict[str, str]) -> None:
    environ = {**identity, "DATACAGE_ALLOW_PLAIN_HTTP_PODS": "false"}
    settings = config.worker_settings(environ, {"ISSUER": "https://other.example/"})
    assert settings["CONTROL_PLANE"] == "https://cp.example/"
    assert settings["ISSUER"] == "https://other.example/"
    assert settings["ALLOW_PLAIN_HTTP_PODS"] is False  # not bool("false")
    assert config.worker_settings({**environ, "DATACAGE_ALLOW_PLAIN_HTTP_PODS": "1"})[
        "ALLOW_PLAIN_HTTP_PODS"
    ]


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("CONTROL_PLANE", "", "Set DATACAGE_CONTROL_PLANE (or --control-plane)"),
        ("CONTROL_PLANE", "cp.example", "DATACAGE_CONTROL_PLANE must be an http(s) URL"),
        ("CLIENT_SECRET_FILE", "/nonexistent/secret", "DATACAGE_CLIENT_SECRET_FILE: no file"),
        ("ALLOW_PLAIN_HTTP_PODS", "maybe", "DATACAGE_ALLOW_PLAIN_HTTP_PODS must be true or false"),
        ("POD_GATEWAY", "pods.example=1.2.3.4", "DATACAGE_POD_GATEWAY"),
        ("WORKER_LOG_FORMAT", "xml", "DATACAGE_WORKER_LOG_FORMAT must be 'json' or 'text'"),
        ("ATTESTATION_PROVIDER", "trust-me", "DATACAGE_ATTESTATION_PROVIDER must be one of"),
        ("PULL_PER_POD_SERVER", "0", "DATACAGE_PULL_PER_POD_SERVER must be at least 1"),
    ],
)
def test_a_bad_setting_stops_the_worker_in_one_line_naming_it(
    identity: dict[str, str], variable: str, value: str, words: str
) -> None:
    environ = {**identity, f"DATACAGE_{variable}": value}
    with pytest.raises(config.ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        config.worker_settings(environ)
    result = CliRunner().invoke(main, ["worker", "--once"], env=environ)
    assert result.exit_code == 1
    assert words in result.output
    assert "Traceback" not in result.output
    assert "s3cret" not in result.output


def test_configfs_tsm_refuses_to_start_without_the_hardware(tmp_path: Path) -> None:
    with pytest.raises(AttesterError, match="absent"):
        configured_provider("configfs-tsm", tmp_path / "attestation", tmp_path / "no-tsm")


def test_the_software_stand_in_and_auto_say_what_they_are(tmp_path: Path) -> None:
    chosen = configured_provider("software-unattested", tmp_path / "a", tmp_path / "no-tsm")
    assert isinstance(chosen, SoftwareAttestationProvider)
    assert chosen.name == "software-unattested"
    fallback = configured_provider("auto", tmp_path / "b", tmp_path / "no-tsm")
    assert isinstance(fallback, SoftwareAttestationProvider)
