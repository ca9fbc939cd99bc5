"""The audit trail through the service layer and the web: what each action appends, who may read
a space's trail, and the SPARQL endpoint's refusals (updates, SERVICE, other graphs)."""

# ruff: noqa: F811 - the shared fixtures (tests/support) are parameters of the tests

from __future__ import annotations

import json
import time

from rdflib import Dataset, Graph

from server.audit import verify_space
from server.audit.entry import entry_iri
from server.services import services
from tests.support.web_api import (  # noqa: F401 - shared, fixtures by name
    ALICE,
    BOB,
    OWNER,
    STRANGER,
    Caller,
    app,
    bundle,
    callers,
    clean_environment,
    create,
    problem,
    register,
    space,
)

SELECT = "SELECT ?action WHERE { ?e dcg:sequence ?n ; dcg:auditAction ?action } ORDER BY ?n"


def actions(caller, space_id: str) -> list[str]:
    response = caller.get(f"/spaces/{space_id}/audit/sparql", query_string={"query": SELECT})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/sparql-results+json"
    rows = response.get_json(force=True)["results"]["bindings"]
    return [row["action"]["value"] for row in rows]


def test_each_action_is_appended_after_it_is_saved_and_a_refused_one_is_not(app, callers, space):
    owner, bob = callers[OWNER], callers[BOB]
    register(bob, space, bundle("1.0.0"))
    # Refused: only the owner submits. Nothing may be logged for it.
    assert bob.post(f"/api/spaces/{space['id']}/submit").status_code == 403
    assert owner.post(f"/api/spaces/{space['id']}/submit").status_code == 200
    assert actions(owner, space["id"]) == [
        "space-created",
        "participant-invited",
        "participant-joined",
        "participant-invited",
        "participant-joined",
        "algorithm-registered",
        "terms-submitted",
    ]
    with app.app_context():
        trail = services(app).audit
        entries = trail.entries(space["iri"])
        assert verify_space(trail, services(app).registry, space["iri"]).entries == 7
    joined = entries[2]
    assert joined.event.agent == ALICE  # organisations act under their WebID
    assert entries[0].event.agent == OWNER


def test_only_participants_may_read_the_trail(callers, space):
    url = f"/spaces/{space['id']}/audit"
    assert callers[ALICE].get(url).status_code == 200
    for path in ("", "/sparql?query=ASK%7B%7D", "/export", "/0"):
        problem(callers[STRANGER].get(url + path, headers={"Accept": "application/json"}), 403)
        problem(callers["nobody"].get(url + path, headers={"Accept": "application/json"}), 401)
    # An invitee who has not joined yet is not a participant either.
    invited = callers[OWNER].post(
        f"/api/spaces/{space['id']}/invitations",
        json={"webid": STRANGER, "roles": ["data-provider"]},
    )
    assert invited.status_code == 201
    problem(callers[STRANGER].get(url + "/export", headers={"Accept": "application/json"}), 403)


def test_the_page_lists_entries_and_says_the_chain_is_intact(callers, space):
    page = callers[ALICE].get(f"/spaces/{space['id']}/audit").get_data(as_text=True)
    assert "The chain is intact: 5 entries" in page
    assert 'id="entry-4"' in page
    assert "participant-joined" in page


