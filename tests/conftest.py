"""Fixtures shared by the whole suite.

Sections, in order: the Community Solid Server test bed, the hooks that report on it, then
Solid identities (a fresh account, pod and logged-in client per call).
Add new fixtures under a section header of their own, and keep this module free of test logic.

The Community Solid Server (CSS) is the real Solid server for integration tests. It takes ~5 s
and ~300 MB to start, so one runs for the whole session and every test gets fresh accounts and
pods instead of a fresh server. Tests that use it (directly or through another fixture) get the
`css` marker automatically, so `pytest -m "not css"` runs the suite without node.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

# The shared fixtures and helpers in tests/support assert too: their failures read like tests'.
pytest.register_assert_rewrite("tests.support")

from connectors.solid import SolidClient, SolidSession  # noqa: E402 - after the rewrite hook
from connectors.solid.css import (  # noqa: E402 - after the rewrite hook
    ClientCredentials,
    CommunitySolidServer,
    CssAccountApi,
    PodAccount,
)

# A skipped test fails the run unless it needs a Docker daemon (tests/support/skip_rule.py).
pytest_plugins = ["tests.support.skip_rule"]

# --- Egress policy -----------------------------------------------------------------------------
# Every server of the test bed (CSS, nginx, oxigraph, the control plane) listens on loopback,
# which the egress policy refuses by default: the suite allows it explicitly, for every app and
# every child process it starts. Attack tests that need the default build their own policy.
os.environ.setdefault("DATACAGE_EGRESS_ALLOW", "loopback")
# Pushed files in tests live under pytest's temporary folders.
os.environ.setdefault("DATACAGE_PUSH_FILE_ROOTS", tempfile.gettempdir())
# Every test signs in from 127.0.0.1, many times a minute: the suite's limits are high (still
# counted, so the hooks run); the rate-limit tests set their own.
os.environ.setdefault(
    "DATACAGE_RATE_LIMITS",
    "signin=100000/60 join=100000/60 invitations=100000/60 api-write=100000/60 "
    "audit-query=100000/60",
)

# --- Community Solid Server test bed -----------------------------------------------------------

#: How long a test bed CSS may take to answer: ~5 s alone, a minute beside other suites on two
#: busy cores. Below the per-test timeout (pyproject.toml), which counts fixture set-up too.
CSS_START_SECONDS = 110

#: Start-up time and per-account creation times, reported at the end of the run.
_CSS_TIMINGS = pytest.StashKey[dict[str, list[float]]]()


def _timings(config: pytest.Config) -> dict[str, list[float]]:
    return config.stash.setdefault(_CSS_TIMINGS, {"startup": [], "account": []})


@pytest.fixture(scope="session")
def css(pytestconfig: pytest.Config) -> Iterator[CommunitySolidServer]:
    """One CSS for the session on a free loopback port, with a throw-away data folder.

    It is stopped even when tests fail; if pytest itself is killed, the
    kernel's parent-death signal stops node (see `connectors.solid.css.process`).
    """
    server = CommunitySolidServer()
    server.start(timeout=CSS_START_SECONDS)
    try:
        _timings(pytestconfig)["startup"].append(server.startup_seconds or 0.0)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def css_accounts(css: CommunitySolidServer) -> Iterator[CssAccountApi]:
    """The account API of the session's CSS (one kept-alive HTTP session)."""
    with CssAccountApi(css.base_url) as api:
        yield api


@pytest.fixture
def make_account(
    css_accounts: CssAccountApi, pytestconfig: pytest.Config
) -> Callable[..., PodAccount]:
    """Factory: `make_account("alice")` creates a new account with its own pod and WebID.

    Pod names are `<label>-<10 hex>`, so tests never share a pod even within one session; the
    password is random and kept on the returned `PodAccount` (never in its repr).
    """

    def make(label: str = "user") -> PodAccount:
        name = f"{_pod_label(label)}-{uuid.uuid4().hex[:10]}"
        began = time.monotonic()
        account = css_accounts.create_account(
            email=f"{name}@example.org", password=secrets.token_urlsafe(18), pod_name=name
        )
        _timings(pytestconfig)["account"].append(time.monotonic() - began)
        return account

    return make


@pytest.fixture
def make_client_credentials(css_accounts: CssAccountApi) -> Callable[..., ClientCredentials]:
    """Factory: `make_client_credentials(account, name="datacage")` issues client credentials
    (id + secret) for the account's WebID, for scripts that log in without a browser."""
    return css_accounts.create_client_credentials


