"""A space's differential-privacy term: set by form or API, approved, stored, handed on, described.

Uses test_api's hermetic app (in-memory registry, sessions set directly): its fixtures are
imported by name, which ruff takes for redefinitions.
"""

# ruff: noqa: F811

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest
from rdflib import Graph, Literal, URIRef

from datafuse.noise import DifferentialPrivacy
from server.datacage.control_plane import ControlPlaneError
from server.datacage.control_plane import Job as CageJob
from server.datacage.job import with_terms
from server.provenance.describe import RunFacts, describe
from server.spaces.model import Space, Terms, terms_digest
from server.spaces.rdf import from_graph, to_graph
from server.spaces.validation import check_space
from tests.support.web_api import (  # noqa: F401 - fixtures used by name
    ALICE,
    BOB,
    FORM,
    OWNER,
    SPACE,
    app,
    bundle,
    callers,
    clean_environment,
    create,
    problem,
    register,
    space,
    wrong_state,
)
from vocab import DCG, XSD

TERM = {"epsilon": 1.0, "lower": 0, "upper": 250_000}
GOOD = {
    "name": "Who can afford the car",
    "description": "",
    "purposes": ["Marketing"],
    "legal_basis": "Consent",
    "retention": "P90D",
    "data_requests": [],
}


def test_the_term_is_read_checked_and_left_out_when_not_given():
    assert check_space(**GOOD).terms.privacy is None
    term = check_space(**GOOD, privacy=TERM).terms.privacy
    assert term == DifferentialPrivacy(epsilon=1.0, lower=0.0, upper=250_000.0)


def test_the_term_is_in_the_digest_and_a_space_without_it_keeps_its_old_digest():
    base = check_space(**GOOD).terms
    record = Space("s", "https://cp.example/spaces/s", "n", "", OWNER, datetime.now(UTC), base)
    algorithm = _algorithm()
    before = terms_digest(record, algorithm)
    # The digest of a space without the term is what it was before the term existed.
    legacy = dataclasses.replace(base)
    assert terms_digest(dataclasses.replace(record, terms=legacy), algorithm) == before
    noised = dataclasses.replace(base, privacy=DifferentialPrivacy(1.0, 0, 100))
    with_term = terms_digest(dataclasses.replace(record, terms=noised), algorithm)
    assert with_term != before
    more = dataclasses.replace(base, privacy=DifferentialPrivacy(2.0, 0, 100))
    assert terms_digest(dataclasses.replace(record, terms=more), algorithm) != with_term


def test_the_term_survives_the_spaces_graph():
    term = DifferentialPrivacy(epsilon=0.5, lower=-10.0, upper=1e6)
    terms = Terms(("https://w3id.org/dpv#Marketing",), "https://w3id.org/dpv#Consent", "P1Y", ())
    record = Space(
        "s",
        "https://cp.example/spaces/s",
        "n",
        "",
        OWNER,
        datetime(2026, 1, 1, tzinfo=UTC),
        dataclasses.replace(terms, privacy=term),
    )
    graph = to_graph(record)
    node = URIRef(record.iri + "/terms/differential-privacy")
    assert (URIRef(record.iri), DCG.differentialPrivacy, node) in graph
    assert graph.value(node, DCG.epsilon) == Literal(0.5, datatype=XSD.double)
    assert from_graph(record.iri, graph, revision=1).terms.privacy == term
    plain = to_graph(dataclasses.replace(record, terms=terms))
    assert from_graph(record.iri, plain, revision=1).terms.privacy is None


def test_the_api_sets_shows_and_refuses_terms(callers):
    owner = callers[OWNER]
    made = create(owner, differential_privacy=TERM)
    assert made["differential_privacy"] == {"mechanism": "laplace", **TERM}
    bad = owner.post(
        "/api/spaces",
        json={**SPACE, "roles": ["data-consumer"], "differential_privacy": {"epsilon": 0}},
    )
    body = problem(bad, 422)
    fields = body["fields"] if "fields" in body else body["errors"]
    assert "more than 0" in " ".join(fields["dp_epsilon"])
    assert "number" in " ".join(fields["dp_lower"])
    wrong_type = owner.post(
        "/api/spaces", json={**SPACE, "roles": ["data-consumer"], "differential_privacy": 1}
    )
    assert wrong_type.status_code == 422


def test_approvals_given_before_the_term_changed_are_refused(callers, space):
    owner, alice, url = callers[OWNER], callers[ALICE], f"/api/spaces/{space['id']}"
    register(callers[BOB], space, bundle())
    seen = owner.post(f"{url}/submit").get_json()["terms_digest"]
    assert owner.put(url, json={**SPACE, "differential_privacy": TERM}).status_code == 200
    approving = alice.post(f"{url}/approvals", json={"terms_digest": seen})
    assert "terms changed" in wrong_state(approving)


