"""Commands an operator runs beside the server say in words when the registry is held, never
with a traceback (docs/operations.md: the embedded store serves one process)."""

import pyoxigraph
import pytest
from click.testing import CliRunner

from server.cli import main


@pytest.mark.parametrize("command", [["audit", "verify"], ["consents", "expire"]])
def test_a_registry_held_by_another_server_is_a_one_line_error(tmp_path, monkeypatch, command):
    monkeypatch.setenv("DATACAGE_DATA_DIR", str(tmp_path))
    held = pyoxigraph.Store(str(tmp_path / "registry"))  # as a running `datacage serve` holds it
    result = CliRunner().invoke(main, command)
    del held
    assert result.exit_code == 1
    assert "is in use" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a click error, not an escaped exception
