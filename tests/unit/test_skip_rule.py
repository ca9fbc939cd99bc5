"""The skip rule (tests/support/skip_rule.py): a test that did not run fails the run, unless
it needs a Docker daemon. Each case runs a real pytest on a small test file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(folder: Path, source: str) -> subprocess.CompletedProcess[str]:
    (folder / "test_sample.py").write_text(textwrap.dedent(source))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "tests.support.skip_rule", "--rootdir", str(folder), str(folder)]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_a_skipped_test_fails_the_run_and_is_named(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path,
        """
        import pytest
        def test_runs(): pass
        def test_hides(): pytest.skip("the tool is missing")
        """,
    )
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "test_sample.py::test_hides" in result.stdout
    assert "the tool is missing" in result.stdout


def test_skipif_markers_and_skips_in_fixtures_count_too(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path,
        """
        import pytest
        @pytest.fixture
        def tool(): pytest.skip("no tool here")
        @pytest.mark.skipif(True, reason="not on this machine")
        def test_marked(): pass
        def test_uses_the_tool(tool): pass
        """,
    )
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "2 did not run" in result.stdout


def test_only_docker_daemon_tests_may_skip(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path,
        """
        import pytest
        @pytest.fixture(params=[pytest.param("docker", marks=pytest.mark.docker_daemon), "podman"])
        def engine(request):
            if request.param == "docker":
                pytest.skip("no Docker daemon answers")
            return request.param
        @pytest.mark.docker_daemon
        def test_compose(): pytest.skip("no docker CLI")
        def test_engine(engine): assert engine == "podman"
        """,
    )
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    assert "2 skipped" in result.stdout


def test_expected_failures_and_real_failures_keep_their_meaning(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path,
        """
        import pytest
        @pytest.mark.xfail(reason="known", strict=True)
        def test_known(): assert False
        """,
    )
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    failing = run_pytest(tmp_path, "def test_fails(): assert False\n")
    assert failing.returncode == pytest.ExitCode.TESTS_FAILED


def test_the_browser_suite_fails_without_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.browser import conftest as browser_suite

    monkeypatch.setattr(browser_suite, "CHROMIUM", tmp_path / "chromium")
    starting = browser_suite.browser.__wrapped__()
    with pytest.raises(pytest.fail.Exception, match="chromium is missing"):
        next(starting)
