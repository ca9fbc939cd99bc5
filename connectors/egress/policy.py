"""The egress policy: which addresses outbound requests may reach, and with what limits.

Internal addresses (loopback, private, link-local, CGNAT, multicast, unspecified, and the IPv6
spellings that embed one) and the cloud metadata addresses are refused unless allow-listed.
The host name is resolved once here (`EgressPolicy.pin`); the transport (`transport.py`)
connects to the address this returns, never resolving again.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import requests

from .errors import UNREACHABLE, EgressError

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

DEFAULT_DEADLINE_SECONDS = 20.0
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


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
        deadline_seconds = float(
            env.get("DATACAGE_EGRESS_DEADLINE_SECONDS") or DEFAULT_DEADLINE_SECONDS
        )
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
        from .transport import EgressAdapter

        adapter = EgressAdapter(self)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def session(self) -> requests.Session:
        return self.mount(requests.Session())