def test_sparql_refuses_updates_service_and_sees_no_other_graph(app, callers, space):
    alice = callers[ALICE]
    url = f"/spaces/{space['id']}/audit/sparql"
    for query in (
        "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
        "DROP ALL",
        "SELECT * WHERE { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }",
        "SELECT * WHERE {",
    ):
        body = problem(alice.get(url, query_string={"query": query}), 400)
        assert body["type"].endswith("/api/problems/sparql-query")
    problem(alice.post(url, data={"update": "DROP ALL"}), 400)
    # The space record itself, the consents and every other space's trail are not in the dataset.
    other = create(callers[OWNER], name="Another")
    ask = f"ASK {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?g), '{other['iri']}')) }}"
    assert alice.get(url, query_string={"query": ask}).get_json(force=True)["boolean"] is False
    for target in (space["iri"], other["iri"] + "/audit/0"):
        ask = f"ASK {{ GRAPH <{target}> {{ ?s ?p ?o }} }}"
        answer = alice.get(url, query_string={"query": ask}).get_json(force=True)
        assert answer["boolean"] is False
        # FROM names no graph of the registry either: only the trail is there to read.
        from_clause = "SELECT ?s FROM <" + target + "> WHERE { ?s ?p ?o }"  # noqa: S608
        rows = alice.get(url, query_string={"query": from_clause}).get_json(force=True)
        subjects = {row["s"]["value"] for row in rows["results"]["bindings"]}
        assert all(s.startswith(space["iri"] + "/audit/") for s in subjects)
    # POST as application/sparql-query, CONSTRUCT as Turtle.
    construct = "CONSTRUCT { ?e dcg:auditAction ?a } WHERE { ?e dcg:auditAction ?a }"
    response = alice.post(
        url,
        data=construct,
        content_type="application/sparql-query",
        headers={"Accept": "text/turtle"},
    )
    assert response.status_code == 200
    assert len(Graph().parse(data=response.get_data(as_text=True), format="turtle")) == 5


def test_export_in_three_formats_holds_every_entry(callers, space):
    url = f"/spaces/{space['id']}/audit/export"
    turtle = callers[ALICE].get(url, query_string={"format": "turtle"})
    assert "attachment" in turtle.headers["Content-Disposition"]
    graph = Graph().parse(data=turtle.get_data(as_text=True), format="turtle")
    quads = callers[ALICE].get(url, query_string={"format": "nquads"})
    dataset = Dataset().parse(data=quads.get_data(as_text=True), format="nquads")
    names = {str(g.identifier) for g in dataset.graphs() if len(g)}
    assert names == {entry_iri(space["iri"], n) for n in range(5)}
    jsonld = callers[ALICE].get(url, query_string={"format": "jsonld"})
    assert json.loads(jsonld.get_data(as_text=True))
    assert len(graph) == sum(len(g) for g in dataset.graphs())
    problem(
        callers[ALICE].get(
            url, query_string={"format": "xls"}, headers={"Accept": "application/json"}
        ),
        400,
    )


def test_an_entry_iri_answers_with_its_rdf(callers, space):
    response = callers[ALICE].get(
        f"/spaces/{space['id']}/audit/0", headers={"Accept": "text/turtle"}
    )
    assert response.status_code == 200
    assert "space-created" in response.get_data(as_text=True)
    assert callers[ALICE].get(f"/spaces/{space['id']}/audit/0").status_code == 303


def test_the_openapi_document_lists_the_audit_routes(app):
    import re

    from server.web.openapi import AUDIT_PATHS

    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("audit.sparql", "audit.download"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routes[path] = {m.lower() for m in rule.methods or ()} - {"head", "options"}
    assert {path: set(item) - {"parameters"} for path, item in AUDIT_PATHS.items()} == routes
    served = app.test_client().get("/api/openapi.json").get_json()
    assert set(AUDIT_PATHS) <= set(served["paths"])


def test_a_query_that_never_ends_is_stopped(callers, space, monkeypatch):
    from server.audit import query

    monkeypatch.setattr(query, "QUERY_SECONDS", 1)
    endless = (
        "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o ."
        " ?p ?q ?r . ?s ?t ?u }"
    )
    url = f"/spaces/{space['id']}/audit/sparql"
    started = time.monotonic()
    body = problem(callers[ALICE].get(url, query_string={"query": endless}), 400)
    assert "longer than 1 seconds" in body["detail"]
    assert time.monotonic() - started < 10
    # The server still answers the next one.
    assert actions(callers[ALICE], space["id"])[0] == "space-created"
