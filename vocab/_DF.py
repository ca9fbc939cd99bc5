"""The DataFuse output vocabulary as a closed namespace, mirrored by ``datafuse.ttl``.

The built-in DataFuse algorithms write their reports with these terms, inside the sandbox
(where ``vocab`` is bound read-only), and their SHACL shapes name the same terms.
"""

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef


class DF(DefinedNamespace):
    """DataFuse: reports of private matches and joint statistics over their intersection.

    Source: ``vocab/datafuse.ttl`` (an owl:Ontology, version 0.1.0).
    """

    _fail = True
    _NS = Namespace("https://w3id.org/datacage/datafuse#")

    # http://www.w3.org/2002/07/owl#Class
    MatchReport: URIRef  # The result of a private match.
    Statistic: URIRef  # One aggregate over the shared individuals.

    # http://www.w3.org/2002/07/owl#DatatypeProperty
    commonCustomers: URIRef  # Identifiers every data holder holds.
    suppressed: URIRef  # The figure was too small to report.
    parties: URIRef  # Data holders in the match.
    matchedOn: URIRef  # The kind of identifier compared.
    normalisation: URIRef  # How identifiers were normalised.
    blinding: URIRef  # The blinding group.
    statistic: URIRef  # count, sum, mean or histogram.
    attribute: URIRef  # The attribute summarised.
    value: URIRef  # The figure.
    lowerBound: URIRef  # A band's lowest value.
    upperBound: URIRef  # A band's bound (excluded).
    suppressedFigures: URIRef  # Figures left out under k.
    noiseEpsilon: URIRef  # The differential-privacy budget the figures were noised under.
