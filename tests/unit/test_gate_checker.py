"""The gate's checks in-process (server.datacage.gate.checker): the closed world with nesting,
k on every node, RE2 for sh:pattern, and answers from the sandbox kept to fixed forms."""

from __future__ import annotations

import time

from rdflib import Graph

from server.datacage.gate.checker.check import check_graph, parse_files
from server.datacage.gate.checker.refusal import MAX_REPORTED, GateRefusal, merged, messages
from server.datacage.gate.checker.shapes import Names

SHAPE = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix dcg: <https://w3id.org/datacage/ns#> .
@prefix ex: <https://example.org/ns#> .
ex:Report a sh:NodeShape ; sh:targetClass ex:Report ; sh:closed true ;
    sh:ignoredProperties ( <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ) ;
    sh:property [ sh:path dcg:individuals ; sh:datatype xsd:integer ] ,
        [ sh:path ex:label ; sh:languageIn ( "en" ) ] ,
        [ sh:path ex:code ; sh:pattern "^(a|aa)+$" ] ,
        [ sh:path ex:kind ; sh:in ( ex:Yearly ex:Monthly ) ] ,
        [ sh:path ex:band ; sh:node ex:Band ] .
ex:Band a sh:NodeShape ; sh:closed true ;
    sh:property [ sh:path dcg:individuals ; sh:datatype xsd:integer ] ,
        [ sh:path ex:upper ; sh:datatype xsd:decimal ] .
"""
PREFIXES = """@prefix dcg: <https://w3id.org/datacage/ns#> .
@prefix ex: <https://example.org/ns#> .
"""


def check(result: str, k: int = 5, people: int = 50) -> list[GateRefusal]:
    shape = Graph().parse(data=SHAPE, format="turtle")
    graph = Graph().parse(data=PREFIXES + result, format="turtle")
    return check_graph(graph, shape, Names(shape), k, people)


def rules(refusals: list[GateRefusal]) -> set[str]:
    return {r.rule for r in refusals}


def test_nested_closed_shapes_named_iris_and_allowed_tags_pass():
    result = """ex:r a ex:Report ; dcg:individuals 9 ; ex:label "north"@en ; ex:kind ex:Yearly ;
        ex:band [ ex:upper 10.5 ; dcg:individuals 6 ] ."""
    assert check(result) == []


def test_a_nested_node_is_held_to_its_own_shape_and_to_k():
    result = """ex:r a ex:Report ; dcg:individuals 9 ;
        ex:band [ ex:upper 10.5 ; ex:who "alice" ; dcg:individuals 1 ] ."""
    refusals = check(result)
    assert rules(refusals) == {"closed/property", "k/too-small", "shape/violation"}
    assert GateRefusal("closed/property", "ex:Band", 1) in refusals


def test_an_iri_value_the_shape_does_not_name_is_refused_where_sh_in_does_not_apply():
    refusals = check("ex:r a ex:Report ; dcg:individuals 9 ; ex:band <https://x.example/YWxp> .")
    assert "closed/iri-value" in rules(refusals)


def test_re2_runs_a_catastrophic_pattern_in_linear_time():
    started = time.monotonic()
    refusals = check(f'ex:r a ex:Report ; dcg:individuals 9 ; ex:code "{"a" * 5000}!" .')
    assert time.monotonic() - started < 5
    assert refusals == [
        GateRefusal("shape/violation", "ex:Report / ex:code", 1, "sh:PatternConstraintComponent")
    ]


def test_a_huge_count_is_refused_not_a_crash():
    refusals = check(f"ex:r a ex:Report ; dcg:individuals {'9' * 4000} .")
    assert rules(refusals) == {"k/too-large"}
    # Past Python's limit on integer digits the file does not even parse: refused as such.
    _, bad = parse_files([["r.ttl", PREFIXES + f"ex:r dcg:individuals {'9' * 5000} ."]], "x:")
    assert bad == 1


def test_an_answer_from_the_sandbox_is_kept_to_fixed_forms():
    places = frozenset({"ex:Report / ex:code"})
    forged = {
        "rule": "shape/violation",
        "shape_path": "alice@example.org",
        "count": "many",
        "detail": "alice@example.org",
        "limit": True,
    }
    assert GateRefusal.from_json(forged, places) == GateRefusal("shape/violation")
    assert GateRefusal.from_json({"rule": "made/up"}, places).rule == "gate/crashed"
    kept = {"rule": "shape/violation", "shape_path": "ex:Report / ex:code", "count": 3,
            "detail": "sh:PatternConstraintComponent"}  # fmt: skip
    assert GateRefusal.from_json(kept, places).message == (
        "3 values do not fit the output shape at ex:Report / ex:code "
        "(sh:PatternConstraintComponent)."
    )


def test_refusals_are_merged_counted_and_capped():
    many = [GateRefusal("closed/outside")] * 7 + [GateRefusal("k/missing", None, 500)]
    assert merged(many) == [
        GateRefusal("closed/outside", None, 7),
        GateRefusal("k/missing", None, 500),
    ]
    assert "more than 100 nodes" in messages(merged(many))[1]
    spread = [GateRefusal("shape/violation", f"ex:S{i}") for i in range(15)]
    shown = messages(merged(spread))
    assert len(shown) == MAX_REPORTED + 1
    assert shown[-1] == "... and 5 more reasons."