def test_the_form_sets_the_term_and_shows_it_back(callers):
    owner = callers[OWNER]
    new = owner.get("/spaces/new").get_data(as_text=True)
    assert "checked" not in re.search(r'id="dp_enabled"[^>]*', new)[0]
    typed = {
        **FORM,
        "dp_enabled": "yes",
        "dp_epsilon": "0.5",
        "dp_lower": "0",
        "dp_upper": "200000",
    }
    created = owner.post("/spaces", data=typed)
    assert created.status_code == 303, created.get_data(as_text=True)
    page = owner.get(created.headers["Location"]).get_data(as_text=True)
    assert "Laplace noise, epsilon 0.5 per run; values clamped to 0 to 200000" in page
    made = owner.get("/api/spaces").get_json()["spaces"][0]
    assert made["differential_privacy"]["epsilon"] == 0.5
    edit = owner.get(f"/spaces/{made['id']}/edit").get_data(as_text=True)
    assert re.search(r'id="dp_enabled"[^>]*checked', edit)
    assert re.search(r'id="dp_upper"[^>]*value="200000"', edit)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"dp_epsilon": "0"}, "dp_epsilon", "more than 0"),
        ({"dp_epsilon": "nan"}, "dp_epsilon", "as a number"),
        ({"dp_epsilon": "lots"}, "dp_epsilon", "as a number"),
        ({"dp_lower": "10", "dp_upper": "5"}, "dp_upper", "more than the lower bound"),
        ({"dp_upper": ""}, "dp_upper", "as a number"),
    ],
)
def test_a_bad_term_in_the_form_is_shown_next_to_its_field(callers, changes, field, words):
    typed = {**FORM, "dp_enabled": "yes", "dp_epsilon": "1", "dp_lower": "0", "dp_upper": "9"}
    response = callers[OWNER].post("/spaces", data={**typed, **changes})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'id="{field}-error">[^<]*{words}', page)
    assert f'href="#{field}"' in page
    assert "Traceback" not in page


def test_an_unticked_term_is_no_term_whatever_was_typed(callers):
    response = callers[OWNER].post("/spaces", data={**FORM, "dp_epsilon": "-3"})
    assert response.status_code == 303
    assert callers[OWNER].get("/api/spaces").get_json()["spaces"][0]["differential_privacy"] is None


def test_the_job_hands_the_term_to_the_algorithm_and_refuses_a_bad_one():
    body = {
        "run": {"id": "r", "iri": "https://cp.example/runs/r"},
        "space": {
            "iri": "https://cp.example/spaces/s",
            "name": "n",
            "min_individuals": 5,
            "differential_privacy": {"mechanism": "laplace", **TERM},
        },
        "algorithm": {"digest": "sha256:" + "a" * 64, "parameters": {"bands": "1,2"}},
        "consents": [],
    }
    job = CageJob.from_json(body)
    assert job.privacy == DifferentialPrivacy(1.0, 0.0, 250_000.0)
    assert with_terms(job.parameters, job.privacy) == {
        "bands": "1,2",
        "datacage:differential_privacy": {"mechanism": "laplace", **TERM},
    }
    assert with_terms(job.parameters, None) == {"bands": "1,2"}
    body["space"]["differential_privacy"] = {"epsilon": -1, "lower": 0, "upper": 1}
    with pytest.raises(ControlPlaneError, match=r"cannot read.*more than 0"):
        CageJob.from_json(body)


def test_the_provenance_names_the_term():
    facts = RunFacts(
        run_iri="https://cp.example/runs/r",
        space_iri="https://cp.example/spaces/s",
        purposes=(),
        algorithm_digest="sha256:" + "a" * 64,
        datacage="https://cage.example/#me",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        ended_at=datetime(2026, 1, 1, tzinfo=UTC),
        evidence="{}",
        provider="software",
        code_measurement="sha256:" + "c" * 64,
        key_thumbprint="t",
        result_digest="sha256:" + "d" * 64,
        inputs=(),
        privacy=DifferentialPrivacy(0.5, 0.0, 100.0),
    )
    graph = describe(Graph(), facts)
    node = graph.value(URIRef(facts.run_iri), DCG.differentialPrivacy)
    assert node == URIRef(facts.run_iri + "#differential-privacy")
    assert graph.value(node, DCG.epsilon) == Literal(0.5, datatype=XSD.double)
    assert graph.value(node, DCG.clampUpper) == Literal(100.0, datatype=XSD.double)
    assert str(graph.value(node, DCG.noiseMechanism)) == "laplace"
    plain = describe(Graph(), dataclasses.replace(facts, privacy=None))
    assert plain.value(URIRef(facts.run_iri), DCG.differentialPrivacy) is None


def _algorithm():
    from server.spaces.model import Algorithm

    return Algorithm(
        "sha256:" + "a" * 64,
        "a",
        "1",
        "",
        "m:f",
        ("E",),
        (),
        "sha256:" + "b" * 64,
        OWNER,
        datetime(2026, 1, 1, tzinfo=UTC),
    )
