"""Pod documents are hostile input: parse_graph refuses what it cannot read safely, and says so.

A guard on the socket layer records any attempt to reach the network (rdflib would fetch a
remote JSON-LD context with urllib, which `responses` cannot see).
"""

import json
import socket

import pytest
import responses
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic

from connectors.solid.errors import MalformedRDF
from connectors.solid.rdf import MAX_JSON_DEPTH, parse_graph, serialize_turtle

BASE = "https://pod.example/alice/data.ttl"
SECRET = "SSN-078-05-1120-do-not-log"
EX = Namespace("http://example.org/ns#")


@pytest.fixture
def network_attempts(monkeypatch):
    """Every host the code under test tried to reach; each attempt also fails at once."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args[0] if args else kwargs)
        raise OSError("the network is off in unit tests")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


# --- Syntax errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "document"),
    [
        ("text/turtle", f'<http://ex/{SECRET}> <http://ex/p> "unterminated'),
        ("text/turtle", f'<http://ex/a> <http://ex/p> "{SECRET}'),
        ("text/turtle", f"<http://ex/a> <http://ex/p> {SECRET} ."),
        ("text/turtle", f'@prefix ex: <http://ex/> .\nex:a ex:p "{SECRET}" ex:oops .'),
        ("text/n3", f"<http://ex/a> <http://ex/p> {SECRET} ."),
        ("application/n-triples", f"<http://ex/a> <http://ex/p> {SECRET} ."),
        ("application/ld+json", f'{{"@id": "http://ex/a", "http://ex/p": "{SECRET}"'),
    ],
    ids=[
        "turtle-unterminated-string",
        "turtle-unterminated-secret",
        "turtle-bare-word",
        "turtle-extra-object",
        "n3-bare-word",
        "n-triples-bare-word",
        "json-ld-truncated",
    ],
)
def test_a_malformed_document_is_reported_by_url_without_echoing_its_content(
    content_type, document
):
    with pytest.raises(MalformedRDF) as raised:
        parse_graph(document.encode(), content_type, BASE)
    message = str(raised.value)
    assert message.startswith(f"{BASE} is not valid")
    assert raised.value.url == BASE
    assert SECRET not in message
    assert SECRET[:8] not in message  # not even the part before a cut-off
    assert "^" not in message  # rdflib marks the error position inside its quote


def test_a_turtle_syntax_error_names_its_line():
    document = f'@prefix ex: <http://ex/> .\n\nex:a ex:p "{SECRET}" ex:oops .'
    with pytest.raises(MalformedRDF, match=r"not valid text/turtle \(syntax error on line 3\)"):
        parse_graph(document.encode(), "text/turtle", BASE)


def test_bytes_that_are_not_utf8_are_refused():
    with pytest.raises(MalformedRDF, match=rf"^{BASE} is not valid UTF-8 text\.$"):
        parse_graph(b'<http://ex/a> <http://ex/p> "caf\xe9" .', "text/turtle", BASE)


@pytest.mark.parametrize(
    ("content_type", "named_as"),
    [
        ("text/plain", "is text/plain, not an RDF format we read"),
        ("application/rdf+xml", "is application/rdf+xml, not an RDF format we read"),
        (None, "is of no declared type, not an RDF format we read"),
        ("", "is of no declared type, not an RDF format we read"),
    ],
)
def test_a_type_we_do_not_read_is_refused_and_the_readable_ones_listed(content_type, named_as):
    with pytest.raises(MalformedRDF) as raised:
        parse_graph(b"<http://ex/a> <http://ex/p> <http://ex/o> .", content_type, BASE)
    assert f"{BASE} {named_as}" in str(raised.value)
    assert "text/turtle" in str(raised.value)


def test_the_media_type_is_read_without_parameters_and_case():
    graph = parse_graph(
        b"<http://ex/a> <http://ex/p> <http://ex/o> .", "Text/Turtle; charset=UTF-8", BASE
    )
    assert len(graph) == 1


# --- JSON-LD remote contexts ------------------------------------------------------------------


REMOTE = "https://attacker.example/context.jsonld"


@pytest.mark.parametrize(
    "document",
    [
        {"@context": REMOTE, "@id": "http://ex/a", "name": "Alice"},
        {"@context": [{"ex": "http://ex/"}, REMOTE], "@id": "http://ex/a"},
        {"@graph": [{"@id": "http://ex/a", "http://ex/p": {"@context": REMOTE, "name": "x"}}]},
        {"@context": {"@import": REMOTE, "ex": "http://ex/"}, "@id": "http://ex/a"},
        {"@context": {"knows": {"@id": "http://ex/knows", "@context": REMOTE}}},
        [{"@id": "http://ex/a"}, {"@context": REMOTE, "@id": "http://ex/b"}],
    ],
    ids=["string", "in-a-list", "nested-object", "import", "scoped", "top-level-array"],
)
@responses.activate
def test_json_ld_with_a_remote_context_is_refused_without_fetching_it(document, network_attempts):
    with pytest.raises(MalformedRDF) as raised:
        parse_graph(json.dumps(document).encode(), "application/ld+json", BASE)
    assert f"refers to a remote JSON-LD context ({REMOTE})" in str(raised.value)
    assert "Ask for Turtle instead" in str(raised.value)
    assert network_attempts == []
    assert len(responses.calls) == 0


def nested(levels: int) -> dict:
    node: object = "leaf"
    for _ in range(levels):
        node = {"http://ex/p": node}
    assert isinstance(node, dict)
    return {"@id": "http://ex/s", **node}


def test_json_ld_nested_deeper_than_the_limit_is_refused():
    body = json.dumps(nested(MAX_JSON_DEPTH + 1)).encode()
    with pytest.raises(MalformedRDF, match=f"nests JSON deeper than {MAX_JSON_DEPTH} levels"):
        parse_graph(body, "application/ld+json", BASE)


def test_json_ld_nested_exactly_to_the_limit_is_read():
    graph = parse_graph(json.dumps(nested(MAX_JSON_DEPTH)).encode(), "application/ld+json", BASE)
    assert len(graph) == MAX_JSON_DEPTH


def test_json_nested_beyond_pythons_recursion_limit_is_malformed_not_a_crash():
    body = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(MalformedRDF, match=f"^{BASE} is not valid JSON"):
        parse_graph(body, "application/ld+json", BASE)


def test_json_ld_with_an_inline_context_is_parsed(network_attempts):
    document = {
        "@context": {"name": "http://xmlns.com/foaf/0.1/name", "@base": "https://pod.example/"},
        "@id": "alice/profile#me",
        "name": "Alice",
    }
    graph = parse_graph(json.dumps(document).encode(), "application/ld+json", BASE)
    assert set(graph) == {
        (
            URIRef("https://pod.example/alice/profile#me"),
            URIRef("http://xmlns.com/foaf/0.1/name"),
            Literal("Alice"),
        )
    }
    assert network_attempts == []


def test_relative_iris_resolve_against_the_documents_url():
    graph = parse_graph(b"<#me> <http://ex/p> <../bob/> .", "text/turtle", BASE)
    assert set(graph) == {
        (URIRef(BASE + "#me"), URIRef("http://ex/p"), URIRef("https://pod.example/bob/"))
    }


# --- Writing ----------------------------------------------------------------------------------


def test_serialized_turtle_reads_back_as_the_same_graph():
    graph = Graph()
    me = URIRef(BASE + "#me")
    graph.add((me, EX.says, Literal('a "quoted"\nline with \\ and émoji 🎉')))
    graph.add((me, EX.label, Literal("chat", lang="fr")))
    graph.add((me, EX["count"], Literal(42)))
    graph.add((me, EX.knows, URIRef("https://pod.example/bob/profile#me")))
    body = serialize_turtle(graph, base=BASE)
    assert isinstance(body, bytes)
    assert isomorphic(parse_graph(body, "text/turtle", BASE), graph)


def test_a_graph_only_read_has_the_same_triples_and_only_the_documents_own_prefixes():
    body = b"@prefix ex: <http://example.org/ns#> .\n<#me> ex:knows <../bob/>; a ex:Person ."
    full = parse_graph(body, "text/turtle", BASE)
    lean = parse_graph(body, "text/turtle", BASE, prefixes=False)
    assert set(lean) == set(full)
    assert dict(lean.namespaces()) == {"ex": URIRef("http://example.org/ns#")}
    assert "foaf" in dict(full.namespaces())  # a graph to write back keeps rdflib's names
