"""A whole run against real pods: the control plane queues it, the datacage worker (its own
identity, its own enclave key) claims it with attestation evidence, pulls from several real CSS
pods, runs the approved bundle in the real sandbox, gates the output and reports. Every check
looks at the effects: the registry's run record, usage records, the kept result, the pods.
"""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server import create_app
from server.attestation import SoftwareAttestationProvider
from server.consent.give import give_consent
from server.consent.model import PodResource
from server.consent.usage import uses_of
from server.datacage.job import JobSettings
from server.datacage.sandbox import SandboxLimits
from server.datacage.worker import Identity, Worker
from server.errors import NotAuthorized
from server.runs.model import RunStatus
from server.services import services
from tests.support.consent_space import make_active_space
from tests.support.live_server import serve_wsgi

BUNDLES = Path(__file__).parents[1] / "fixtures" / "bundles"
SURVEY, LEAK = BUNDLES / "shop-survey", BUNDLES / "shop-leak"
REQUESTS = [
    {"kind": "path", "target": "contacts/customers.ttl", "description": "Your customer record"},
    {"kind": "path", "target": "shop/orders.csv", "description": "Your orders"},
]
PEOPLE = 6


def record(n: int) -> bytes:
    return f'<#me> <http://schema.org/email> "shopper{n}@example.org" .\n'.encode()


@pytest.fixture
def world(make_user, tmp_path):
    owner, cage = make_user("owner"), make_user("cage")
    people = [make_user(f"shopper{n}") for n in range(PEOPLE)]
    holder: dict = {}

    def build(base: str):
        app = create_app(
            {
                "TESTING": True,
                "PUBLIC_URL": base,
                "DATA_DIR": str(tmp_path / "control"),
                "REGISTRY_PATH": ":memory:",
                "DATACAGE_WEBID": cage.webid,
            }
        )
        holder["app"] = app
        return app

    with serve_wsgi(build=build) as base:
        app = holder["app"]
        for n, person in enumerate(people):
            pod = person.pod
            person.client.put(pod + "contacts/customers.ttl", record(n), "text/turtle")
            orders = "order,amount\n" + "".join(f"{i},9.50\n" for i in range(n + 1))
            person.client.put(pod + "shop/orders.csv", orders.encode(), "text/csv")

        def consented_space(bundle_source: Path, name: str):
            space = make_active_space(
                app, owner.webid, REQUESTS, bundle_source=bundle_source, name=name
            )
            for person in people:
                give_consent(
                    services(app).consents,
                    services(app).spaces.get(space.id, owner.webid),
                    person.client,
                    grantee=cage.webid,
                    resources=[
                        PodResource(person.pod + "contacts/customers.ttl"),
                        PodResource(person.pod + "shop/orders.csv"),
                    ],
                    storage=person.pod,
                    clock=lambda: datetime.now(UTC),
                )
            return space

        space = consented_space(SURVEY, "Shop survey")
        worker = Worker(
            base,
            Identity(cage.credentials.issuer, cage.credentials.id, cage.credentials.secret),
            SoftwareAttestationProvider(tmp_path / "cage" / "attestation"),
            JobSettings(
                work_root=tmp_path / "cage" / "work",
                results_dir=tmp_path / "cage" / "results",
                sandbox=SandboxLimits(wall_seconds=30, cpu_seconds=20),
            ),
        )
        holder.update(consented_space=consented_space)
        yield app, space, owner, people, worker, tmp_path, holder


