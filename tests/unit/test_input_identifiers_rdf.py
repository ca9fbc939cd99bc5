"""Identifiers read from pods' RDF: the fast reader (pyoxigraph) and rdflib, which reads what
the fast one refuses, collect the same values, so a document cannot hide a name from the
output gate by being odd."""

import pytest

from server.datacage.gate import InputIdentifiers, PersonInputs

URL = "https://alice.pod.example/contacts/alice.ttl"
WEBID = "https://alice.pod.example/profile/card#me"
TURTLE = b"""@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix vcard: <http://www.w3.org/2006/vcard/ns#> .
<#alice> foaf:name "Alice Example" ; foaf:mbox <mailto:Alice@Example.org> ;
    vcard:hasTelephone [ vcard:value <tel:+32-2-555-0100> ] ;
    vcard:hasEmail [ a vcard:Home ; vcard:value "alice.home@example.net" ] ;
    <https://example.org/ns#city> "Brussels" .
"""
EXPECTED = {
    "alice example",
    "alice@example.org",
    "+32-2-555-0100",
    "alice.home@example.net",
}
N_TRIPLES = f"""<{URL}#alice> <http://xmlns.com/foaf/0.1/name> "Alice Example" .
<{URL}#alice> <http://xmlns.com/foaf/0.1/mbox> <mailto:Alice@Example.org> .
<{URL}#alice> <http://www.w3.org/2006/vcard/ns#hasTelephone> _:t .
_:t <http://www.w3.org/2006/vcard/ns#value> <tel:+32-2-555-0100> .
<{URL}#alice> <http://www.w3.org/2006/vcard/ns#hasEmail> _:e .
_:e <http://www.w3.org/2006/vcard/ns#value> "alice.home@example.net" .
""".encode()
RDF_XML = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:foaf="http://xmlns.com/foaf/0.1/" xmlns:vcard="http://www.w3.org/2006/vcard/ns#">
  <rdf:Description rdf:about="#alice">
    <foaf:name>Alice Example</foaf:name>
    <foaf:mbox rdf:resource="mailto:Alice@Example.org"/>
    <vcard:hasTelephone><rdf:Description>
      <vcard:value rdf:resource="tel:+32-2-555-0100"/></rdf:Description></vcard:hasTelephone>
    <vcard:hasEmail><rdf:Description>
      <vcard:value>alice.home@example.net</vcard:value></rdf:Description></vcard:hasEmail>
  </rdf:Description>
</rdf:RDF>
"""


def collected(content_type: str, data: bytes) -> set[str]:
    found = InputIdentifiers.collect([PersonInputs(WEBID, [(URL, content_type, data)])])
    return set(found.values) - {WEBID.lower(), WEBID.split("#")[0].lower(), URL.lower()}


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("text/turtle", TURTLE),
        ("text/turtle; charset=utf-8", TURTLE),
        ("application/n-triples", N_TRIPLES),
        ("application/rdf+xml", RDF_XML),
        ("text/n3", TURTLE),  # read by rdflib only
    ],
)
def test_names_addresses_and_nested_values_are_collected_in_every_format(content_type, data):
    assert collected(content_type, data) == EXPECTED


def test_a_document_the_fast_reader_refuses_is_read_by_rdflib_and_hides_nothing():
    # An IRI with a space: pyoxigraph refuses the whole document, rdflib reads it. Without
    # the second reader, one odd IRI would hide every name in the document from the gate.
    odd = TURTLE + b"<#alice> <https://example.org/ns#home> <https://example.org/a b> .\n"
    assert collected("text/turtle", odd) == EXPECTED


def test_a_document_neither_reader_reads_still_gives_its_email_addresses():
    broken = b'<#alice> <http://xmlns.com/foaf/0.1/name> "Alice Example ; mailto:bob@example.org'
    assert collected("text/turtle", broken) == {"bob@example.org"}


def test_a_graph_in_trig_is_read_whole():
    prefixes, _, statements = TURTLE.partition(b"<#alice>")
    trig = prefixes + b"<https://alice.pod.example/g> {\n<#alice>" + statements + b"}\n"
    assert collected("application/trig", trig) == EXPECTED
