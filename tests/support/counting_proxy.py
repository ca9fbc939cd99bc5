"""A pass-through HTTP proxy in front of the test CSS that notes every request it forwards, so
a test can say what reached the pods (and what never did), not what a client meant to send.

The datacage reaches it through its `pod_routes` (`connectors.solid.connect_to`): the URLs,
`Host` header and DPoP `htu` stay the pod server's, only the connection comes here.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class CountingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, target: str):
        parts = urlsplit(target)
        self.target = (parts.hostname or "localhost", parts.port or 80)
        self.seen: list[tuple[str, str]] = []  # (method, path), in arrival order
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Forward)

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.server_address[1]

    def note(self, method: str, path: str) -> None:
        with self._lock:
            self.seen.append((method, path))

    def under(self, path_prefix: str) -> list[tuple[str, str]]:
        with self._lock:
            return [(m, p) for m, p in self.seen if p.startswith(path_prefix)]


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CountingProxy

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        self.server.note(self.command, self.path)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(*self.server.target, timeout=60)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_OPTIONS = _forward

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def counting_proxy(target: str) -> Iterator[CountingProxy]:
    """A proxy to `target` (http://host:port/) on a free loopback port, for the `with` block."""
    proxy = CountingProxy(target)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
