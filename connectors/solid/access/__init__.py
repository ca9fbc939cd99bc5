"""Access control on pods: one contract (`AccessControl`), chosen per resource.

`access_control_for` looks at what the pod advertises for the resource (`Link rel="acl"`, or,
without one, an `acp:accessControlResource` in the resource's description, `Link
rel="describedby"`: ACP's inverse of `acp:resource`) and returns the matching editor:
`WebAccessControl` for an ACL document (`wac`), or
`AccessControlPolicies` for an access control resource (`acp`, evaluated by `acp_rules`).
A resource that advertises no access-control resource raises `UnsupportedAccessControl`.
"""

from __future__ import annotations

from vocab import ACP

from .. import errors
from .acp import AccessControlPolicies
from .base import AccessControl, AccessMode
from .discovery import described_acr
from .pod import PodClient
from .wac import WebAccessControl

ACP_ACCESS_CONTROL_RESOURCE = str(ACP.AccessControlResource)

__all__ = [
    "AccessControl",
    "AccessControlPolicies",
    "AccessMode",
    "WebAccessControl",
    "access_control_for",
]


def access_control_for(client: PodClient, url: str) -> AccessControl:
    resource = client.head(url)
    acl_url = resource.acl_url
    described = (
        None if acl_url else described_acr(client, resource.url, resource.link("describedby"))
    )
    if acl_url is None and described is None:
        raise errors.UnsupportedAccessControl(
            f'{url} does not advertise an access-control resource (no Link rel="acl", and no '
            "acp:accessControlResource in its description).",
            url=url,
        )
    if described is not None or _is_acp(client, acl_url or ""):
        return AccessControlPolicies(
            client,
            resource.url,
            described or acl_url or "",
            is_container=resource.is_container,
            is_storage=resource.is_storage,
        )
    assert acl_url is not None
    return WebAccessControl(client, resource.url, acl_url, is_container=resource.is_container)


def _is_acp(client: PodClient, acl_url: str) -> bool:
    # Servers name ACRs recognisably (CSS: `.acr`, ESS: `?ext=acr`) and may answer 404 for an
    # ACR not written yet, so the name is checked before the document's own type link.
    if acl_url.endswith(".acr") or "ext=acr" in acl_url:
        return True
    try:
        described = client.head(acl_url)
    except errors.NotFound:
        return False  # a WAC resource without its own ACL inherits one
    return ACP_ACCESS_CONTROL_RESOURCE in described.types
