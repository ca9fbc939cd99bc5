"""N3 Patch bodies (Solid Protocol 5.3.1) and what a pod's headers say about a resource.

Patch bodies are read back with rdflib's own N3 parser, so "survives" means a real parser gets
the very same terms back. Responses are built by requests' own adapter from raw headers, the
way requests builds them from the wire (repeated headers joined).
"""

import pytest
import requests
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, XSD
from requests.adapters import HTTPAdapter
from urllib3 import HTTPHeaderDict, HTTPResponse

from connectors.solid.patch import n3_patch
from connectors.solid.resource import (
    LDP_BASIC_CONTAINER,
    LDP_CONTAINER,
    PIM_STORAGE_TYPE,
    STORAGE_DESCRIPTION_REL,
    Link,
    Resource,
    parse_links,
    parse_wac_allow,
)

SOLID = Namespace("http://www.w3.org/ns/solid/terms#")
EX = Namespace("http://example.org/ns#")
DOC = URIRef("https://pod.example/alice/notes.ttl#it")
URL = "https://pod.example/alice/notes.ttl"


def formulas(patch: str) -> dict[str, set]:
    """The triples inside solid:deletes and solid:inserts of a parsed N3 Patch."""
    graph = Graph().parse(data=patch, format="n3")
    (patch_node,) = graph.subjects(RDF.type, SOLID.InsertDeletePatch)
    return {
        kind: {triple for formula in graph.objects(patch_node, SOLID[kind]) for triple in formula}
        for kind in ("deletes", "inserts")
    }


# --- n3_patch ---------------------------------------------------------------------------------

AWKWARD_LITERALS = [
    Literal('she said "hi"'),
    Literal("first line\nsecond line"),
    Literal('ends with a quote after a newline\n"'),
    Literal('x\n"""} ; solid:deletes { ?a ?b ?c } . #'),
    Literal("back\\slash and \\n that is not a newline"),
    Literal("trailing backslash\\"),
    Literal("tab\tcarriage\rreturn"),
    Literal("chat", lang="fr"),
    Literal("Grüße 🎉", lang="de-AT"),
    Literal("42", datatype=XSD.integer),
    Literal(""),
]


@pytest.mark.parametrize("literal", AWKWARD_LITERALS, ids=repr)
def test_awkward_literals_survive_an_n3_patch_exactly(literal):
    patch = n3_patch(inserts=[(DOC, EX.note, literal)], deletes=[(DOC, EX.old, literal)])
    assert formulas(patch) == {
        "deletes": {(DOC, EX.old, literal)},
        "inserts": {(DOC, EX.note, literal)},
    }


def test_a_patch_with_many_triples_keeps_every_one_and_nothing_else():
    inserts = [(DOC, EX.note, literal) for literal in AWKWARD_LITERALS]
    assert formulas(n3_patch(inserts=inserts)) == {"deletes": set(), "inserts": set(inserts)}


def test_a_graph_can_be_inserted_directly():
    graph = Graph()
    graph.add((DOC, EX.title, Literal("Notes")))
    graph.add((DOC, EX.author, URIRef("https://pod.example/alice/profile/card#me")))
    assert formulas(n3_patch(inserts=graph))["inserts"] == set(graph)


def test_blank_nodes_may_be_inserted():
    patch = n3_patch(inserts=[(DOC, EX.attachment, BNode())])
    (triple,) = formulas(patch)["inserts"]
    assert triple[:2] == (DOC, EX.attachment)


@pytest.mark.parametrize("position", [0, 2])
def test_blank_nodes_in_deletes_are_refused(position):
    triple = [DOC, EX.p, Literal("x")]
    triple[position] = BNode()
    with pytest.raises(ValueError, match="Triples to delete cannot contain blank nodes"):
        n3_patch(deletes=[tuple(triple)])


def test_an_empty_patch_is_refused():
    with pytest.raises(ValueError, match="needs something to insert or delete"):
        n3_patch()
    with pytest.raises(ValueError, match="needs something to insert or delete"):
        n3_patch(inserts=Graph(), deletes=[])


def test_an_iri_that_would_break_out_of_its_brackets_is_never_written():
    evil = URIRef("https://pod.example/a> solid:deletes { ?s ?p ?o } . <x")
    with pytest.raises(Exception, match="does not look like a valid URI"):
        n3_patch(inserts=[(evil, EX.p, Literal("x"))])


