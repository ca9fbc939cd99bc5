"""Small local HTTP servers for attack tests: one that records whether anyone called, one
that trickles, one that answers too much, one that redirects.

Each runs in a thread on a free loopback port and is stopped when its `with` block ends.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Handler = Callable[[socket.socket], None]


class Listener:
    """A TCP listener on loopback (127.0.0.1, or another 127.x address) that counts
    connections and hands each to `handler`."""

    def __init__(
        self, handler: Handler, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
    ):
        self.handler = handler
        self.host = host
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []  # each request's line and headers, in arrival order
        self._server = socket.create_server((host, 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/"

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(10)
                if self.tls is not None:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                self.requests.append(_read_request(conn))
                self.handler(conn)
            except OSError:
                pass

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(2)


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def answer(body: bytes, content_type: str = "text/plain", status: str = "200 OK") -> Handler:
    def handler(conn: socket.socket) -> None:
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        conn.sendall(head.encode() + body)

    return handler


def trickle(seconds: float = 60.0) -> Handler:
    """An upstream that sends one byte a second (slow loris), for `seconds`."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            conn.sendall(b"x")
            time.sleep(1.0)

    return handler


def flood(size: int) -> Handler:
    """An upstream that answers `size` bytes without declaring a length."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        block = b"y" * 65536
        sent = 0
        while sent < size:
            conn.sendall(block)
            sent += len(block)

    return handler


def redirect(location: str) -> Handler:
    def handler(conn: socket.socket) -> None:
        conn.sendall(
            f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )

    return handler


@contextmanager
def listening(
    handler: Handler, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
) -> Iterator[Listener]:
    with Listener(handler, host, tls) as listener:
        yield listener


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]
