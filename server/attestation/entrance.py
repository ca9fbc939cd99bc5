"""Keeping a datacage to the attestation gateway: the ordinary entrance refuses its tokens.

A pod provider has two doors to the same pod server: the attestation gateway, where a
datacage's RA-TLS certificate is checked before each pull, and the ordinary entrance, for
people and the control plane, which asks for no client certificate. The pod server alone
cannot tell the doors apart: a datacage presenting its access token at the ordinary entrance
would read, without attestation, everything its WebID was granted. So the entrance's nginx asks
the admission app (`auth_request`) about each request that carries credentials, and the app
refuses one whose access token names a datacage's WebID unless it is a write (`WRITES`): a
datacage delivers results and notifications into consumers' pods through the entrance, which
reads nothing out. The identity provider and WebID documents, which the gateway passes without
attestation, the entrance passes without asking.

The app only *reads* the token (RFC 9068 JWT, the Solid-OIDC `webid` claim): it does not verify
it, the pod server does that. A forged token naming a datacage is refused here, and a forged
token naming anyone else is refused by the pod server; so reading without verifying never lets
in what verifying would have kept out. Every `Authorization` value is read, and every JWT in
it, whatever the scheme (`DPoP`, `Bearer`, any spelling): a request passes only if none names a
datacage. Its one read there is a pod's storage description (`/.well-known/solid`), which a
delivery looks up and which holds no pod data.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable

#: A compact JWS: three base64url parts (RFC 7515 section 7.1); the signature may be empty.
_JWT = re.compile(r"[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*")
#: nginx's large_client_header_buffers default is 8k per line; anything longer is not ours.
MAX_AUTHORIZATION = 16 * 1024
#: The claims that name the agent: Solid-OIDC's `webid`, and `sub` where an issuer puts it there.
_AGENT_CLAIMS = ("webid", "sub")
#: What a datacage may still send through the entrance: writes, which carry no pod data out and
#: which the pod's access control decides (delivering results, LDN notifications). Anything
#: else (GET, HEAD, OPTIONS, DELETE, an unknown or missing method) is refused.
WRITES = frozenset({"PUT", "POST", "PATCH"})


#: A pod's storage description (Solid Protocol §4.1.1: its storage and notification channels),
#: which a delivery reads to find where to write: no pod data. Matched on the raw request URI,
#: with segments that cannot be dot segments and no percent-encoding, query or fragment, so no
#: spelling of another resource resolves to it.
_STORAGE_DESCRIPTION = re.compile(r"/(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*/)*\.well-known/solid")
_DESCRIPTION_READS = frozenset({"GET", "HEAD"})


class UnreadableCredentials(ValueError):
    """An Authorization header too large to read: refused rather than passed unread."""


def is_write(method: str | None) -> bool:
    """Whether `method` (as nginx forwards it) is one a datacage may send through the entrance."""
    return method is not None and method.upper() in WRITES


def is_storage_description_read(method: str | None, uri: str | None) -> bool:
    """Whether a request only reads a pod's storage description (which a delivery needs)."""
    return (
        method is not None
        and method in _DESCRIPTION_READS
        and uri is not None
        and _STORAGE_DESCRIPTION.fullmatch(uri) is not None
    )


def webids_in_authorization(values: Iterable[str]) -> set[str]:
    """The agents (WebIDs) named by the access tokens in these `Authorization` values."""
    found: set[str] = set()
    for value in values:
        if len(value) > MAX_AUTHORIZATION:
            raise UnreadableCredentials("The Authorization header is too large to read.")
        for match in _JWT.finditer(value):
            claims = _payload(match.group(1))
            for claim in _AGENT_CLAIMS:
                named = claims.get(claim)
                if isinstance(named, str):
                    found.add(named)
    return found


def _payload(part: str) -> dict[str, object]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return {}  # not a JWT after all: nothing it says can name anyone to the pod server
    return decoded if isinstance(decoded, dict) else {}
