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


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("SANDBOX_IDS", "lots", "DATACAGE_SANDBOX_IDS must be FIRST-LAST"),
        ("SANDBOX_IDS", "2000-1000", "first id must not be above the last"),
        ("SANDBOX_IDS", "0-65534", "between 1000"),  # root and nobody are not sandboxes
        ("SANDBOX_IDS", "3000000000-3000000100", "read ids as signed"),
        ("SANDBOX_ID_LOCKS", "relative/locks", "DATACAGE_SANDBOX_ID_LOCKS must be an absolute"),
    ],
)
def test_the_worker_sandbox_ids_are_declared_and_a_bad_one_names_its_variable(
    variable, value, words
):
    assert variable in config.DEFAULTS
    with pytest.raises(config.ConfigError, match=words):
        config.check({**config.DEFAULTS, variable: value})
    with pytest.raises(config.ConfigError, match=words):
        config.check_worker_environment({f"DATACAGE_{variable}": value})


def test_the_declared_sandbox_ids_are_the_ones_the_worker_leases_from(tmp_path):
    from server.datacage.sandbox.ids import IdPool

    environ = {
        "DATACAGE_SANDBOX_IDS": "2000000100-2000000109",
        "DATACAGE_SANDBOX_ID_LOCKS": str(tmp_path / "locks"),
    }
    config.check_worker_environment(environ)
    pool = IdPool.from_env(environ)
    assert (pool.first, pool.last, pool.lock_dir) == (2000000100, 2000000109, tmp_path / "locks")
    with pool.lease() as leased:
        assert 2000000100 <= leased.uid <= 2000000109
    assert IdPool.from_env({}).first == 2_000_000_000
    with pytest.raises(ValueError, match="DATACAGE_SANDBOX_IDS"):
        IdPool.from_env({"DATACAGE_SANDBOX_IDS": "12"})
