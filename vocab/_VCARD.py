"""vCard group terms as a closed namespace, mirrored by ``vcard.ttl``.

Web Access Control names groups of agents with ``acl:agentGroup``; a group document lists its
members with ``vcard:hasMember``. Reading those is all we need of vCard.
"""

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef


class VCARD(DefinedNamespace):
    """vCard Ontology, the group subset Web Access Control uses.

    Source: http://www.w3.org/2006/vcard/ns (terms and comments: ``vocab/vcard.ttl``).
    """

    _fail = True
    _NS = Namespace("http://www.w3.org/2006/vcard/ns#")

    # http://www.w3.org/2000/01/rdf-schema#Class
    Group: URIRef  # A group of agents.

    # http://www.w3.org/1999/02/22-rdf-syntax-ns#Property
    hasMember: URIRef  # Links a group to one of its members.
