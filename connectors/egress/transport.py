"""The transport that applies an `EgressPolicy`: a requests adapter over pinned connections.

Each request gets a connection of its own to the address the policy checked (the name kept
for the Host header, SNI and the certificate check), a socket whose every read is bounded by
the request's total deadline and byte cap, and errors that name no address.
"""

from __future__ import annotations

import io
import os
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import DEFAULT_CA_BUNDLE_PATH, HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.ssl_ import create_urllib3_context

from .errors import UNREACHABLE, EgressError


class PinningPolicy(Protocol):
    """What the transport needs of the policy (`policy.EgressPolicy`): the address to connect
    to, the deadline and the byte cap. A protocol, so the policy and its transport do not
    import each other."""

    deadline_seconds: float
    max_response_bytes: int
    clock: Callable[[], float]

    def pin(self, host: str, port: int) -> str: ...


class _Budget:
    """What one request may still spend: seconds until its deadline, and bytes."""

    def __init__(self, policy: PinningPolicy):
        self.clock = policy.clock
        self.deadline = policy.clock() + policy.deadline_seconds
        self.bytes_left = policy.max_response_bytes

    def seconds_left(self) -> float:
        left = self.deadline - self.clock()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left


class _BudgetSocket:
    """A connected socket whose every read is bounded by the request's deadline and byte cap.

    Wraps the socket after connect (after TLS too), so http.client reads the response, headers
    included, through it: a per-read timeout alone never cuts a server that trickles.
    """

    def __init__(self, sock: socket.socket, budget: _Budget):
        self._sock = sock
        self._budget = budget
        self._timeout: float | None = sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        self._timeout = value

    def gettimeout(self) -> float | None:
        return self._timeout

    def _arm(self) -> None:
        left = self._budget.seconds_left()
        self._sock.settimeout(left if self._timeout is None else min(left, self._timeout))

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._arm()
        count = self._sock.recv_into(buffer, nbytes, flags)
        self._budget.bytes_left -= count
        if self._budget.bytes_left < 0:
            raise OSError("the answer is larger than the egress policy allows")
        return count

    def recv(self, size: int, flags: int = 0) -> bytes:
        buffer = bytearray(size)
        count = self.recv_into(buffer, size, flags)
        return bytes(buffer[:count])

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._arm()
        self._sock.sendall(data, flags)

    def makefile(self, mode: str = "r", buffering: int | None = None, **_: Any) -> Any:
        # As socket.makefile does: the file counts as a user of the socket, so that
        # http.client closing the connection (`Connection: close`) leaves the body readable.
        self._sock._io_refs += 1  # type: ignore[attr-defined]
        raw = socket.SocketIO(self, "rb" if "b" in mode else mode)  # type: ignore[arg-type]
        return io.BufferedReader(raw, buffering or io.DEFAULT_BUFFER_SIZE)

    def _decref_socketios(self) -> None:
        self._sock._decref_socketios()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _PinnedHTTPConnection(HTTPConnection):
    def __init__(self, *args: Any, egress_budget: _Budget, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._egress_budget = egress_budget

    def connect(self) -> None:
        super().connect()
        self.sock = _BudgetSocket(self.sock, self._egress_budget)  # type: ignore[assignment]


class _PinnedHTTPSConnection(HTTPSConnection):
    def __init__(self, *args: Any, egress_budget: _Budget, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._egress_budget = egress_budget

    def connect(self) -> None:
        super().connect()
        self.sock = _BudgetSocket(self.sock, self._egress_budget)  # type: ignore[assignment]


class _OneShot:
    """A pool for one request: named neutrally in errors, its connection closed once released."""

    def __str__(self) -> str:
        return "upstream"

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.close()


class _HTTPPool(_OneShot, HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _HTTPSPool(_OneShot, HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class EgressAdapter(HTTPAdapter):
    """The transport adapter that applies an `EgressPolicy` to every request it sends."""

    def __init__(self, policy: PinningPolicy):
        super().__init__(max_retries=0)
        self.policy = policy

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise requests.exceptions.InvalidURL(f"{request.url!r} is not an http(s) URL.")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = self.policy.pin(parts.hostname, port)
        budget = _Budget(self.policy)
        pinned = request.copy()  # a redirect copies the request: our Host must not follow it
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        pinned.headers["Host"] = host if parts.port is None else f"{host}:{parts.port}"
        pinned._egress = (parts.scheme, parts.hostname, address, port, budget)  # type: ignore[attr-defined]
        kwargs["proxies"] = {}  # a proxy would connect somewhere we did not check
        kwargs["timeout"] = _capped(kwargs.get("timeout"), self.policy.deadline_seconds)
        try:
            response = super().send(pinned, **kwargs)
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
        ) as exc:
            if isinstance(exc, requests.exceptions.SSLError):
                raise  # a certificate problem is about the named host, not the network
            raise EgressError(UNREACHABLE, request=request) from None
        response.request = request
        return response

    def get_connection_with_tls_context(  # type: ignore[override]
        self, request: requests.PreparedRequest, verify: Any, proxies: Any = None, cert: Any = None
    ) -> HTTPConnectionPool:
        scheme, hostname, address, port, budget = request._egress  # type: ignore[attr-defined]
        if scheme == "https":
            return _HTTPSPool(
                address,
                port,
                maxsize=1,
                retries=False,
                server_hostname=hostname,
                assert_hostname=hostname,
                egress_budget=budget,
                ssl_context=verifying_context(verify, cert),
            )
        return _HTTPPool(address, port, maxsize=1, retries=False, egress_budget=budget)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if conn.conn_kw.get("ssl_context") is not None:
            # The context already trusts the bundle: naming it again would load it again.
            conn.ca_certs = conn.ca_cert_dir = None

    def request_url(self, request: requests.PreparedRequest, proxies: Any) -> str:
        return request.path_url


_CONTEXTS: dict[tuple[str, int, int], ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()
_MAX_CONTEXTS = 8


def verifying_context(verify: Any, cert: Any) -> ssl.SSLContext | None:
    """A TLS context trusting the CA bundle `verify` names, loaded once per bundle version.

    Each request has a connection of its own, and urllib3 would otherwise parse the whole
    bundle (the system's hundred-odd CAs) for every one: under load that was most of the
    control plane's CPU. None (urllib3's own per-connection context, as before) for an
    unverified request, and for a client certificate, which urllib3 loads into the context it
    is given, so a shared one would lend it to every other request.
    """
    if cert or not verify:
        return None
    location = DEFAULT_CA_BUNDLE_PATH if verify is True else str(verify)
    try:
        found = os.stat(location)
    except OSError:
        return None  # requests names the missing bundle in its own error
    key = (location, found.st_mtime_ns, found.st_size)  # a rewritten bundle is read afresh
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(key)
        if context is None:
            context = create_urllib3_context()
            if os.path.isdir(location):
                context.load_verify_locations(capath=location)
            else:
                context.load_verify_locations(cafile=location)
            if len(_CONTEXTS) >= _MAX_CONTEXTS:
                _CONTEXTS.clear()
            _CONTEXTS[key] = context
    return context


def _capped(timeout: Any, limit: float) -> Any:
    """Each of (connect, read) no longer than the whole deadline."""
    if timeout is None:
        return (limit, limit)
    if isinstance(timeout, tuple):
        return tuple(limit if t is None else min(float(t), limit) for t in timeout)
    if isinstance(timeout, (int, float)):
        return min(float(timeout), limit)
    return timeout