def test_a_run_pulls_from_every_pod_runs_in_the_sandbox_and_keeps_a_gated_result(world):
    app, space, owner, people, worker, tmp_path, _ = world
    runs = services(app).runs
    started = runs.start(space.id, owner.webid)
    assert worker.run_once() is not None

    run = runs.store.load(started.id)
    assert run.status is RunStatus.SUCCEEDED, run.problems
    assert run.individuals_included == run.individuals_read == PEOPLE
    assert run.gate_passed is True
    assert run.attestation is not None
    assert run.attestation.provider.startswith("software")
    assert run.attestation.bundle_digest == run.algorithm_digest
    # 1 + 2 + ... + PEOPLE orders, counted inside the sandbox from every pod's CSV.
    result = tmp_path / "cage" / "results" / f"{run.id}.ttl"
    assert stat.S_IMODE(result.stat().st_mode) == 0o600
    text = result.read_text()
    assert f"{PEOPLE * (PEOPLE + 1) // 2}" in text
    assert run.result_digest
    assert run.result_size == len(text.encode())
    assert "read 6 people" in run.log
    # Every person's My data lists the run, with the versions read.
    for person in people:
        uses = uses_of(services(app).registry, person.webid)
        assert [u.run for u in uses] == [run.iri]
        assert {r.url for r in uses[0].reads} == {
            person.pod + "contacts/customers.ttl",
            person.pod + "shop/orders.csv",
        }
        assert all(r.version for r in uses[0].reads)
    # Nothing of the inputs stays in the datacage's work area.
    assert not any((tmp_path / "cage" / "work").iterdir())


def test_a_pod_that_refuses_counts_as_withdrawn_and_too_few_people_stop_the_run(world):
    app, space, owner, people, worker, tmp_path, _ = world
    runs, cage = services(app).runs, services(app).runs.datacage_webid()
    # One person takes the grant back in their own pod: the datacage gets a 403.
    people[0].client.access_control(people[0].pod + "shop/orders.csv").revoke(cage)
    first = runs.start(space.id, owner.webid)
    worker.run_once()
    run = runs.store.load(first.id)
    assert run.status is RunStatus.SUCCEEDED, run.problems
    assert run.individuals_read == PEOPLE - 1
    assert any("refused the read" in p for p in run.problems)
    assert people[0].pod not in " ".join(run.problems)  # counted, never named
    history = services(app).consents.history(space.iri, people[0].webid)
    assert history.consents[-1].withdrawn_at is not None
    assert uses_of(services(app).registry, people[0].webid) == []

    # A second one leaves: four people are fewer than the space's five, so nothing runs.
    people[1].client.access_control(people[1].pod + "contacts/customers.ttl").revoke(cage)
    second = runs.start(space.id, owner.webid)
    worker.run_once()
    run = runs.store.load(second.id)
    assert run.status is RunStatus.FAILED
    assert run.individuals_included == PEOPLE - 1  # the first one's withdrawal counted
    assert run.individuals_read == PEOPLE - 2
    assert any("needs at least 5" in p for p in run.problems)
    assert run.gate_passed is None
    assert run.log == ""  # the algorithm never ran
    assert not (tmp_path / "cage" / "results" / f"{run.id}.ttl").exists()


def test_only_the_deployments_datacage_may_claim_and_report(world, make_user):
    app, space, owner, _people, _worker, _tmp_path, _ = world
    started = services(app).runs.start(space.id, owner.webid)
    stranger = make_user("stranger")
    with pytest.raises(NotAuthorized, match="Only this deployment's datacage"):
        services(app).runs.claim(stranger.webid, None)  # type: ignore[arg-type]
    with pytest.raises(NotAuthorized):
        services(app).runs.report(started.id, stranger.webid, "Done", 1.0)
    assert services(app).runs.store.load(started.id).status is RunStatus.QUEUED


def test_a_result_carrying_an_e_mail_read_from_a_pod_is_held_back_and_the_log_scrubbed(world):
    app, _space, owner, _people, worker, tmp_path, holder = world
    leaky = holder["consented_space"](LEAK, "Leaky survey")
    runs = services(app).runs
    started = runs.start(leaky.id, owner.webid)
    worker.run_once()
    run = runs.store.load(started.id)
    assert run.status is RunStatus.FAILED
    assert run.individuals_read == PEOPLE
    assert run.gate_passed is False
    assert any("e-mail address read from a pod" in r for r in run.gate_reasons), run.gate_reasons
    # Neither the verdict, the problems nor the log repeat the address.
    everything = " ".join([run.log, *run.gate_reasons, *run.problems])
    assert "@example.org" not in everything
    assert "smuggling [removed]" in run.log
    assert not (tmp_path / "cage" / "results" / f"{run.id}.ttl").exists()
    assert not any((tmp_path / "cage" / "work").iterdir())
