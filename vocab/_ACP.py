"""Access Control Policy terms as a closed namespace, mirrored by ``acp.ttl``.

Inrupt ESS and Community Solid Server (in ACP mode) protect pods with ACP; granting the
datacage read access to consented resources means writing these policies correctly.
"""

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef


class ACP(DefinedNamespace):
    """Access Control Policy (ACP), the subset used to grant and inspect access.

    Source: https://solidproject.org/TR/acp (terms and comments: ``vocab/acp.ttl``).
    """

    _fail = True
    _NS = Namespace("http://www.w3.org/ns/solid/acp#")

    # http://www.w3.org/2000/01/rdf-schema#Class
    AccessControl: URIRef  # Groups the policies an ACR applies.
    AccessControlResource: URIRef  # The ACR tying a resource to its access controls.
    AccessGrant: URIRef  # The modes granted for one request context.
    AccessMode: URIRef  # Any mode a policy can allow or deny.
    AlwaysSatisfiedRestriction: URIRef  # Values that make a matcher attribute match everything.
    Context: URIRef  # The circumstances of one access request.
    Matcher: URIRef  # Describes the requests a policy refers to.
    Policy: URIRef  # Allows or denies modes when its matchers are satisfied.

    # http://www.w3.org/1999/02/22-rdf-syntax-ns#Property
    accessControl: URIRef  # An access control for the governed resource.
    accessControlResource: URIRef  # Links a resource to its ACR.
    agent: URIRef  # Context attribute: the requesting agent.
    allOf: URIRef  # Matchers that must all match.
    allow: URIRef  # A mode granted when the policy is satisfied.
    anyOf: URIRef  # Matchers of which at least one must match.
    apply: URIRef  # A policy an access control puts into effect.
    attribute: URIRef  # Parent of all context attributes.
    client: URIRef  # Context attribute: the client application.
    context: URIRef  # The context an access grant was computed for.
    deny: URIRef  # A mode refused when the policy is satisfied.
    grant: URIRef  # A mode granted by an access grant.
    issuer: URIRef  # Context attribute: the identity provider.
    memberAccessControl: URIRef  # An access control inherited by a container's members.
    noneOf: URIRef  # Matchers that must not match.
    resource: URIRef  # Links an ACR to the resource it governs.
    vc: URIRef  # Context attribute: a verifiable credential type.

    # http://www.w3.org/2002/07/owl#NamedIndividual
    AuthenticatedAgent: URIRef  # Matches any authenticated agent.
    CreatorAgent: URIRef  # Matches the resource's creator.
    OwnerAgent: URIRef  # Matches the resource's owner.
    PublicAgent: URIRef  # Matches every agent.
    PublicClient: URIRef  # Matches every client.
    PublicIssuer: URIRef  # Matches every issuer.
