"""PIM workspace terms as a closed namespace, mirrored by ``pim.ttl``.

A WebID profile names its pods with ``pim:storage``; finding where a person's data lives starts
here, so the term is shared rather than retyped.
"""

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef


class PIM(DefinedNamespace):
    """PIM Workspace ontology, the storage-discovery subset the Solid Protocol uses.

    Source: http://www.w3.org/ns/pim/space (terms and comments: ``vocab/pim.ttl``).
    """

    _fail = True
    _NS = Namespace("http://www.w3.org/ns/pim/space#")

    # http://www.w3.org/2000/01/rdf-schema#Class
    Storage: URIRef  # The root container of a pod.

    # http://www.w3.org/1999/02/22-rdf-syntax-ns#Property
    preferencesFile: URIRef  # A WebID's private settings document.
    storage: URIRef  # Links a WebID to a pod it keeps data in.
