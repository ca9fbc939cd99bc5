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
The addresses are `policy.py`'s job, the connections `transport.py`'s.
Connections are not kept alive across requests: each has its own pinned address and deadline.
"""

from .policy import (
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_MAX_RESPONSE_BYTES,
    METADATA,
    NAMED_RANGES,
    UNREACHABLE,
    EgressError,
    EgressPolicy,
    default_policy,
    hosts_addresses,
    parse_allow,
)
from .transport import EgressAdapter

__all__ = [
    "DEFAULT_DEADLINE_SECONDS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "METADATA",
    "NAMED_RANGES",
    "UNREACHABLE",
    "EgressAdapter",
    "EgressError",
    "EgressPolicy",
    "default_policy",
    "hosts_addresses",
    "parse_allow",
]
