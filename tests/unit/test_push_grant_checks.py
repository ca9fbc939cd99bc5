"""Push registrations under attack: grants that name what the provider does not own."""

from __future__ import annotations

import pytest

from connectors import registry
from connectors.base import ConnectorError
from connectors.egress import EgressPolicy
from connectors.solid.http import Http
from connectors.solid.resource import PIM_STORAGE_TYPE
from connectors.solid_push import check_in_own_pod, within_own_storage
from server.errors import ValidationFailed
from server.push.grants import check_grant
from tests.support.listener import Listener

ALICE = "https://pod.example/alice/profile/card#me"


@pytest.fixture
def roots(tmp_path, monkeypatch):
    share = tmp_path / "share"
    share.mkdir()
    monkeypatch.setenv("DATACAGE_PUSH_FILE_ROOTS", str(share))
    return share


def _open(path):
    with registry.get("file").open_grant({"path": str(path)}) as (stream, _):
        return stream.read()


def test_a_file_grant_outside_the_roots_is_refused(roots):
    with pytest.raises(ConnectorError, match="outside the folders"):
        _open("/etc/passwd")


def test_a_symlink_out_of_the_roots_is_refused(roots, tmp_path):
    secret = tmp_path / "secret.key"
    secret.write_text("key")
    (roots / "data.dcgpush").symlink_to(secret)
    with pytest.raises(ConnectorError, match="outside the folders"):
        _open(roots / "data.dcgpush")
    with pytest.raises(ConnectorError, match="outside the folders"):
        _open(f"{roots}/../secret.key")


def test_a_file_inside_the_roots_is_read(roots):
    (roots / "ok.dcgpush").write_bytes(b"envelope")
    assert _open(roots / "ok.dcgpush") == b"envelope"


def test_no_roots_configured_reads_no_file(roots, monkeypatch):
    monkeypatch.delenv("DATACAGE_PUSH_FILE_ROOTS")
    (roots / "ok.dcgpush").write_bytes(b"envelope")
    with pytest.raises(ConnectorError, match="no folder"):
        _open(roots / "ok.dcgpush")


@pytest.mark.parametrize(
    ("location", "grant"),
    [
        ("/share/a.dcgpush", {"path": "/etc/shadow"}),
        ("/share/a.dcgpush", {"path": "/share/a.dcgpush", "extra": "x"}),
        ("/share/../etc/shadow", {"path": "/share/../etc/shadow"}),
        ("relative.dcgpush", {"path": "relative.dcgpush"}),
    ],
)
def test_a_file_grant_must_be_the_registered_path(location, grant):
    with pytest.raises(ValidationFailed):
        check_grant("file", location, grant, provider=ALICE, datacage_webid="", http=Http())


def test_a_pod_grant_for_another_identity_or_url_is_refused():
    for grant in (
        {"url": "https://pod.example/bob/x", "webid": "https://cage/#me"},
        {"url": "https://pod.example/alice/x", "webid": "https://someone-else/#me"},
    ):
        with pytest.raises(ValidationFailed):
            check_grant(
                "solid",
                "https://pod.example/alice/x",
                grant,
                provider=ALICE,
                datacage_webid="https://cage/#me",
                http=Http(),
            )


@pytest.mark.parametrize(
    ("url", "inside"),
    [
        ("https://pod.example/alice/data/x", True),
        ("https://pod.example/bob/data/x", False),  # another person's pod
        ("https://pod.example/alice/../bob/x", False),
        ("https://pod.example/alice/%2e%2e/bob/x", False),
        ("https://pod.example/alice/%2E%2E/bob/x", False),
        ("https://pod.example/alice", False),
        ("https://pod.example/alice/", False),  # the storage itself is no dataset
        ("https://pod.example.evil/alice/x", False),
        ("file:///etc/passwd", False),
    ],
)
def test_a_pod_dataset_must_be_inside_the_storage(url, inside):
    assert within_own_storage(url, "https://pod.example/alice/") is inside


def _pod_server(storages: list[str]):
    """A pod server that declares the containers `storages` to be storages (Solid Protocol
    4.1: a `pim:Storage` type link) and every other container not."""
    server: list[Listener] = []

    def handler(conn):
        path = server[0].requests[-1].split(b" ")[1].decode()
        link = f'Link: <{PIM_STORAGE_TYPE}>; rel="type"\r\n' if path in storages else ""
        conn.sendall(
            f"HTTP/1.1 200 OK\r\n{link}Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )

    listener = Listener(handler)
    server.append(listener)
    return listener


@pytest.mark.parametrize(
    ("path", "inside"),
    [
        ("/alice/data/customers.dcgpush", True),
        ("/bob/private/records.ttl", False),  # the datacage may read it: bob consented
        ("/alice/%2e%2e/bob/private/records.ttl", False),
    ],
)
def test_a_pod_dataset_must_be_in_the_pod_holding_the_providers_profile(path, inside):
    with _pod_server(["/alice/", "/bob/"]) as pod:
        http = Http(session=EgressPolicy.from_settings("loopback").session())
        webid = f"{pod.url}alice/profile/card#me"
        if inside:
            check_in_own_pod(http, webid, pod.url.rstrip("/") + path)
        else:
            with pytest.raises(ConnectorError, match="not"):
                check_in_own_pod(http, webid, pod.url.rstrip("/") + path)


def test_a_profile_outside_any_storage_owns_no_pod():
    with _pod_server([]) as pod:
        http = Http(session=EgressPolicy.from_settings("loopback").session())
        with pytest.raises(ConnectorError, match="No pod server declares"):
            check_in_own_pod(http, f"{pod.url}alice/profile/card#me", f"{pod.url}alice/x")
