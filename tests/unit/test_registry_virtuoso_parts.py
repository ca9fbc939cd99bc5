"""The Virtuoso registry's text handling and configuration, without a server (the server side is
tests/integration/test_registry_virtuoso.py)."""

from __future__ import annotations

import pytest
from rdflib import Literal, URIRef

from server import config
from server.registry import RegistryError
from server.registry.virtuoso_queries import query_kind, where_group, with_bindings


@pytest.mark.parametrize(
    ("query", "before"),
    [
        ("SELECT ?g WHERE { GRAPH ?g { ?g a ?t } }", "SELECT ?g WHERE "),
        ("ASK{?s ?p ?o}", "ASK"),
        (
            "SELECT (EXISTS { ?a ?b ?c } AS ?x) WHERE { ?s ?p ?o }",
            "SELECT (EXISTS { ?a ?b ?c } AS ?x) WHERE ",
        ),
        ("# a { in a comment\nSELECT * WHERE { ?s ?p ?o }", "# a { in a comment\nSELECT * WHERE "),
        (
            "SELECT * FROM <http://x.test/(g> WHERE { ?s ?p ?o }",
            "SELECT * FROM <http://x.test/(g> WHERE ",
        ),
    ],
)
def test_bindings_open_the_where_group(query: str, before: str) -> None:
    assert query[: where_group(query)] == before


def test_bindings_are_escaped_values_not_text() -> None:
    hostile = Literal('x" } } ; DROP ALL ; #')
    text = with_bindings(
        "SELECT ?g WHERE { GRAPH ?g { ?g dcg:purpose ?p } }",
        {"p": hostile, "g": URIRef("https://datacage.test/s/1")},
    )
    assert 'VALUES (?p ?g) { ("x\\" } } ; DROP ALL ; #" <https://datacage.test/s/1>) }' in text
    assert query_kind("SELECT ?g WHERE { GRAPH ?g { ?g dcg:purpose ?p } }") == "SelectQuery"


@pytest.mark.parametrize(
    "query",
    [
        "INSERT DATA { GRAPH <http://evil.test/g> { <http://evil.test/s> a 1 } }",
        "SELECT * WHERE { ?s ?p ?o } ; DROP ALL",
        "SELECT * WHERE { ?s ?p ?o } \\u003B DROP ALL",
    ],
)
def test_updates_are_not_queries(query: str) -> None:
    # Virtuoso executes an update sent as `query=`: the form is decided by parsing.
    with pytest.raises(RegistryError):
        query_kind(query)


def test_a_virtuoso_url_and_sparql_urls_are_exclusive() -> None:
    with pytest.raises(config.ConfigError, match="not both"):
        config.check(
            {
                **config.DEFAULTS,
                "REGISTRY_VIRTUOSO_URL": "http://registry:pw@127.0.0.1:8890/sparql-auth",
                "REGISTRY_SPARQL_QUERY_URL": "http://127.0.0.1:7878/query",
                "REGISTRY_SPARQL_UPDATE_URL": "http://127.0.0.1:7878/update",
            }
        )
