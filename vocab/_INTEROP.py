"""Solid Application Interoperability terms as a closed namespace, mirrored by ``interop.ttl``.

Pods run by an authorization agent express consent as access needs, authorizations and grants;
reading and requesting those lets a space ask for data the interoperable way.
"""

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef


class INTEROP(DefinedNamespace):
    """Solid Application Interoperability, the subset for access needs and grants.

    Source: https://solidproject.org/TR/sai (terms and comments: ``vocab/interop.ttl``).
    """

    _fail = True
    _NS = Namespace("http://www.w3.org/ns/solid/interop#")

    # http://www.w3.org/2000/01/rdf-schema#Class
    AccessAuthorization: URIRef  # The owner's recorded decision to give access.
    AccessGrant: URIRef  # What access a grantee has been given.
    AccessNeed: URIRef  # A request for one kind of data with given modes.
    AccessNeedGroup: URIRef  # Access needs decided together.
    AccessRequest: URIRef  # A message carrying access need groups.
    AccessScope: URIRef  # How much data an authorization or grant covers.
    Application: URIRef  # Software acting for a social agent.
    AuthorizationAgent: URIRef  # The service that manages an agent's access decisions.
    DataAuthorization: URIRef  # The part of an authorization for one kind of data.
    DataGrant: URIRef  # The part of a grant for one kind of data.
    DataRegistration: URIRef  # A container holding all data of one shape tree.
    SocialAgent: URIRef  # A person, group or organisation with a WebID.

    # http://www.w3.org/ns/solid/interop#AccessScope
    All: URIRef  # Every piece of data of the kind.
    AllFromRegistry: URIRef  # Every piece of data of the kind in one registration.
    SelectedFromRegistry: URIRef  # Listed resources in one registration.

    # http://www.w3.org/1999/02/22-rdf-syntax-ns#Property
    accessMode: URIRef  # A mode asked for or granted.
    accessNecessity: URIRef  # Whether an access need is required or optional.
    dataOwner: URIRef  # Who owns the data granted.
    grantedAt: URIRef  # When access was granted.
    grantedBy: URIRef  # Who granted access.
    grantee: URIRef  # Who receives access.
    hasAccessNeed: URIRef  # Links a group to an access need.
    hasAccessNeedGroup: URIRef  # Links to an access need group.
    hasAuthorizationAgent: URIRef  # Links a WebID to its authorization agent.
    hasDataAuthorization: URIRef  # Links an authorization to a data authorization.
    hasDataGrant: URIRef  # Links an access grant to a data grant.
    hasDataInstance: URIRef  # A resource covered by a selected-scope grant.
    registeredShapeTree: URIRef  # The shape tree describing the kind of data.
    satisfiesAccessNeed: URIRef  # The access need a grant answers.
    scopeOfAuthorization: URIRef  # The scope of a data authorization.
    scopeOfGrant: URIRef  # The scope of a data grant.
