"""Output shapes that use SPARQL, or patterns RE2 cannot run, are refused at registration
(server.algorithms.shape.check_shape) and by the gate's own check of the shape."""

from __future__ import annotations

import pytest
from rdflib import Graph

from server.algorithms.limits import BundleLimits
from server.algorithms.shape import check_shape
from server.datacage.gate.rules import shape_safety

HEAD = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <https://example.org/ns#> .
"""
BASE = (
    HEAD
    + """ex:ReportShape a sh:NodeShape ; sh:targetClass ex:Report ; sh:closed true ;
    sh:property [ sh:path ex:label ; sh:datatype xsd:string ] {extra} .
"""
)
SPARQL_SHAPES = {
    "constraint": '; sh:sparql [ a sh:SPARQLConstraint ; sh:select "SELECT $this WHERE { }" ]',
    "escaped service": '; sh:sparql [ sh:select """SELECT $this WHERE { SERVIC\\\\u0045 '
    '<http://127.0.0.1:9/> { ?s ?p ?o } }""" ]',
    "component": """.
ex:Component a sh:ConstraintComponent ; sh:parameter [ sh:path ex:max ] ;
    sh:validator [ a sh:SPARQLAskValidator ; sh:ask "ASK { }" ]""",
    "target": '; sh:target [ a sh:SPARQLTarget ; sh:select "SELECT ?this WHERE { ?this ?p ?o }" ]',
}


def check(text: str) -> list[str]:
    return check_shape({"shapes/s.ttl": text.encode()}, "shapes/s.ttl", BundleLimits())


def test_a_plain_closed_shape_is_accepted():
    assert check(BASE.format(extra="")) == []


@pytest.mark.parametrize("kind", sorted(SPARQL_SHAPES))
def test_a_shape_using_sparql_is_refused_at_registration_and_by_the_gate(kind):
    text = BASE.format(extra=SPARQL_SHAPES[kind])
    problems = check(text)
    assert len(problems) == 1, problems
    assert problems[0].startswith("shapes/s.ttl uses SPARQL (sh:")
    refusals = shape_safety(Graph().parse(data=text, format="turtle"))
    assert [r.rule for r in refusals] == ["shape/sparql"]


@pytest.mark.parametrize(
    ("pattern", "flags"),
    [("^(a)\\\\1$", None), ("^(?=a)a$", None), ("^a$", "x")],
)
def test_a_pattern_re2_cannot_run_is_refused(pattern, flags):
    extra = f'; sh:property [ sh:path ex:code ; sh:pattern "{pattern}" '
    extra += f'; sh:flags "{flags}" ]' if flags else "]"
    problems = check(BASE.format(extra=extra))
    assert any("linear-time engine (RE2) cannot run" in p for p in problems), problems


def test_a_catastrophic_but_regular_pattern_is_accepted():
    extra = '; sh:property [ sh:path ex:code ; sh:pattern "^(a|aa)+$" ; sh:flags "i" ]'
    assert check(BASE.format(extra=extra)) == []
