"""A participant's audit query against a real `oxigraph serve` registry: it must read nothing.

The registry holds every space's graphs; an audit query is meant to see one space's trail.
A SERVICE clause aimed at the registry's endpoint (plain, or hidden by an escape the checker
once read differently from the engine) must neither reach it nor return its data.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest
import requests
from rdflib import Graph

from server.audit import query
from server.audit.query_sandbox import QueryRefused, run_isolated
from tests.support.oxigraph import OxigraphServer

SECRET = "another-space-secret"
JSON = ["application/sparql-results+json"]


@pytest.fixture(scope="module")
def registry() -> Iterator[OxigraphServer]:
    with OxigraphServer() as server:
        update = f'INSERT DATA {{ GRAPH <urn:other-space> {{ <urn:s> <urn:p> "{SECRET}" }} }}'
        requests.post(server.update_url, data={"update": update}, timeout=10).raise_for_status()
        yield server


def _trail() -> list[tuple[str, Graph]]:
    graph = Graph()
    graph.parse(data="<urn:a> <urn:b> <urn:c> .", format="turtle")
    return [("urn:entry:1", graph)]


def test_the_registry_really_holds_the_secret(registry):
    found = requests.get(
        registry.query_url,
        params={"query": "SELECT ?o WHERE { GRAPH ?g { ?s ?p ?o } }"},
        headers={"Accept": JSON[0]},
        timeout=10,
    )
    assert SECRET in found.text


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * WHERE { SERVICE <URL> { GRAPH ?g { ?s ?p ?o } } }",
        'SELECT * WHERE { BIND("\\u0022" AS ?a) SERVICE <URL> { GRAPH ?g { ?s ?p ?o } } }\n'
        '# """ AS ?a) }',
        "SELECT * WHERE { \\u0053ERVICE <URL> { GRAPH ?g { ?s ?p ?o } } }",
    ],
)
def test_an_audit_query_cannot_read_the_registry(registry, text):
    try:
        body, _ = query.run_query(_trail(), text.replace("URL", registry.query_url), JSON)
    except QueryRefused:
        return
    assert SECRET not in body.decode()


def test_the_engine_cannot_reach_the_registry_even_unchecked(registry):
    text = f"SELECT * WHERE {{ SERVICE <{registry.query_url}> {{ GRAPH ?g {{ ?s ?p ?o }} }} }}"
    request = json.dumps({"query": text, "accept": JSON}).encode() + b"\n"
    with pytest.raises(QueryRefused) as refused:
        run_isolated(
            [sys.executable, "-I", str(query._CHILD)], request, seconds=10, max_bytes=1 << 20
        )
    assert SECRET not in str(refused.value)
