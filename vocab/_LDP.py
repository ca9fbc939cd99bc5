"""Linked Data Platform terms as a closed namespace, mirrored by ``ldp.ttl``.

Pods are LDP containers: walking a pod, reading a listing and writing results all go through
these IRIs, so a misspelt term must fail loudly instead of matching nothing.
"""

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef


class LDP(DefinedNamespace):
    """W3C Linked Data Platform 1.0, the subset a Solid server uses.

    Source: https://www.w3.org/TR/ldp/ (terms and comments: ``vocab/ldp.ttl``).
    """

    _fail = True
    _NS = Namespace("http://www.w3.org/ns/ldp#")

    # http://www.w3.org/2000/01/rdf-schema#Class
    BasicContainer: URIRef  # A container that only tracks what it contains (Solid's kind).
    Container: URIRef  # An RDF source that lists members and accepts new ones.
    DirectContainer: URIRef  # A container that also writes membership triples.
    IndirectContainer: URIRef  # A container whose membership points at what members describe.
    NonRDFSource: URIRef  # A resource whose state is not RDF, such as a binary file.
    RDFSource: URIRef  # A resource whose state is an RDF graph.
    Resource: URIRef  # An HTTP resource following the LDP interaction rules.

    # http://www.w3.org/1999/02/22-rdf-syntax-ns#Property
    constrainedBy: URIRef  # Rules the server applied when it refused a write.
    contains: URIRef  # Links a container to a resource created in it.
    hasMemberRelation: URIRef  # Predicate of membership triples from the membership resource.
    inbox: URIRef  # A Linked Data Notifications inbox for a resource.
    insertedContentRelation: URIRef  # Which triple of a new member supplies the membership object.
    isMemberOfRelation: URIRef  # Predicate of membership triples towards the membership resource.
    member: URIRef  # Default membership predicate.
    membershipResource: URIRef  # Subject (or object) of a container's membership triples.

    # http://www.w3.org/2000/01/rdf-schema#Resource
    MemberSubject: URIRef  # Inserted content relation value meaning "the member itself".
    PreferContainment: URIRef  # Prefer header value for containment triples.
    PreferMembership: URIRef  # Prefer header value for membership triples.
    PreferMinimalContainer: URIRef  # Prefer header value for a container's own triples only.
