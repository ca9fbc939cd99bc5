"""The gate's checks in-process (server.datacage.gate.checker): the closed world with nesting,
k on every node, RE2 for sh:pattern, and answers from the sandbox kept to fixed forms."""

from __future__ import annotations

import time

from rdflib import BNode, Graph

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
    assert time.monotonic() - started < 30  # backtracking would take longer than the universe
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


# --- pySHACL gets the shape with property shapes in bulk, with the same results ----------------

BULK_SHAPES = {
    "closed with nesting": SHAPE,
    "shared and targeted property shapes": """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <https://example.org/ns#> .
ex:count a sh:PropertyShape ; sh:path ex:count ; sh:datatype xsd:integer ; sh:maxCount 1 .
ex:A a sh:NodeShape ; sh:targetClass ex:A ; sh:property ex:count ,
    [ sh:path ex:label ; sh:maxLength 3 ; sh:targetNode ex:x ] ,
    [ sh:path ( ex:p ex:q ) ; sh:minCount 1 ] .
ex:B a sh:NodeShape ; sh:targetSubjectsOf ex:label ; sh:closed true ; sh:property ex:count ,
    [ sh:path ex:label ; sh:maxLength 4 ] .
ex:C a sh:NodeShape, <http://www.w3.org/2000/01/rdf-schema#Class> ;
    sh:property [ sh:path ex:count ; sh:minInclusive 2 ] .
ex:D a sh:NodeShape ; sh:targetClass ex:A ; sh:deactivated true ;
    sh:property [ sh:path ex:count ; sh:minCount 5 ] .
ex:E a sh:NodeShape ; sh:targetClass ex:A ; sh:not ex:F ; sh:closed true ;
    sh:ignoredProperties ( <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ) ;
    sh:property [ sh:path ex:label ; sh:minLength 2 ] , [ sh:path ( ex:p ex:q ) ; sh:maxCount 0 ] .
ex:F a sh:NodeShape ; sh:targetNode ex:y ; sh:property [ sh:path ex:count ; sh:hasValue 7 ] .
""",
}
BULK_DATA = """ex:r a ex:Report ; dcg:individuals 9, "x" ; ex:label "n"@en, "o"@de ;
    ex:kind ex:Other ; ex:code "ab" ; ex:extra 1 ;
    ex:band [ ex:upper "high" ; dcg:individuals 6 ; ex:who 1 ] .
ex:s a ex:Report ; dcg:individuals 3 .
ex:x a ex:A , ex:C ; ex:count 1, 2 ; ex:label "long" ; ex:p [ ex:q 1 ] .
ex:y a ex:A ; ex:count "seven" ; ex:label "l" ; ex:other 2 .
ex:z a ex:C ; ex:count 1 .
"""


def _results(data: Graph, shape: Graph) -> set[tuple]:
    from pyshacl import validate

    from server.datacage.gate.checker.validate import use_linear_regex
    from vocab import SH

    use_linear_regex()
    _, report, _ = validate(data, shacl_graph=shape, inference="none", advanced=False)
    keys = (SH.focusNode, SH.resultPath, SH.value, SH.sourceShape, SH.sourceConstraintComponent)
    found = set()
    for node in report.subjects(predicate=SH.focusNode):
        values = [report.value(node, key) for key in keys]
        path = values[1]  # a path expression is a fresh blank node in each report
        found.add((*values[:1], path if not isinstance(path, BNode) else "expr", *values[2:]))
    return found


def test_property_shapes_in_bulk_give_pyshacl_the_same_results():
    from server.datacage.gate.checker.bulk import bulk_shapes

    data = Graph().parse(data=PREFIXES + BULK_DATA, format="turtle")
    for name, text in BULK_SHAPES.items():
        shape = Graph().parse(data=text, format="turtle")
        expected = _results(data, shape)
        assert len(expected) > 5, name  # the data breaks these shapes in many ways
        assert _results(data, bulk_shapes(shape)) == expected, name


def test_only_plainly_equivalent_property_shapes_move():
    from rdflib import URIRef
    from rdflib.collection import Collection

    from server.datacage.gate.checker.bulk import bulk_shapes
    from vocab import RDF, SH

    shape = Graph().parse(data=BULK_SHAPES["shared and targeted property shapes"], format="turtle")
    moved = bulk_shapes(shape)
    ex = "https://example.org/ns#"
    kept = {str(s) for s, _ in moved.subject_objects(SH.property)}
    # Kept: shared (ex:count), implicit class target (ex:C), deactivated (ex:D), and node
    # shapes some statement names (ex:F by sh:not; ex:A, a class targeted by name).
    assert kept == {ex + "A", ex + "B", ex + "C", ex + "D", ex + "F"}
    assert len(list(moved.subject_objects(SH.property))) == 7  # of 10: B's label, E's two moved
    e_ignores = moved.value(URIRef(ex + "E"), SH.ignoredProperties)
    assert {str(p) for p in Collection(moved, e_ignores)} == {str(RDF.type), ex + "label"}
