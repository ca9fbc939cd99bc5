"""The parts of the CSS test bed that need no node: environment, lookup, command, failures."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from connectors.solid.css import CommunitySolidServer, CssError
from connectors.solid.css.process import LOOPBACK_PRELOAD, find_css_home, strip_css_env


@pytest.fixture
def css_home(tmp_path: Path) -> Path:
    """A folder shaped like the installed package, enough for lookup and command building."""
    home = tmp_path / "node_modules" / "@solid" / "community-server"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "server.js").write_text("// not the real server\n")
    return home


def _fake_node(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-node"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_strip_css_env_drops_only_css_variables() -> None:
    env = {"CSS_PORT": "1", "CSS_UNKNOWN": "x", "PATH": "/bin", "MY_CSS_X": "kept"}

    assert strip_css_env(env) == {"PATH": "/bin", "MY_CSS_X": "kept"}
    assert "CSS_PORT" in env  # the caller's mapping is left alone


def test_css_home_is_found_upward_from_a_nested_folder(css_home: Path, tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)

    assert find_css_home(env={}, search_from=[nested]) == css_home


def test_css_home_from_the_environment_wins(css_home: Path, tmp_path: Path) -> None:
    env = {"DATACAGE_CSS_HOME": str(css_home)}

    assert find_css_home(env=env, search_from=[]) == css_home


def test_a_wrong_css_home_in_the_environment_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CssError, match="DATACAGE_CSS_HOME"):
        find_css_home(env={"DATACAGE_CSS_HOME": str(tmp_path)}, search_from=[])


def test_missing_css_tells_the_user_to_run_make_setup(tmp_path: Path) -> None:
    with pytest.raises(CssError, match="make setup"):
        find_css_home(env={}, search_from=[tmp_path])


def test_command_uses_localhost_the_preload_and_the_seed(css_home: Path, tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    server = CommunitySolidServer(port=4123, css_home=css_home, seed_config=seed)

    argv = server.command(tmp_path / "data")

    assert server.base_url == server.issuer == "http://localhost:4123/"
    assert argv[:3] == ["node", "-r", str(LOOPBACK_PRELOAD)]
    assert argv[argv.index("-b") + 1] == "http://localhost:4123/"
    assert argv[argv.index("-p") + 1] == "4123"
    assert argv[-2:] == ["--seedConfig", str(seed)]
    assert LOOPBACK_PRELOAD.is_file()


def test_a_free_port_is_picked_when_none_is_given(css_home: Path) -> None:
    assert CommunitySolidServer(css_home=css_home).port > 0


def test_missing_node_is_a_css_error_and_cleans_up(css_home: Path) -> None:
    server = CommunitySolidServer(css_home=css_home, node="/nonexistent/node")

    with pytest.raises(CssError, match="Could not run node"):
        server.start()

    assert server.pid is None
    assert server.log_path is None  # the private temp folder is gone


def test_a_taken_port_is_refused_before_starting(css_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = CommunitySolidServer(port=taken.getsockname()[1], css_home=css_home)

        with pytest.raises(CssError, match="already in use"):
            server.start()


def test_an_early_exit_fails_fast_with_the_log(css_home: Path, tmp_path: Path) -> None:
    node = _fake_node(tmp_path, 'echo "Unknown option: --bogus" >&2; exit 3')
    server = CommunitySolidServer(css_home=css_home, node=node)

    with pytest.raises(CssError, match=r"code 3(.|\n)*Unknown option: --bogus"):
        server.start(timeout=30)


def test_a_server_that_never_answers_times_out_and_is_stopped(
    css_home: Path, tmp_path: Path
) -> None:
    node = _fake_node(tmp_path, "exec sleep 30")
    server = CommunitySolidServer(css_home=css_home, node=node)

    with pytest.raises(CssError, match="did not answer"):
        server.start(timeout=0.5)

    assert server.pid is None
