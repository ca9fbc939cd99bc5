"""The RDF vocabularies datacage speaks, as Turtle files with closed Python namespaces.

Every IRI the server, the connectors and the datacage write comes from here. Each external
vocabulary is a checked subset in ``vocab/<name>.ttl`` mirrored by a ``DefinedNamespace`` with
``_fail = True``, so a misspelt term raises ``AttributeError`` instead of minting a new IRI;
``tests/unit/test_vocab.py`` keeps each Turtle file and its namespace term-for-term equal.
PROV-O, ODRL, SHACL and the W3C core vocabularies are rdflib's own and are re-exported.

Nothing is parsed at import: call :func:`load` when a graph is needed.
"""

from importlib import resources

from rdflib import Graph, URIRef
from rdflib.namespace import (
    DCTERMS,
    FOAF,
    ODRL2,
    OWL,
    PROV,
    RDF,
    RDFS,
    SH,
    XSD,
    DefinedNamespace,
)

from vocab._ACL import ACL
from vocab._ACP import ACP
from vocab._AS import AS
from vocab._DCG import DCG
from vocab._DF import DF
from vocab._DPV import DPV
from vocab._INTEROP import INTEROP
from vocab._LDP import LDP
from vocab._NOTIFY import NOTIFY
from vocab._PIM import PIM
from vocab._SOLID import SOLID
from vocab._VCARD import VCARD

#: The datacage ontology's IRI, which also names its ODRL profile: a policy whose constraints
#: use a dcg: left operand (`DCG.algorithmDigest`) names it with `odrl:profile`.
DCG_PROFILE = URIRef(str(DCG).rstrip("#"))

__all__ = [
    "ACL",
    "ACP",
    "AS",
    "DCG",
    "DCG_PROFILE",
    "DCTERMS",
    "DF",
    "DPV",
    "FOAF",
    "INTEROP",
    "LDP",
    "NAMESPACES",
    "NOTIFY",
    "ODRL2",
    "OWL",
    "PIM",
    "PROV",
    "RDF",
    "RDFS",
    "SH",
    "SOLID",
    "VCARD",
    "VOCABULARIES",
    "XSD",
    "bind_prefixes",
    "load",
]

# Turtle file stem -> the namespace it declares. Only these names can be loaded.
VOCABULARIES: dict[str, type[DefinedNamespace]] = {
    "acl": ACL,
    "acp": ACP,
    "activitystreams": AS,
    "datacage": DCG,
    "dpv": DPV,
    "interop": INTEROP,
    "ldp": LDP,
    "notify": NOTIFY,
    "pim": PIM,
    "solid": SOLID,
    "vcard": VCARD,
    # DataFuse (docs/datafuse.md): the built-in matching algorithms' output vocabulary.
    "datafuse": DF,
}

# Prefix -> namespace, as bound on every graph we serialise.
NAMESPACES: dict[str, type[DefinedNamespace]] = {
    "acl": ACL,
    "acp": ACP,
    "as": AS,
    "dcg": DCG,
    "dcterms": DCTERMS,
    "df": DF,
    "dpv": DPV,
    "foaf": FOAF,
    "interop": INTEROP,
    "ldp": LDP,
    "notify": NOTIFY,
    "odrl": ODRL2,
    "owl": OWL,
    "pim": PIM,
    "prov": PROV,
    "rdf": RDF,
    "rdfs": RDFS,
    "sh": SH,
    "vcard": VCARD,
    "solid": SOLID,
    "xsd": XSD,
}


def bind_prefixes(graph: Graph) -> Graph:
    """Bind all of our prefixes on ``graph``, replacing rdflib's defaults, and return it."""
    for prefix, namespace in NAMESPACES.items():
        graph.bind(prefix, str(namespace), override=True, replace=True)
    return graph


def load(name: str) -> Graph:
    """Parse ``vocab/<name>.ttl`` into a new graph with our prefixes bound.

    ``name`` must be a key of :data:`VOCABULARIES`; anything else raises ``KeyError``, so a
    caller can never reach a file outside the package.
    """
    if name not in VOCABULARIES:
        raise KeyError(f"unknown vocabulary {name!r}; expected one of {sorted(VOCABULARIES)}")
    turtle = resources.files(__name__).joinpath(f"{name}.ttl").read_text(encoding="utf-8")
    graph = bind_prefixes(Graph())
    graph.parse(data=turtle, format="turtle")
    return graph
