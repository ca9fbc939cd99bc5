"""The egress transport's TLS context: a CA bundle is parsed once, and sharing it weakens nothing.

Every request through the egress policy has a connection of its own; parsing the CA bundle for
each one was most of the control plane's CPU time when a thousand people answered consent pages.
These tests hold the sharing to the checks it must keep: a name, a CA, a rewritten bundle, and a
client certificate that must never land in a shared context.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
import requests

from connectors.egress import EgressPolicy, parse_allow
from connectors.egress.transport import verifying_context
from server.demo.certificates import make_local_ca
from tests.support.listener import answer, listening

POLICY = EgressPolicy(allow=parse_allow("loopback"), resolver=lambda host, port: ["127.0.0.1"])


def _server_context(folder: Path) -> tuple[Path, ssl.SSLContext]:
    folder.mkdir()
    ca, cert, key = make_local_ca(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return ca, context


def _counting_loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    loads: list[object] = []
    original = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loads.append(args or kwargs)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    return loads


def test_a_bundle_is_parsed_once_for_many_connections(tmp_path, monkeypatch):
    ca, context = _server_context(tmp_path / "a")
    loads = _counting_loads(monkeypatch)
    with listening(answer(b"over tls"), tls=context) as listener:
        session = POLICY.session()
        for _ in range(5):
            got = session.get(f"https://localhost:{listener.port}/", verify=str(ca), timeout=5)
            assert got.content == b"over tls"
    assert len(loads) == 1


def test_a_shared_context_still_refuses_another_ca_and_another_name(tmp_path):
    trusted, good = _server_context(tmp_path / "trusted")
    _, stranger = _server_context(tmp_path / "stranger")
    session = EgressPolicy(
        allow=parse_allow("loopback"),
        resolver=lambda host, port: ["127.0.0.1"],
    ).session()
    with listening(answer(b"ok"), tls=good) as ours, listening(answer(b"no"), tls=stranger) as odd:
        url = f"https://localhost:{ours.port}/"
        assert session.get(url, verify=str(trusted), timeout=5).content == b"ok"
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://localhost:{odd.port}/", verify=str(trusted), timeout=5)
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://other.test:{ours.port}/", verify=str(trusted), timeout=5)
        assert session.get(url, verify=str(trusted), timeout=5).content == b"ok"


def test_a_rewritten_bundle_is_read_afresh(tmp_path):
    first, first_server = _server_context(tmp_path / "first")
    second, second_server = _server_context(tmp_path / "second")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(first.read_bytes())
    session = POLICY.session()
    with listening(answer(b"first"), tls=first_server) as one:
        assert session.get(f"https://localhost:{one.port}/", verify=str(bundle)).ok
        bundle.write_bytes(second.read_bytes() + b"\n")  # another CA, in the same file
        os.utime(bundle, ns=(1, 1))
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://localhost:{one.port}/", verify=str(bundle), timeout=5)
    with listening(answer(b"second"), tls=second_server) as two:
        got = session.get(f"https://localhost:{two.port}/", verify=str(bundle), timeout=5)
        assert got.content == b"second"


def test_no_shared_context_for_client_certificates_or_unverified_requests(tmp_path):
    ca, _ = _server_context(tmp_path / "ca")
    assert verifying_context(str(ca), None) is verifying_context(str(ca), None)
    assert verifying_context(str(ca), ("client.pem", "client.key")) is None
    assert verifying_context(False, None) is None
    assert verifying_context(str(tmp_path / "missing.pem"), None) is None
