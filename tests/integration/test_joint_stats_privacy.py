"""joint-stats under a space's differential-privacy term, in the real sandbox and end to end.

The term is approved with the space's terms, handed to the algorithm in the job, applied by
joint-stats (OpenDP, bound into the sandbox), and named in the signed result's provenance.
The seed world of test_datafuse_run: real CSS pods, the bank's list pushed encrypted to the
enclave key, the real worker, sandbox, gate and delivery.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rdflib import Graph, Literal, URIRef

from connectors import registry
from datafuse.noise import DifferentialPrivacy
from server.attestation import TrustPolicy, measure_datacage_code
from server.attestation.admission import load_policy
from server.destinations import statuses_of
from server.provenance import verify_result
from server.push.provider import PushRequest, push_dataset
from server.runs.model import RunStatus
from server.sdk import run_locally
from server.services import services
from tests.support.datacage_world import (
    consented_space,
    fill_pods,
    make_worker,
    serve_control_plane,
)
from tests.support.datafuse_samples import (
    JOINT_STATS,
    SCHEMA,
    customer_record,
    expected_common,
    organisation_csv,
    organisation_rows,
    write_samples,
)
from tests.support.delivery_world import add_inbox, designated
from vocab import DCG, DF, RDF, XSD

PEOPLE = 8  # five of them are the bank's customers as written (docs of datafuse_samples)
TERM = {"epsilon": 1.0, "lower": 0.0, "upper": 200_000.0}
REPORT = URIRef("https://w3id.org/datacage/datafuse/report#joint-stats")


def figures(report: Graph) -> dict[str, float]:
    return {
        str(report.value(node, DF.statistic)): float(report.value(node, DF.value))
        for node in report.subjects(RDF.type, DF.Statistic)
        if report.value(node, DF.lowerBound) is None and report.value(node, DF.upperBound) is None
    }


def test_joint_stats_noises_its_figures_in_the_sandbox(tmp_path):
    rows = write_samples(tmp_path, 12, range(3, 12))
    term = DifferentialPrivacy(**TERM)
    noised = run_locally(JOINT_STATS, tmp_path, privacy=term)
    exact = run_locally(JOINT_STATS, tmp_path)
    assert noised.passed, noised.log
    assert exact.passed, exact.log
    incomes = [i for e, i in rows if e in expected_common(12, rows, plus=False)]
    plain = figures(Graph().parse(data=exact.result, format="turtle"))
    noisy = Graph().parse(data=noised.result, format="turtle")
    assert plain["sum"] == sum(incomes)
    assert figures(noisy)["sum"] != sum(incomes)  # Laplace noise of scale 600 000
    assert float(noisy.value(REPORT, DF.noiseEpsilon)) == 1.0
    assert "noised with epsilon 1" in noised.log


def test_a_space_with_a_privacy_term_runs_joint_stats_end_to_end(make_user, tmp_path):
    bank, cage = make_user("bank"), make_user("cage")
    people = [make_user(f"customer{n}") for n in range(PEOPLE)]
    with serve_control_plane(tmp_path / "control", cage.webid) as (base, app):
        fill_pods(people)
        for n, person in enumerate(people):
            body = customer_record(n).encode()
            person.client.put(person.pod + "contacts/customers.ttl", body, "text/turtle")
        space = consented_space(
            app, bank.webid, people, cage.webid, JOINT_STATS, "Who can afford it", privacy=TERM
        )
        assert space.terms.privacy == DifferentialPrivacy(**TERM)
        add_inbox(bank)
        designated(app, space, bank, cage.webid)
        worker = make_worker(base, cage, tmp_path / "cage")
        assert worker.publish_evidence() == 1
        rows = organisation_rows(PEOPLE, range(PEOPLE))
        push(tmp_path, base, bank, space, worker, rows)

        runs = services(app).runs
        started = runs.start(space.id, bank.webid)
        assert worker.run_once() is not None
        run = runs.store.load(started.id)
        assert run.status is RunStatus.SUCCEEDED, run.outcome

        [status] = statuses_of(services(app).registry, run.iri)
        assert status.state == "delivered", status.detail
        body = bank.client.get(status.location, accept="text/turtle").body
        report = Graph().parse(data=body, format="turtle")
        incomes = [i for e, i in rows if e in expected_common(PEOPLE, rows, plus=False)]
        assert len(incomes) >= 5
        published = figures(report)
        assert set(published) == {"count", "sum", "mean"}  # every band holds under five
        assert published["sum"] != sum(incomes)
        assert report.value(REPORT, DF.noiseEpsilon) is not None
        # The signed provenance names the approved term.
        dp = report.value(URIRef(run.iri), DCG.differentialPrivacy)
        assert dp is not None
        assert (dp, RDF.type, DCG.DifferentialPrivacy) in report
        assert report.value(dp, DCG.epsilon) == Literal(1.0, datatype=XSD.double)
        assert report.value(dp, DCG.clampLower) == Literal(0.0, datatype=XSD.double)
        assert report.value(dp, DCG.clampUpper) == Literal(200_000.0, datatype=XSD.double)
        assert str(report.value(dp, DCG.noiseMechanism)) == "laplace"
        policy = TrustPolicy(
            frozenset({run.attestation.code_measurement}),
            frozenset({space.algorithm.digest}),
            allow_software=True,
            software_keys=(worker.provider.public_key_pem(),),
        )
        assert verify_result(body, policy=policy, now=run.finished_at).run == run.iri


def push(tmp_path, base, bank, space, worker, rows) -> None:
    """The bank checks the evidence and pushes its list encrypted to the enclave key."""
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
    push_dataset(bank.session, request, load_policy(policy), datetime.now(UTC))
