"""Finding a resource's access control resource when no `Link rel="acl"` names it.

ACP defines `acp:accessControlResource` as the inverse of `acp:resource`: a resource's
description (`Link rel="describedby"`, Solid Protocol "Auxiliary Resources") may name the ACR
that controls it. Both links MUST be taken into account (ACP, `acp:AccessControlResource`).
"""

from __future__ import annotations

from urllib.parse import urldefrag

from rdflib import URIRef

from vocab import ACP

from .. import errors
from .pod import PodClient


def described_acr(client: PodClient, resource_url: str, description: str | None) -> str | None:
    """The ACR document the resource's description names with `acp:accessControlResource`.

    None when there is no description, or it cannot be read or names none: the caller then
    treats the resource as advertising no ACR, which is what it told us.
    """
    if description is None:
        return None
    try:
        graph, _ = client.get_graph(description)
    except (errors.NotFound, errors.Forbidden, errors.Unauthenticated, errors.MalformedRDF):
        return None
    named = sorted(
        str(acr) for acr in graph.objects(URIRef(resource_url), ACP.accessControlResource)
    )
    return urldefrag(named[0])[0] if named else None
