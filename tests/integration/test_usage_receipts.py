"""Usage records in individuals' pods, against real CSS servers (WAC and ACP): after a whole run
each person finds the record next to their consent receipt, readable by them alone; the datacage
may only add to it; retries never duplicate; old consents and withdrawn ones are counted, never
crash the run."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from rdflib import Graph, Literal, URIRef

from connectors.solid import errors as solid_errors
from server import create_app
from server.audit import verify_space
from server.consent.give import give_consent
from server.consent.model import PodResource
from server.consent.usage import Read, uses_of
from server.consent.withdraw import mark_withdrawn, remove_from_pod
from server.datacage.usage_receipts import Use, record_url, write_usage_receipts
from server.runs.model import RunStatus
from server.services import services
from tests.support.consent_space import make_active_space
from tests.support.datacage_world import (
    REQUESTS,
    SURVEY,
    consented_space,
    fill_pods,
    make_worker,
    serve_control_plane,
)
from vocab import DCG, DPV, PROV

PEOPLE = 5


def now() -> datetime:
    return datetime.now(UTC)


def forbidden(client, url: str) -> bool:
    try:
        client.get(url)
    except (solid_errors.Forbidden, solid_errors.Unauthenticated):
        return True
    return False


@pytest.fixture
def world(make_user, tmp_path):
    owner, cage, stranger = make_user("owner"), make_user("cage"), make_user("stranger")
    people = [make_user(f"reader{n}") for n in range(PEOPLE)]
    with serve_control_plane(tmp_path / "control", cage.webid) as (base, app):
        fill_pods(people)
        space = consented_space(app, owner.webid, people, cage.webid, SURVEY, "Receipts")
        worker = make_worker(base, cage, tmp_path / "cage")
        yield app, space, owner, people, cage, stranger, worker


def test_after_a_run_each_person_has_a_usage_record_only_they_can_read(world):
    app, space, owner, people, cage, stranger, worker = world
    # One person consented before usage records existed: their consent grants no Append.
    old = people[0]
    consents = services(app).consents

    def forget(history):
        history.consents[-1].usage_records = None

    consents.change(space.iri, old.webid, forget)

    run = services(app).runs.start(space.id, owner.webid)
    assert worker.run_once() is not None
    run = services(app).runs.store.load(run.id)
    assert run.status is RunStatus.SUCCEEDED, run.outcome
    assert [n.value for n in run.notes] == ["usage-records-not-kept"]  # a code, no count

    for person in people[1:]:
        consent = consents.history(space.iri, person.webid).consents[-1]
        url = f"{consent.usage_records}{run.id}.ttl"
        assert consent.usage_records.startswith(person.pod + "consent-receipts/")
        graph, _ = person.client.get_graph(url)
        record = URIRef(url + "#use")
        assert (record, PROV.wasGeneratedBy, URIRef(run.iri)) in graph
        assert (record, DCG.underConsent, URIRef(consent.iri)) in graph
        assert set(graph.objects(record, DPV.hasPurpose)) == {URIRef(p) for p in consent.purposes}
        # The space's consumer designated no container, so no result went anywhere: the
        # record says so (test_result_delivery checks the consumer named once one is reached).
        assert set(graph.objects(record, DCG.resultsSentTo)) == set()
        read = {
            str(graph.value(node, PROV.specializationOf)): graph.value(node, DCG.inputVersion)
            for node in graph.objects(URIRef(run.iri), PROV.used)
        }
        assert set(read) == {person.pod + "contacts/customers.ttl", person.pod + "shop/orders.csv"}
        assert all(isinstance(v, Literal) and str(v) for v in read.values())
        assert graph.value(record, PROV.generatedAtTime) is not None
        # Nobody else may read it; the datacage may only add to it, not read it back.
        assert forbidden(stranger.client, url)
        assert forbidden(cage.client, url)
        assert forbidden(people[0].client, url)
        # My data shows the same facts, consumers included.
        uses = uses_of(services(app).registry, person.webid)
        assert [(u.run, u.results_sent_to) for u in uses] == [(run.iri, ())]
    assert not person_has_records(old, run.id)
    # The run's events are in the space's trail, chained.
    trail = services(app).audit
    actions = [e.event.action for e in trail.entries(space.iri)]
    assert actions.count("consent-given") == PEOPLE
    # The consumer has no container, so the delivery ends at once ("no-destination").
    pulls = ["data-pulled"] * PEOPLE
    assert actions[-(PEOPLE + 4) :] == [
        "run-started",
        "run-claimed",
        *pulls,
        "delivery-failed",
        "run-finished",
    ]
    assert verify_space(trail, services(app).registry, space.iri).entries == len(actions)


def person_has_records(person, run_id: str) -> bool:
    receipts = person.pod + "consent-receipts/"
    return any(
        entry.url.endswith(f"{run_id}.ttl") for entry in person.client.walk(receipts, limit=100)
    )


def test_a_retry_does_not_duplicate_and_a_withdrawn_consent_is_counted(world):
    app, space, owner, people, cage, _, _ = world
    consents = services(app).consents
    uses = []
    for person in people:
        consent = consents.history(space.iri, person.webid).consents[-1]
        uses.append(
            Use(
                consent.iri,
                consent.usage_records,
                consent.purposes,
                (Read(person.pod + "shop/orders.csv", '"v1"'),),
                now(),
            )
        )
    arguments = dict(
        run_iri=f"{space.iri}/runs/r1",
        run_id="r1",
        space_iri=space.iri,
        digest="sha256:" + "1" * 64,
        consumers=[owner.webid],
    )
    first = write_usage_receipts(cage.client, uses, **arguments)
    assert (first.written, first.failed, first.skipped_old) == (PEOPLE, 0, 0)
    size = len(people[1].client.get_graph(record_url(uses[1], "r1"))[0])
    again = write_usage_receipts(cage.client, uses, **arguments)
    assert again.written == PEOPLE
    assert len(people[1].client.get_graph(record_url(uses[1], "r1"))[0]) == size

    # Withdrawn, and the grants taken out of the pod: the datacage can no longer add records.
    leaver = people[2]
    consent = consents.history(space.iri, leaver.webid).consents[-1]
    consent = mark_withdrawn(consents, consent, reason="You withdrew it.", now=now())
    assert remove_from_pod(consents, leaver.client, consent, now) == []
    later = write_usage_receipts(cage.client, uses, **{**arguments, "run_id": "r2"})
    assert (later.written, later.failed) == (PEOPLE - 1, 1)
    assert later.problems == ["1 usage record(s) could not be written into their owners' pods."]
    assert "r2.ttl" not in str([e.url for e in leaver.client.walk(consent.usage_records)])


def test_on_access_control_policies_the_datacage_may_only_append(make_acp_user, tmp_path):
    owner, person, cage, stranger = (make_acp_user(n) for n in ("owner", "person", "cage", "other"))
    app = create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": "http://dc.example/",
            "DATA_DIR": str(tmp_path),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": cage.webid,
        }
    )
    fill_pods([person])
    space = make_active_space(app, owner.webid, REQUESTS, bundle_source=SURVEY)
    consent = give_consent(
        services(app).consents,
        space,
        person.client,
        grantee=cage.webid,
        resources=[PodResource(person.pod + "shop/orders.csv")],
        storage=person.pod,
        clock=now,
    )
    assert consent.access_system == "ACP"
    use = Use(consent.iri, consent.usage_records, consent.purposes, (), now())
    report = write_usage_receipts(
        cage.client,
        [use],
        run_iri=f"{space.iri}/runs/a1",
        run_id="a1",
        space_iri=space.iri,
        digest="sha256:" + "2" * 64,
        consumers=[owner.webid],
    )
    assert report.written == 1, report
    url = record_url(use, "a1")
    graph: Graph = person.client.get_graph(url)[0]
    assert (URIRef(url + "#use"), DCG.underConsent, URIRef(consent.iri)) in graph
    assert forbidden(stranger.client, url)
    assert forbidden(cage.client, url)
    with pytest.raises(solid_errors.SolidError):
        cage.client.delete(url)
    # Withdrawal takes the Append back.
    consent = mark_withdrawn(services(app).consents, consent, reason="You withdrew it.", now=now())
    assert remove_from_pod(services(app).consents, person.client, consent, now) == []
    refused = write_usage_receipts(
        cage.client,
        [use],
        run_iri=f"{space.iri}/runs/a2",
        run_id="a2",
        space_iri=space.iri,
        digest="sha256:" + "2" * 64,
        consumers=[],
    )
    assert refused.failed == 1


def test_the_trail_answers_a_participant_s_dpop_token_and_refuses_another(make_user, tmp_path):
    owner, stranger, cage = make_user("owner"), make_user("stranger"), make_user("cage")
    with serve_control_plane(tmp_path / "control", cage.webid) as (base, app):
        space = make_active_space(app, owner.webid, REQUESTS, bundle_source=SURVEY)
        query = urlencode({"query": "ASK { ?e dcg:auditAction 'terms-approved' }"})
        url = f"{base}spaces/{space.id}/audit/sparql?{query}"
        accept = {"Accept": "application/sparql-results+json"}
        answer = owner.client.session.request("GET", url, headers=accept)
        assert answer.status_code == 200, answer.text
        assert answer.json()["boolean"] is True
        refused = stranger.client.session.request("GET", url, headers=accept)
        assert refused.status_code == 403
