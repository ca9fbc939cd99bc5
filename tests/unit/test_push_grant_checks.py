"""Push registrations under attack: grants that name what the provider does not own."""

from __future__ import annotations

import pytest

from connectors import registry
from connectors.base import ConnectorError
from connectors.solid.http import Http
from connectors.solid_push import within_own_storage
from server.errors import ValidationFailed
from server.push.grants import check_grant

ALICE = "https://pod.example/alice/profile/card#me"
STORAGES = ("https://pod.example/alice/",)


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
    ("url", "storages", "inside"),
    [
        ("https://pod.example/alice/data/x", STORAGES, True),
        ("https://pod.example/bob/data/x", STORAGES, False),  # another person's pod
        # A profile may claim any storage; one that does not hold the profile is not theirs.
        ("https://pod.example/bob/data/x", ("https://pod.example/bob/",), False),
        ("https://pod.example/alice/../bob/x", STORAGES, False),
        ("https://pod.example/alice/%2e%2e/bob/x", STORAGES, False),
        ("https://pod.example/alice/%2E%2E/bob/x", STORAGES, False),
        ("https://pod.example/alice", STORAGES, False),
        ("https://pod.example/alice/", STORAGES, False),  # the storage itself is no dataset
        ("https://pod.example.evil/alice/x", ("https://pod.example",), False),
        ("file:///etc/passwd", STORAGES, False),
    ],
)
def test_a_pod_dataset_must_be_in_the_providers_own_pod(url, storages, inside):
    assert within_own_storage(url, ALICE, storages) is inside
