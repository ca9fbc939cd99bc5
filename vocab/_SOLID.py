"""Solid terms as a closed namespace, mirrored by ``solid.ttl``.

Login (issuer discovery), storage discovery, N3 patches and type indexes all hang off this
namespace; the connectors and the consent flow share one spelling of each.
"""

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef


class SOLID(DefinedNamespace):
    """Solid Terms, the subset the Solid Protocol and Type Indexes rely on.

    Source: https://solidproject.org/TR/protocol and https://solid.github.io/type-indexes/
    (terms and comments: ``vocab/solid.ttl``).
    """

    _fail = True
    _NS = Namespace("http://www.w3.org/ns/solid/terms#")

    # http://www.w3.org/2000/01/rdf-schema#Class
    Account: URIRef  # An account on a Solid server.
    InsertDeletePatch: URIRef  # The N3 patch form: deletes, inserts, optional where.
    ListedDocument: URIRef  # Marks a discoverable (public) type index.
    Patch: URIRef  # A description of changes to an RDF resource.
    TypeIndex: URIRef  # A document saying where data of given types lives.
    TypeRegistration: URIRef  # One type index entry: a class and where its data is.
    UnlistedDocument: URIRef  # Marks a private type index.

    # http://www.w3.org/1999/02/22-rdf-syntax-ns#Property
    account: URIRef  # Links an agent to a Solid account.
    deletes: URIRef  # Triples a patch removes; all must be present.
    forClass: URIRef  # The class a type registration is about.
    inserts: URIRef  # Triples a patch adds.
    instance: URIRef  # A resource holding data of the registered class.
    instanceContainer: URIRef  # A container holding data of the registered class.
    oidcIssuer: URIRef  # An OpenID provider the WebID owner trusts.
    owner: URIRef  # The agent responsible for a storage.
    privateTypeIndex: URIRef  # Links to the private type index.
    publicTypeIndex: URIRef  # Links a profile to its public type index.
    storageDescription: URIRef  # Link relation to the storage description resource.
    storageQuota: URIRef  # Bytes the account may store.
    storageUsage: URIRef  # Bytes the account stores now.
    where: URIRef  # Condition a patch requires to match exactly once.
