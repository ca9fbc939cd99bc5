"""A complete Solid client: Solid-OIDC with DPoP, LDP, and access control.

    from connectors.solid import SolidClient, SolidSession

    session = SolidSession.from_client_credentials(issuer, client_id, secret)
    client = SolidClient(session)
    graph, resource = client.get_graph("https://pod.example/alice/data.ttl")
    client.access_control(resource.url).grant(other_webid, ["Read"])

Modules are named after what they implement: `dpop` (RFC 9449), `oidc` (Solid-OIDC, RFC 6749,
RFC 7636, OpenID Connect), `client` (Solid Protocol / LDP), `access` (WAC, ACP), `rdf`
(parsing hostile documents), `http` (timeouts, limits and error mapping), `errors`.
"""

from .access import AccessControl, AccessControlPolicies, AccessMode, WebAccessControl
from .client import ContainerEntry, SolidClient
from .dpop import DPoPAuth, DPoPKey, ProofFactory
from .dpop_verify import ReplayCache, VerifiedProof, verify_dpop_proof
from .errors import SolidError
from .http import Http, TlsSettings
from .resource import Resource
from .session import RefreshState, SolidSession
from .type_index import TypeRegistration, find_instances

__all__ = [
    "AccessControl",
    "AccessControlPolicies",
    "AccessMode",
    "ContainerEntry",
    "DPoPAuth",
    "DPoPKey",
    "Http",
    "ProofFactory",
    "RefreshState",
    "ReplayCache",
    "Resource",
    "SolidClient",
    "SolidError",
    "SolidSession",
    "TlsSettings",
    "TypeRegistration",
    "VerifiedProof",
    "WebAccessControl",
    "find_instances",
    "verify_dpop_proof",
]
