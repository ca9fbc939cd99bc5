"""The configuration reference in docs/ is generated from the declared options, never edited."""

from pathlib import Path

import pytest

from server import config

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_docs_configuration_matches_the_declared_options():
    assert DOCS.read_text() == config.reference_markdown(), (
        "docs/configuration.md is out of date: run `datacage config-reference > "
        "docs/configuration.md`"
    )


def test_declared_options_are_read_by_their_type_from_the_environment():
    values = config.from_environment({"DATACAGE_SECRET_KEY": "12345", "DATACAGE_OTHER": "x"})
    assert values == {"SECRET_KEY": "12345"}


def test_a_malformed_public_url_names_the_variable():
    with pytest.raises(config.ConfigError, match="DATACAGE_PUBLIC_URL"):
        config.check({**config.DEFAULTS, "PUBLIC_URL": "http://no-trailing-slash"})
