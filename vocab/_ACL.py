"""Web Access Control terms as a closed namespace, mirrored by ``acl.ttl``.

WAC is how Community Solid Server and many pods say who may read or write; the datacage and
the consent flow write and check these authorizations, so every IRI is spelt once, here.
"""

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef


class ACL(DefinedNamespace):
    """Web Access Control, the subset a Solid server evaluates.

    Source: https://solidproject.org/TR/wac (terms and comments: ``vocab/acl.ttl``).
    """

    _fail = True
    _NS = Namespace("http://www.w3.org/ns/auth/acl#")

    # http://www.w3.org/2000/01/rdf-schema#Class
    Access: URIRef  # The class of all access modes.
    Append: URIRef  # Add data without removing any.
    AuthenticatedAgent: URIRef  # Agent class: anyone who has proven an identity.
    Authorization: URIRef  # One rule: which agents get which modes on which resources.
    Control: URIRef  # Read and change the ACL that governs a resource.
    Origin: URIRef  # The web origin of an application acting for a user.
    Read: URIRef  # See a resource, or list a container.
    Write: URIRef  # Create, change or delete a resource.

    # http://www.w3.org/1999/02/22-rdf-syntax-ns#Property
    accessTo: URIRef  # The resource an authorization covers.
    agent: URIRef  # An agent, by WebID, granted access.
    agentClass: URIRef  # A class of agents granted access (foaf:Agent means everyone).
    agentGroup: URIRef  # A group whose members are granted access.
    default: URIRef  # A container whose descendants inherit the authorization.
    mode: URIRef  # An access mode the authorization grants.
    origin: URIRef  # An app origin that must also be allowed.
    owner: URIRef  # The agent who owns something.
    trustedApp: URIRef  # A profile's trusted app origin and modes (server convention).
