"""The suite's skip rule: a skipped test fails the run, unless it needs a Docker daemon.

A skip hides a test that did not run behind a green run. The only tests allowed to skip are
the ones marked `docker_daemon` (they drive a real Docker daemon, which this test bed does not
have; podman runs the same tests here). Any other skip (a missing tool, a missing browser, a
test that "does not apply") turns the exit status into a failure and is listed by name.

tests/conftest.py loads it as a plugin; `pytest -p tests.support.skip_rule` applies it to any
folder of tests.
"""

from __future__ import annotations

import pytest

#: The one marker under which a skip is allowed.
ALLOWED_MARKER = "docker_daemon"


class SkipRule:
    """Collects the forbidden skips of one session and fails the session on them."""

    def __init__(self) -> None:
        self.forbidden: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # An expected failure reports as skipped too; it ran, so it hides nothing.
        if not report.skipped or hasattr(report, "wasxfail"):
            return
        if ALLOWED_MARKER in report.keywords:
            return
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        self.forbidden.append(f"{report.nodeid}: {reason}")

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.forbidden and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.forbidden:
            return
        terminalreporter.section("skipped tests fail the run", sep="=", red=True, bold=True)
        terminalreporter.write_line(
            f"Only tests marked `{ALLOWED_MARKER}` may skip; {len(self.forbidden)} did not run:"
        )
        for line in self.forbidden:
            terminalreporter.write_line(f"  {line}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{ALLOWED_MARKER}: needs a Docker daemon; the only tests the suite allows to skip",
    )
    config.pluginmanager.register(SkipRule(), "datacage-skip-rule")
