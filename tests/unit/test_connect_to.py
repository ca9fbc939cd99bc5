"""`ConnectTo`: the URL, Host and TLS name stay the public ones; only the connection moves."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connectors.solid.connect_to import ConnectTo, mount_routes, parse_route
from connectors.solid.css.process import free_loopback_port
from server.demo.certificates import make_local_ca


@Request.application
def echo_host(request: Request) -> Response:
    return Response(f"{request.host} {request.path}")


@contextmanager
def tls_server(folder) -> Iterator[tuple[int, str]]:
    ca, cert, key = make_local_ca(folder)
    server = make_server("127.0.0.1", 0, echo_host, ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port, str(ca)
    finally:
        server.shutdown()
        server.server_close()


def test_a_routed_origin_reaches_the_other_address_under_its_public_name(tmp_path):
    public_port = free_loopback_port()  # nothing listens there
    with tls_server(tmp_path) as (port, ca):
        session = requests.Session()
        session.trust_env = False
        session.mount(
            "https://", ConnectTo({f"https://localhost:{public_port}": ("127.0.0.1", port)})
        )
        answer = session.get(f"https://localhost:{public_port}/pod/x.ttl", verify=ca, timeout=5)
    assert answer.status_code == 200
    assert answer.text == f"localhost:{public_port} /pod/x.ttl"
    assert answer.url == f"https://localhost:{public_port}/pod/x.ttl"


def test_the_server_certificate_is_still_checked_against_the_public_name(tmp_path):
    with tls_server(tmp_path) as (port, ca):
        session = requests.Session()
        session.trust_env = False
        # The certificate names localhost; the public name here is another one.
        session.mount("https://", ConnectTo({"https://pods.example": ("127.0.0.1", port)}))
        with pytest.raises(requests.exceptions.SSLError):
            session.get("https://pods.example/pod/x.ttl", verify=ca, timeout=5)


def test_other_origins_are_not_routed(tmp_path):
    with tls_server(tmp_path) as (port, ca):
        session = requests.Session()
        session.trust_env = False
        session.mount("https://", ConnectTo({"https://pods.example": ("127.0.0.1", 9)}))
        answer = session.get(f"https://localhost:{port}/a", verify=ca, timeout=5)
    assert answer.text == f"localhost:{port} /a"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("https://pods.example", "ORIGIN=HOST:PORT"),
        ("http://pods.example=127.0.0.1:8444", "https origin"),
        ("https://pods.example=127.0.0.1", "ORIGIN=HOST:PORT"),
        ("https://pods.example/pod/=127.0.0.1:8444", "not an origin"),
        ("https://pods.example=127.0.0.1:port", "ORIGIN=HOST:PORT"),
    ],
)
def test_a_route_that_is_not_origin_equals_address_is_refused_in_words(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_route(text)


def test_mounted_routes_leave_every_other_url_to_the_sessions_own_adapters(tmp_path):
    class Refuse(requests.adapters.HTTPAdapter):
        def send(self, request, **kwargs):
            raise requests.exceptions.ConnectionError("not routed: refused")

    public_port = 4431  # routed: nothing needs to listen there
    with tls_server(tmp_path) as (port, ca):
        session = requests.Session()
        session.trust_env = False
        session.mount("https://", Refuse())  # stands in for an egress policy's adapter
        mount_routes(session, {f"https://localhost:{public_port}": ("127.0.0.1", port)})
        routed = session.get(f"https://localhost:{public_port}/a", verify=ca, timeout=5)
        with pytest.raises(requests.exceptions.ConnectionError, match="not routed"):
            session.get("https://localhost:44310/a", verify=ca, timeout=5)  # same prefix
        with pytest.raises(requests.exceptions.ConnectionError, match="not routed"):
            session.get(f"https://localhost:{port}/a", verify=ca, timeout=5)
    assert routed.text == f"localhost:{public_port} /a"


def test_a_route_names_the_origin_with_its_port():
    assert parse_route("https://Pods.Example=127.0.0.1:8444") == (
        "https://pods.example:443",
        ("127.0.0.1", 8444),
    )