def test_a_patch_declares_its_type_and_a_single_patch_resource():
    patch = n3_patch(deletes=[(DOC, EX.p, Literal("x"))])
    graph = Graph().parse(data=patch, format="n3")
    assert len(set(graph.subjects(RDF.type, SOLID.InsertDeletePatch))) == 1
    assert (None, SOLID.inserts, None) not in graph


# --- Headers: Link, WAC-Allow -----------------------------------------------------------------


def response(url: str = URL, status: int = 200, headers: list[tuple[str, str]] = ()):
    raw_headers = HTTPHeaderDict()
    for name, value in headers:
        raw_headers.add(name, value)
    raw = HTTPResponse(body=b"", headers=raw_headers, status=status, preload_content=False)
    return HTTPAdapter().build_response(requests.Request("GET", url).prepare(), raw)


def test_a_link_with_several_rels_counts_once_per_rel():
    links = parse_links('<https://pod.example/meta>; rel="describedby alternate"', URL)
    assert links == (
        Link("https://pod.example/meta", "describedby"),
        Link("https://pod.example/meta", "alternate"),
    )


def test_links_from_several_link_headers_are_all_read_and_resolved_against_the_url():
    resource = Resource.from_response(
        response(
            headers=[
                ("Link", f'<{LDP_CONTAINER}>; rel="type", <{LDP_BASIC_CONTAINER}>; rel="type"'),
                ("Link", '<notes.ttl.acl>; rel="acl"'),
                ("Link", '</.well-known/solid>; rel="' + STORAGE_DESCRIPTION_REL + '"'),
            ]
        )
    )
    assert resource.links == (
        Link(LDP_CONTAINER, "type"),
        Link(LDP_BASIC_CONTAINER, "type"),
        Link("https://pod.example/alice/notes.ttl.acl", "acl"),
        Link("https://pod.example/.well-known/solid", STORAGE_DESCRIPTION_REL),
    )
    assert resource.acl_url == "https://pod.example/alice/notes.ttl.acl"
    assert resource.is_container
    assert not resource.is_storage


def test_no_link_header_means_no_links_and_no_acl():
    resource = Resource.from_response(response())
    assert resource.links == ()
    assert resource.acl_url is None
    assert not resource.is_container
    assert parse_links(None, URL) == ()
    assert parse_links("", URL) == ()


@pytest.mark.parametrize(
    ("types", "container", "storage"),
    [
        ([LDP_BASIC_CONTAINER], True, False),
        ([LDP_CONTAINER], True, False),
        ([LDP_BASIC_CONTAINER, PIM_STORAGE_TYPE], True, True),
        (["http://www.w3.org/ns/ldp#Resource"], False, False),
    ],
)
def test_container_and_storage_are_read_from_type_links(types, container, storage):
    header = ", ".join(f'<{t}>; rel="type"' for t in types)
    resource = Resource.from_response(response(headers=[("Link", header)]))
    assert (resource.is_container, resource.is_storage) == (container, storage)


def test_a_type_named_by_another_rel_does_not_make_a_container():
    header = f'<{LDP_BASIC_CONTAINER}>; rel="describedby"'
    assert not Resource.from_response(response(headers=[("Link", header)])).is_container


def test_validators_and_a_relative_location_are_kept():
    resource = Resource.from_response(
        response(
            url="https://pod.example/alice/",
            status=201,
            headers=[
                ("ETag", '"v7"'),
                ("Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT"),
                ("Location", "new-note.ttl"),
                ("Content-Type", "text/turtle"),
            ],
        )
    )
    assert resource.etag == '"v7"'
    assert resource.last_modified == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert resource.location == "https://pod.example/alice/new-note.ttl"
    assert (resource.status, resource.content_type) == (201, "text/turtle")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'user="read write append control", public="read"',
            {"user": {"read", "write", "append", "control"}, "public": {"read"}},
        ),
        ('user="Read  Write",public=""', {"user": {"read", "write"}, "public": set()}),
        ('user="append"', {"user": {"append"}}),
        ("user=read", {"user": {"read"}}),
        ("garbage", {}),
        (None, {}),
    ],
)
def test_wac_allow_gives_the_modes_of_each_group(header, expected):
    assert parse_wac_allow(header) == expected


def test_wac_allow_is_read_from_the_response():
    resource = Resource.from_response(
        response(headers=[("WAC-Allow", 'user="read write", public="read"')])
    )
    assert resource.wac_allow == {"user": {"read", "write"}, "public": {"read"}}
