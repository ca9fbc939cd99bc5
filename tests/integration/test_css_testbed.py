"""The Community Solid Server test bed does what the rest of the suite relies on.

Every integration test builds on these facts: CSS stays on loopback, a new account comes with a
pod and a public WebID profile naming CSS as its issuer, client credentials can be issued, errors
arrive as `CssError` without secrets, and a stopped (or orphaned) server leaves no node behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests
from rdflib import Graph, Namespace, URIRef

from connectors.solid.css import CommunitySolidServer, CssAccountApi, CssError

SOLID = Namespace("http://www.w3.org/ns/solid/terms#")


def _process_gone(pid: int) -> bool:
    # A zombie still answers kill(pid, 0); only a missing or zombie /proc entry counts as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not _process_gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            return False
        # With no listener, a connect to a port in the ephemeral range can pick that very port
        # as its source and connect to itself (TCP simultaneous open): not a server.
        return sock.getsockname() != sock.getpeername()


@pytest.fixture
def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs `ss` (iproute2)")
def test_listens_on_loopback_only(css: CommunitySolidServer) -> None:
    listing = subprocess.run(
        ["ss", "-ltnH", f"sport = :{css.port}"], capture_output=True, text=True, check=True
    ).stdout
    addresses = {line.split()[3].rsplit(":", 1)[0] for line in listing.splitlines()}
    assert addresses == {"127.0.0.1"}


def test_fresh_account_has_pod_and_public_profile(
    make_account, css: CommunitySolidServer, http: requests.Session
) -> None:
    account = make_account("alice")

    assert account.pod_url.startswith(css.base_url)
    assert account.webid.startswith(account.pod_url)
    assert account.issuer == css.base_url
    profile = http.get(account.webid, headers={"Accept": "text/turtle"}, timeout=10)
    assert profile.status_code == 200
    graph = Graph().parse(data=profile.text, format="turtle", publicID=profile.url)
    assert (URIRef(account.webid), SOLID.oidcIssuer, URIRef(css.base_url)) in graph
    assert account.password not in repr(account)


def test_client_credentials_are_issued_and_secret_stays_out_of_repr(
    make_account, make_client_credentials
) -> None:
    account = make_account()

    credentials = make_client_credentials(account)

    assert credentials.id
    assert credentials.secret
    assert credentials.webid == account.webid
    assert credentials.secret not in repr(credentials)


def test_second_account_with_the_same_pod_name_is_refused(
    make_account, css_accounts: CssAccountApi
) -> None:
    first = make_account("dup")
    pod_name = first.pod_url.rstrip("/").rsplit("/", 1)[1]

    with pytest.raises(CssError, match="already is a resource") as failure:
        css_accounts.create_account(
            email=f"other-{pod_name}@example.org", password="not-in-messages", pod_name=pod_name
        )

    assert failure.value.status == 400
    assert pod_name in str(failure.value)
    assert "not-in-messages" not in str(failure.value)


def test_wrong_password_is_a_css_error_without_the_password(
    make_account, css_accounts: CssAccountApi
) -> None:
    account = make_account()

    with pytest.raises(CssError, match="HTTP 403") as failure:
        css_accounts.login(account.email, "wrong-password-xyz")

    assert "wrong-password-xyz" not in str(failure.value)


def test_unreachable_server_is_a_css_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = CssAccountApi(f"http://localhost:{port}/", timeout=2)

    with api, pytest.raises(CssError, match="create an account"):
        api.create_account(email="a@example.org", password="pw", pod_name="a")


@pytest.mark.css  # starts its own CSS, so it needs node like the fixture users
def test_stop_leaves_no_process_and_no_data_behind() -> None:
    server = CommunitySolidServer().start()
    pid, port, data_dir = server.pid, server.port, server.data_dir
    had_data = data_dir is not None and data_dir.is_dir()

    server.stop()
    server.stop()  # idempotent

    assert pid is not None
    assert data_dir is not None
    assert had_data
    assert _process_gone(pid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not _port_open(port)
    assert not data_dir.exists()


@pytest.mark.css
def test_node_dies_when_python_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from connectors.solid.css import CommunitySolidServer
        server = CommunitySolidServer().start()
        print(server.pid, server.port, flush=True)
        time.sleep(120)
        """
    )
    # A SIGKILLed parent cannot remove its temp folder: keep it inside pytest's tmp_path.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path, env=env
    )
    try:
        pid, port = map(int, parent.stdout.readline().split())
    finally:
        parent.send_signal(signal.SIGKILL)  # no atexit, no finally: only the kernel can help
        parent.wait()

    assert _wait_gone(pid), f"node {pid} outlived the Python process that started it"
    assert not _port_open(port)
