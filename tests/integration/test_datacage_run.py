"""A whole run against real pods: the control plane queues it, the datacage worker (its own
identity, its own enclave key) claims it with attestation evidence, pulls from several real CSS
pods, runs the approved bundle in the real sandbox, gates the output and reports. Every check
looks at the effects: the registry's run record, usage records, the kept result, the pods.
"""

from __future__ import annotations

import base64
import stat
import time
from pathlib import Path

import pytest

from server.consent.usage import uses_of
from server.errors import NotAuthorized
from server.protocol.outcomes import RUNNING_STEPS, WORKER_STAGES, Stage, overall_progress
from server.runs.model import RunStatus
from server.services import services
from tests.support.datacage_world import (
    LEAK,
    SURVEY,
    consented_space,
    fill_pods,
    make_worker,
    serve_control_plane,
)

PEOPLE = 6
TELL_TALE = Path(__file__).parents[1] / "fixtures" / "hostile" / "tell_tale"
#: Every progress value the control plane may show, whatever an algorithm reports.
SHOWN = {overall_progress(Stage.RUNNING, s) for s in range(RUNNING_STEPS + 1)} | {
    overall_progress(stage) for stage in (*WORKER_STAGES, Stage.CHECKING_CONSENTS)
}


@pytest.fixture
def world(make_user, tmp_path):
    owner, cage = make_user("owner"), make_user("cage")
    people = [make_user(f"shopper{n}") for n in range(PEOPLE)]
    with serve_control_plane(tmp_path / "control", cage.webid) as (base, app):
        fill_pods(people)

        def consented(bundle: Path, name: str):
            return consented_space(app, owner.webid, people, cage.webid, bundle, name)

        space = consented(SURVEY, "Shop survey")
        worker = make_worker(base, cage, tmp_path / "cage")
        yield app, space, owner, people, worker, tmp_path, {"consented_space": consented}


def test_a_run_pulls_from_every_pod_runs_in_the_sandbox_and_keeps_a_gated_result(world):
    app, space, owner, people, worker, tmp_path, _ = world
    runs = services(app).runs
    started = runs.start(space.id, owner.webid)
    assert worker.run_once() is not None

    run = runs.store.load(started.id)
    assert run.status is RunStatus.SUCCEEDED, run.outcome
    assert run.outcome.value == "succeeded"
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
    assert run.status is RunStatus.SUCCEEDED, run.outcome
    assert run.individuals_read == PEOPLE - 1
    assert [n.value for n in run.notes] == ["pods-refused"]  # a code: never counted or named
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
    assert run.individuals_read == 0  # four read: fewer than k is not shown as a count
    assert run.outcome.value == "too-few-individuals"
    assert run.gate_passed is None
    assert not (tmp_path / "cage" / "results" / f"{run.id}.ttl").exists()


def test_only_the_deployments_datacage_may_claim_and_report(world, make_user):
    app, space, owner, _people, _worker, _tmp_path, _ = world
    started = services(app).runs.start(space.id, owner.webid)
    stranger = make_user("stranger")
    with pytest.raises(NotAuthorized, match="Only this deployment's datacage"):
        services(app).runs.claim(stranger.webid, None)  # type: ignore[arg-type]
    with pytest.raises(NotAuthorized):
        services(app).runs.report(started.id, stranger.webid, "running", 4)
    assert services(app).runs.store.load(started.id).status is RunStatus.QUEUED


def test_a_result_carrying_an_e_mail_read_from_a_pod_is_held_back_saying_only_a_code(world):
    app, _space, owner, _people, worker, tmp_path, holder = world
    leaky = holder["consented_space"](LEAK, "Leaky survey")
    runs = services(app).runs
    started = runs.start(leaky.id, owner.webid)
    worker.run_once()
    run = runs.store.load(started.id)
    assert run.status is RunStatus.FAILED
    assert run.individuals_read == PEOPLE
    assert run.gate_passed is False
    assert run.outcome.value == "output-refused"
    assert run.refusal is not None
    record = services(app).registry.read(run.iri).graph.serialize(format="nt")
    assert "@example.org" not in record
    assert "smuggling" not in record  # the log stayed in the datacage
    assert not (tmp_path / "cage" / "results" / f"{run.id}.ttl").exists()
    assert not any((tmp_path / "cage" / "work").iterdir())


def test_a_hostile_algorithms_log_exception_and_progress_never_reach_the_control_plane(world):
    """The tell-tale bundle writes every address it read, reversed, in Base64 and re-cased, to
    its log and into the exception it raises, and reports 48 bits of one as progress fifty times
    a second. Participants see a code and coarse steps; none of those words, anywhere."""
    app, _space, owner, people, worker, tmp_path, holder = world
    hostile = holder["consented_space"](TELL_TALE, "Tell-tale survey")
    runs = services(app).runs
    shown: list[float] = []
    report = runs.report

    def watched(*args, **kwargs):
        run = report(*args, **kwargs)
        shown.append(run.progress)
        return run

    runs.report = watched  # the live API calls it: what a poller could have seen
    started = runs.start(hostile.id, owner.webid)
    worker.run_once()
    run = runs.store.load(started.id)
    assert run.status is RunStatus.FAILED
    assert run.outcome.value == "algorithm-error"

    addresses = [f"shopper{n}@example.org" for n in range(len(people))]
    forms = [f for a in addresses for f in (a, a[::-1], base64.b64encode(a.encode()).decode())]
    forms += [a.upper() for a in addresses] + ["RuntimeError"]
    record = services(app).registry.read(run.iri).graph.serialize(format="nt")
    page = app.test_client()
    with page.session_transaction() as session:
        session.update(webid=owner.webid, signed_in_at=time.time(), csrf_token="t")
    html = page.get(f"/spaces/{hostile.id}/runs/{run.id}").get_data(as_text=True)
    listing = page.get(f"/spaces/{hostile.id}/runs").get_data(as_text=True)
    audit = " ".join(g.serialize(format="nt") for _, g in services(app).audit.graphs(hostile.iri))
    for text in (record, html, listing, audit):
        leaked = [f for f in forms if f.lower() in text.lower()]
        assert not leaked
    assert 'data-code="algorithm-error"' in html

    # Progress: a few fixed steps, whatever the algorithm said; never its 48-bit fractions.
    assert shown
    assert set(shown) <= SHOWN, sorted(set(shown) - SHOWN)
    assert len(shown) <= len(WORKER_STAGES) + RUNNING_STEPS
    assert not any((tmp_path / "cage" / "work").iterdir())  # the raw log went with the run
