"""DataFuse through the whole datacage: control plane, real worker, real CSS pods, real sandbox
(with the SDK bound), real gate. The seed use case needs an organisation's dataset beside the
pods, pushed encrypted to the enclave key (docs/push.md); the report goes into the data user's pod.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rdflib import Graph, Literal, URIRef

from connectors import registry
from server.attestation import TrustPolicy, measure_datacage_code
from server.attestation.admission import load_policy
from server.dashboard.figures import Consumer, Provider
from server.destinations import statuses_of
from server.provenance import verify_result
from server.push.provider import PushRequest, push_dataset
from server.runs.model import RunStatus
from server.services import services
from server.web.dashboard import dashboard
from tests.support.datacage_world import (
    consented_space,
    fill_pods,
    make_worker,
    serve_control_plane,
)
from tests.support.datafuse_samples import (
    COMMON_CUSTOMERS,
    SCHEMA,
    customer_record,
    expected_common,
    organisation_csv,
    organisation_rows,
)
from tests.support.delivery_world import add_inbox, designated
from vocab import DCG, DF, PROV, RDF, RDFS

PEOPLE = 6
SEED_PEOPLE = 8  # every third of the bank's addresses is plus-addressed: 5 match as written
REPORT = URIRef("https://w3id.org/datacage/datafuse/report#common-customers")


@pytest.fixture
def world(make_user, tmp_path):
    owner, cage = make_user("owner"), make_user("cage")
    people = [make_user(f"shopper{n}") for n in range(PEOPLE)]
    with serve_control_plane(tmp_path / "control", cage.webid) as (base, app):
        fill_pods(people)  # person n: schema:email "shopper{n}@example.org"
        space = consented_space(
            app, owner.webid, people, cage.webid, COMMON_CUSTOMERS, "Common customers"
        )
        worker = make_worker(base, cage, tmp_path / "cage")
        yield app, space, owner, people, worker, tmp_path, make_user


def test_the_builtin_bundle_runs_in_the_worker_and_needs_a_second_holder(world):
    # Approved, claimed, pulled from six real pods, run in the sandbox with the SDK bound: with
    # the pods as the only holder there is nothing to match against: the algorithm raises, and
    # participants see the code (its words are for `datacage sdk run` on samples).
    app, space, owner, _people, worker, tmp_path, _ = world
    runs = services(app).runs
    started = runs.start(space.id, owner.webid)
    assert worker.run_once() is not None
    run = runs.store.load(started.id)
    assert run.status is RunStatus.FAILED
    assert run.individuals_read == PEOPLE
    assert run.outcome.value == "algorithm-error"
    record = services(app).registry.read(run.iri).graph.serialize(format="nt")
    assert "Matching needs two data holders" not in record
    assert "@example.org" not in record
    assert not (tmp_path / "cage" / "results" / f"{run.id}.ttl").exists()


def test_check_common_demo_customers_end_to_end(make_user, tmp_path):
    """The seed use case: the individuals' pods and the bank's pushed customer list, matched in
    the datacage, and the report delivered into the data user's pod, checked against plain sets.
    """
    bank, cage = make_user("bank"), make_user("cage")  # the bank holds every role of its space
    people = [make_user(f"customer{n}") for n in range(SEED_PEOPLE)]
    with serve_control_plane(tmp_path / "control", cage.webid) as (base, app):
        fill_pods(people)
        for n, person in enumerate(people):  # the ways pods spell e-mail addresses
            body = customer_record(n).encode()
            person.client.put(person.pod + "contacts/customers.ttl", body, "text/turtle")
        space = consented_space(app, bank.webid, people, cage.webid, COMMON_CUSTOMERS, "Seed")
        add_inbox(bank)
        designated(app, space, bank, cage.webid)
        worker = make_worker(base, cage, tmp_path / "cage")
        assert worker.publish_evidence() == 1

        # The bank checks the datacage's evidence, encrypts its list to the enclave key,
        # stores it in its own folder and registers it with the space (docs/push.md).
        rows = organisation_rows(SEED_PEOPLE, range(SEED_PEOPLE))
        source = tmp_path / "bank-customers.csv"
        source.write_text(organisation_csv(rows))
        (tmp_path / "cage.pub").write_text(worker.provider.public_key_pem())
        policy = tmp_path / "policy.toml"
        policy.write_text(
            f'code_digests = ["{measure_datacage_code()}"]\n'
            f'bundle_digests = ["{space.algorithm.digest}"]\n'
            'allow_software = true\nsoftware_key_files = ["cage.pub"]\n'
        )
        share = tmp_path / "share"
        share.mkdir()
        request = PushRequest(
            control_plane=base,
            space_id=space.id,
            name="bank-customers",
            source=source,
            format="csv",
            schema=SCHEMA,
            connector=registry.get("file")({"folder": str(share), "name": "bank.dcgpush"}),
            grant_lifetime=timedelta(hours=1),
        )
        pushed = push_dataset(bank.session, request, load_policy(policy), datetime.now(UTC))
        assert b"customer1@shop.example" not in (share / "bank.dcgpush").read_bytes()

        runs = services(app).runs
        started = runs.start(space.id, bank.webid)
        assert worker.run_once() is not None
        run = runs.store.load(started.id)
        assert run.status is RunStatus.SUCCEEDED, run.outcome
        assert run.gate_passed is True

        [status] = statuses_of(services(app).registry, run.iri)
        assert status.state == "delivered", status.detail
        body = bank.client.get(status.location, accept="text/turtle").body
        report = Graph().parse(data=body, format="turtle")
        plain = expected_common(SEED_PEOPLE, rows, plus=False)
        assert len(plain) >= 5  # above the bundle's smallest reported overlap
        assert report.value(REPORT, DF.commonCustomers) == Literal(len(plain))
        assert report.value(REPORT, DF.parties) == Literal(2)
        assert report.value(REPORT, DCG.individuals) == Literal(SEED_PEOPLE)
        assert "shop.example" not in body.decode()  # counts only: no address left the cage
        # Its provenance names the bank's list by the digest of exactly what was pushed.
        [dataset] = report.subjects(RDF.type, DCG.Dataset)
        assert report.value(dataset, PROV.wasAttributedTo) == URIRef(bank.webid)
        assert report.value(dataset, RDFS.label) == Literal("bank-customers")
        digest = pushed.registered["ciphertext_digest"]
        assert report.value(dataset, DCG.digest) == Literal(digest)
        policy = TrustPolicy(
            frozenset({run.attestation.code_measurement}),
            frozenset({space.algorithm.digest}),
            allow_software=True,
            software_keys=(worker.provider.public_key_pem(),),
        )
        assert verify_result(body, policy=policy, now=run.finished_at).run == run.iri

        # The space's dashboard draws the same flow: the people's pods and the bank's pushed
        # list in, the matching algorithm, the report delivered to the bank.
        with app.app_context():
            shown = services(app).spaces.get(space.id, bank.webid)
            figures = dashboard(app).gather(shown, datetime.now(UTC))
        assert figures.flow.individuals == SEED_PEOPLE
        assert figures.flow.providers == (Provider(bank.webid, ("bank-customers",)),)
        assert figures.flow.consumers == (Consumer(bank.webid, "delivered"),)
        assert figures.datasets == 1
        assert figures.outcomes == {"Passed": 1}
