"""One egress policy for every outbound request: which addresses, how long, how much.

A WebID, an issuer, a JWKS URL, a pod or an inbox is a URL a visitor can choose. Without a
policy the server fetches whatever it is told to, including its own loopback, the private
network behind it and the cloud metadata address (server-side request forgery). The policy:

- resolves the host name once, refuses the request unless every address is a public one (or
  allow-listed), and connects to that very address, so a second DNS answer cannot move the
  connection somewhere else between the check and the connect (DNS rebinding);
- applies the same check to every redirect hop (each hop is a new request through it);
- gives each request a total deadline (a server trickling one byte a second is cut when it
  passes, not only when one read is slow) and a cap on the bytes received;
- fails with one message whatever went wrong (refused by policy, closed port, timeout), so its
  errors cannot be used to map the network behind the server.

Mount it on a `requests.Session` (`EgressPolicy.mount`), or take a fresh one (`.session()`).
Connections are not kept alive across requests: each has its own pinned address and deadline.
"""

from __future__ import annotations

import io
import ipaddress
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: What `allow` words stand for in configuration.
NAMED_RANGES: dict[str, tuple[str, ...]] = {
    "loopback": ("127.0.0.0/8", "::1/128"),
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),
    "link-local": ("169.254.0.0/16", "fe80::/10"),
    "cgnat": ("100.64.0.0/10",),
}
#: Cloud metadata services: refused even inside an allowed range unless named on their own.
METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
#: The one message for every failure, so no failure tells an open port from a closed one.
UNREACHABLE = "could not be reached"

DEFAULT_DEADLINE_SECONDS = 30.0
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class EgressError(requests.exceptions.ConnectionError):
    """The request was not carried out; deliberately says nothing of why (see `UNREACHABLE`)."""


def default_policy(
    environ: Mapping[str, str] | None = None,
    *,
    deadline_seconds: float | None = None,
    max_response_bytes: int | None = None,
) -> EgressPolicy:
    """The policy this process's environment sets (`DATACAGE_EGRESS_*`, docs/configuration.md),
    for a caller not handed one: a datacage, a connector reading a grant.

    Limits given here win over the environment's: a datacage pulling a dataset of gigabytes
    needs other limits than a control plane reading a profile, from the same allow-list.
    """
    env = os.environ if environ is None else environ
    if deadline_seconds is None:
        deadline_seconds = float(env.get("DATACAGE_EGRESS_DEADLINE_SECONDS") or 20)
    if max_response_bytes is None:
        max_response_bytes = int(env.get("DATACAGE_EGRESS_MAX_RESPONSE_MIB") or 64) << 20
    return EgressPolicy.from_settings(
        env.get("DATACAGE_EGRESS_ALLOW", ""),
        deadline_seconds=deadline_seconds,
        max_response_bytes=max_response_bytes,
    )


def hosts_addresses(urls: Iterable[str]) -> list[str]:
    """The addresses the hosts of `urls` resolve to now, as /32 or /128 entries for `allowing`:
    for services the operator configured (a control plane on a private network)."""
    found: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        if not parts.hostname:
            continue
        try:
            found += _resolve(parts.hostname, parts.port or 443)
        except OSError:
            continue  # unreachable now: connecting will say so
    return found


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def parse_allow(text: str | Iterable[str]) -> tuple[IpNetwork, ...]:
    """Networks from words (`loopback`, `private`, ...) and addresses or CIDR blocks.

    Raises ValueError naming the entry that is neither.
    """
    words = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    networks: list[IpNetwork] = []
    for word in words:
        for entry in NAMED_RANGES.get(word.lower(), (word,)):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"{word!r} is not an address, a CIDR block or one of {', '.join(NAMED_RANGES)}."
                ) from None
    return tuple(networks)


def _embedded_ipv4(address: IpAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """Where outbound requests may go, and for how long and how much."""

    allow: tuple[IpNetwork, ...] = ()
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    resolver: Callable[[str, int], list[str]] = field(default=_resolve, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    @classmethod
    def from_settings(
        cls,
        allow: str = "",
        *,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> EgressPolicy:
        return cls(parse_allow(allow), float(deadline_seconds), int(max_response_bytes))

    def allowing(self, networks: Iterable[str]) -> EgressPolicy:
        """This policy with more allowed addresses (e.g. an operator-configured service)."""
        return replace(self, allow=self.allow + parse_allow(list(networks)))

    def permits(self, address: str) -> bool:
        """Whether `address` (an IP literal) may be connected to."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if ip in METADATA:
            return any(net.num_addresses == 1 and ip in net for net in self.allow)
        if any(ip in net for net in self.allow):
            return True
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return self.permits(str(embedded))
        return ip.is_global and not ip.is_multicast

    def pin(self, host: str, port: int) -> str:
        """The one address to connect to for `host`; raise `EgressError` unless all are allowed.

        All, not any: a name that also resolves to a private address is refused outright, so
        a round-robin answer cannot be used to reach the inside by retrying.
        """
        try:
            addresses = self.resolver(host, port)
        except (OSError, UnicodeError):
            raise EgressError(UNREACHABLE) from None
        if not addresses or not all(self.permits(a) for a in addresses):
            raise EgressError(UNREACHABLE)
        return addresses[0]

    def mount(self, session: requests.Session) -> requests.Session:
        adapter = EgressAdapter(self)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def session(self) -> requests.Session:
        return self.mount(requests.Session())


class _Budget:
    """What one request may still spend: seconds until its deadline, and bytes."""

    def __init__(self, policy: EgressPolicy):
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

    def __init__(self, policy: EgressPolicy):
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
            )
        return _HTTPPool(address, port, maxsize=1, retries=False, egress_budget=budget)

    def request_url(self, request: requests.PreparedRequest, proxies: Any) -> str:
        return request.path_url


def _capped(timeout: Any, limit: float) -> Any:
    """Each of (connect, read) no longer than the whole deadline."""
    if timeout is None:
        return (limit, limit)
    if isinstance(timeout, tuple):
        return tuple(limit if t is None else min(float(t), limit) for t in timeout)
    if isinstance(timeout, (int, float)):
        return min(float(timeout), limit)
    return timeout