def _pod_label(label: str) -> str:
    # CSS would silently rewrite other characters; doing it here keeps pod names predictable.
    return re.sub(r"[^a-z0-9-]+", "-", label.lower()).strip("-") or "user"


# --- Hooks ---------------------------------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the CSS test bed, however indirectly, with `css`."""
    for item in items:
        # `fixturenames` is the full closure, so fixtures built on `css` count too.
        if {"css", "css_acp", "counted_pod_servers"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.css)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    timings = config.stash.get(_CSS_TIMINGS, None)
    if not timings or not timings["startup"]:
        return
    line = f"CSS test bed started in {timings['startup'][0]:.2f} s"
    if timings["account"]:
        count = len(timings["account"])
        mean = sum(timings["account"]) / count
        line += f"; {count} account{'s' * (count != 1)} with a pod, {mean:.2f} s each on average"
    terminalreporter.write_line(line)


# --- Solid identities ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SolidUser:
    """A person with a pod, logged in with client credentials (DPoP-bound tokens)."""

    account: PodAccount
    credentials: ClientCredentials
    session: SolidSession
    client: SolidClient

    @property
    def webid(self) -> str:
        return self.account.webid

    @property
    def pod(self) -> str:
        return self.account.pod_url


@pytest.fixture
def make_user(
    make_account: Callable[..., PodAccount],
    make_client_credentials: Callable[..., ClientCredentials],
) -> Callable[..., SolidUser]:
    """Factory: `make_user("alice")` gives a fresh account, pod, and a logged-in `SolidClient`."""

    def make(label: str = "user") -> SolidUser:
        account = make_account(label)
        credentials = make_client_credentials(account)
        session = SolidSession.from_client_credentials(
            credentials.issuer, credentials.id, credentials.secret
        )
        return SolidUser(account, credentials, session, SolidClient(session))

    return make


# --- Access Control Policies test bed ------------------------------------------------------------
# A second CSS that protects pods with Access Control Policies (ACP, `.acr` documents) instead of
# WAC. It starts only when a test asks for it. The factories are the WAC test bed's own, bound to
# this server's account API (a fixture keeps its plain function as `__wrapped__`), so the two
# kinds of pod are made the same way.


@pytest.fixture(scope="session")
def css_acp() -> Iterator[CommunitySolidServer]:
    """One ACP-configured CSS for the session, stopped like `css` even when tests fail."""
    server = CommunitySolidServer(config="@css:config/file-acp.json")
    server.start(timeout=CSS_START_SECONDS)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def css_acp_accounts(css_acp: CommunitySolidServer) -> Iterator[CssAccountApi]:
    """The account API of the ACP server."""
    with CssAccountApi(css_acp.base_url) as api:
        yield api


@pytest.fixture
def make_acp_account(
    css_acp_accounts: CssAccountApi, pytestconfig: pytest.Config
) -> Callable[..., PodAccount]:
    """Factory: `make_acp_account("alice")`, as `make_account` but with a pod on the ACP server."""
    return make_account.__wrapped__(css_acp_accounts, pytestconfig)


@pytest.fixture
def make_acp_user(
    make_acp_account: Callable[..., PodAccount], css_acp_accounts: CssAccountApi
) -> Callable[..., SolidUser]:
    """Factory: `make_acp_user("alice")`, as `make_user` but logged in on the ACP server."""
    return make_user.__wrapped__(make_acp_account, css_acp_accounts.create_client_credentials)


# --- Object storage emulators (push connectors) ------------------------------------------------
# moto's S3 server and Azurite, started on first use, once per session (tests/support/emulators.py).
from tests.support.emulators import azurite, moto_s3, moto_s3_strict  # noqa: E402, F401

# --- Virtuoso (a registry back end) ------------------------------------------------------------
# A real virtuoso-t, started on first use (~10-20 s: it creates its database), once per session.
from tests.support.virtuoso import virtuoso  # noqa: E402, F401

# --- Pod servers that count the requests in flight ----------------------------------------------
# Two more CSS, each counting at the server the requests a client has in flight
# (tests/support/inflight.cjs): the pull's per-server bound is checked where it matters. They
# start only when a test asks for them.


@pytest.fixture(scope="session")
def counted_pod_servers() -> Iterator[tuple[CommunitySolidServer, CommunitySolidServer]]:
    from tests.support.pod_load import counted_server

    first, second = counted_server(), counted_server()
    try:
        # A generous start: these two start beside the session's CSS on a busy machine.
        first.start(timeout=240)
        second.start(timeout=240)
        yield first, second
    finally:
        second.stop()
        first.stop()
