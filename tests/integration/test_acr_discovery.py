"""Finding an ACR through the resource's description (`acp:accessControlResource`).

Community Solid Server always sends `Link rel="acl"`, so this runs against a small real HTTP
server on 127.0.0.1 that, like a pod which only describes its ACRs, sends none: the resource
links its description (`rel="describedby"`), and the description names the ACR with
`acp:accessControlResource` (ACP: the inverse of `acp:resource`, which MUST be honoured).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.solid import AccessMode, SolidClient, errors
from connectors.solid.access import AccessControlPolicies

BOB = "https://bob.example/profile#me"
TURTLE = "text/turtle"
STORAGE = '<http://www.w3.org/ns/pim/space#Storage>; rel="type"'


class _Pod(ThreadingHTTPServer):
    daemon_threads = True
    documents: dict[str, tuple[dict[str, str], bytes]]


class _Handler(BaseHTTPRequestHandler):
    server: _Pod

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def _answer(self, with_body: bool) -> None:
        found = self.server.documents.get(self.path)
        if found is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers, body = found
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def pod() -> Iterator[_Pod]:
    server = _Pod(("127.0.0.1", 0), _Handler)
    server.documents = {}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _base(pod: _Pod) -> str:
    return f"http://127.0.0.1:{pod.server_address[1]}"


def _publish(pod: _Pod, path: str, body: str = "", links: str = "") -> None:
    headers = {"Content-Type": TURTLE}
    if links:
        headers["Link"] = links
    pod.documents[path] = (headers, body.encode())


def test_an_acr_named_only_in_the_description_is_found_and_read(pod):
    base = _base(pod)
    _publish(pod, "/", links=STORAGE)
    _publish(pod, "/notes.ttl", "<#it> a <#Note>.", links='</notes.meta>; rel="describedby"')
    _publish(
        pod,
        "/notes.meta",
        f"<{base}/notes.ttl> <http://www.w3.org/ns/solid/acp#accessControlResource> "
        f"<{base}/notes.acr#root> .",
    )
    _publish(
        pod,
        "/notes.acr",
        f"""@prefix acp: <http://www.w3.org/ns/solid/acp#> .
        @prefix acl: <http://www.w3.org/ns/auth/acl#> .
        <#root> acp:resource <{base}/notes.ttl>; acp:accessControl <#c>.
        <#c> acp:apply [ acp:allow acl:Read; acp:allOf [ acp:agent <{BOB}> ] ].""",
    )
    access = SolidClient().access_control(base + "/notes.ttl")
    assert isinstance(access, AccessControlPolicies)
    assert access.acr_url == base + "/notes.acr"
    assert access.agent_modes(BOB) == {AccessMode.READ}


def test_a_resource_that_names_no_acr_anywhere_is_reported_in_words(pod):
    base = _base(pod)
    _publish(pod, "/", links=STORAGE)
    _publish(pod, "/plain.ttl", "<#it> a <#Note>.", links='</plain.meta>; rel="describedby"')
    _publish(pod, "/plain.meta", "<#x> a <#Description>.")
    with pytest.raises(errors.UnsupportedAccessControl, match="acp:accessControlResource"):
        SolidClient().access_control(base + "/plain.ttl")
