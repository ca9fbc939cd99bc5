"""Results delivered into the consumer's pod on the real CSS: signed, readable by the consumer
only, announced in their inbox, verifiable with `datacage verify-result`, and retried from a
queue on disk until they land exactly once."""

from __future__ import annotations

import secrets
import stat
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import requests
from click.testing import CliRunner
from rdflib import Graph, Literal, URIRef

from connectors.solid import SolidClient, SolidSession
from connectors.solid import errors as solid_errors
from connectors.solid.css import CommunitySolidServer, CssAccountApi
from connectors.solid.css.process import free_loopback_port
from server.attestation import TrustPolicy
from server.cli import main as cli
from server.consent.usage import uses_of
from server.datacage.delivery import DeliverySettings, deliver
from server.destinations import Destination, statuses_of
from server.provenance import ResultNotAuthentic, verify_result
from server.runs.model import RunStatus
from server.services import services
from tests.support.datacage_world import (
    SURVEY,
    consented_space,
    fill_pods,
    make_worker,
    serve_control_plane,
)
from tests.support.delivery_world import add_inbox, designated
from vocab import DCG, DPV, PROV, RDF

PEOPLE = 5
FAST = DeliverySettings(
    first_backoff_s=0.0, longest_backoff_s=0.0, max_attempts=3, held_retry_s=0.0
)


@pytest.fixture
def world(make_user, tmp_path):
    owner, cage = make_user("consumer"), make_user("cage")
    people = [make_user(f"shopper{n}") for n in range(PEOPLE)]
    with serve_control_plane(tmp_path / "control", cage.webid) as (base, app):
        fill_pods(people)
        space = consented_space(app, owner.webid, people, cage.webid, SURVEY, "Shop survey")
        inbox = add_inbox(owner)
        yield {
            "app": app,
            "base": base,
            "space": space,
            "owner": owner,
            "cage": cage,
            "people": people,
            "inbox": inbox,
            "tmp": tmp_path,
        }


def _policy(app, run, worker) -> TrustPolicy:
    return TrustPolicy(
        frozenset({run.attestation.code_measurement}),
        frozenset({run.algorithm_digest}),
        allow_software=True,
        software_keys=(worker.provider.public_key_pem(),),
    )


def test_a_result_lands_in_the_consumers_container_signed_private_and_announced(world):
    app, owner, cage = world["app"], world["owner"], world["cage"]
    done = designated(app, world["space"], owner, cage.webid)
    assert any("Append" in line for line in done.done)
    worker = make_worker(world["base"], cage, world["tmp"] / "cage")
    runs = services(app).runs
    started = runs.start(world["space"].id, owner.webid)
    assert worker.run_once() is not None
    run = runs.store.load(started.id)
    assert run.status is RunStatus.SUCCEEDED, run.outcome

    [status] = statuses_of(services(app).registry, run.iri)
    assert (status.state, status.attempts, status.notified) == ("delivered", 1, True)
    location = status.location
    assert location.startswith(owner.pod + "results/")
    assert run.id in location
    # The consumer reads it; another person gets 403, the datacage itself 403, nobody 401.
    body = owner.client.get(location, accept="text/turtle").body
    for other in (world["people"][0], cage):
        with pytest.raises(solid_errors.Forbidden):
            other.client.get(location)
    assert requests.get(location, timeout=10).status_code == 401
    # Exactly one result in the container, and one notification naming it in the inbox.
    entries = owner.client.list_container(owner.pod + "results/")
    assert [e.url for e in entries] == [location]
    [note] = owner.client.list_container(world["inbox"])
    announced, _ = owner.client.get_graph(note.url)
    assert (None, None, URIRef(location)) in announced

    policy = _policy(app, run, worker)
    verified = verify_result(body, policy=policy, now=run.finished_at)
    assert verified.run == run.iri
    assert verified.algorithm_digest == run.algorithm_digest
    assert len(verified.consents) == PEOPLE
    described = Graph().parse(data=body, format="turtle")
    assert (URIRef(cage.webid), RDF.type, PROV.SoftwareAgent) in described
    assert (URIRef(run.iri), DCG.purpose, DPV.Marketing) in described
    assert (URIRef(run.iri), PROV.wasAssociatedWith, URIRef(cage.webid)) in described
    for person in world["people"]:  # the gate's promise holds: no pod URL in the result
        assert person.pod not in body.decode()
    # Each person's usage record, in their pod and on My data, names the consumer reached.
    for person in world["people"]:
        consent = services(app).consents.history(world["space"].iri, person.webid).consents[-1]
        record_url = f"{consent.usage_records}{run.id}.ttl"
        record, _ = person.client.get_graph(record_url)
        sent_to = set(record.objects(URIRef(record_url + "#use"), DCG.resultsSentTo))
        assert sent_to == {URIRef(owner.webid)}
        [use] = uses_of(services(app).registry, person.webid)
        assert use.results_sent_to == (owner.webid,)
    # Nothing is left in the datacage once every delivery is done and reported.
    assert not any((world["tmp"] / "cage" / "delivery").glob("*/*"))

    # The command line accepts it, and refuses it with one triple changed.
    path = world["tmp"] / "result.ttl"
    path.write_bytes(body)
    args = [
        "verify-result",
        str(path),
        "--code",
        run.attestation.code_measurement,
        "--bundle",
        run.algorithm_digest,
        "--allow-software",
        "--software-key",
        str(world["tmp"] / "software.pem"),
    ]
    (world["tmp"] / "software.pem").write_text(worker.provider.public_key_pem())
    accepted = CliRunner().invoke(cli, args)
    assert accepted.exit_code == 0, accepted.output
    assert "ACCEPTED" in accepted.output
    graph = Graph().parse(data=body, format="turtle")
    graph.add((URIRef(verified.result), URIRef("https://example.org/extra"), Literal(1)))
    path.write_bytes(graph.serialize(format="turtle").encode())
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1
    assert "REFUSED" in refused.output
    with pytest.raises(ResultNotAuthentic):
        verify_result(path.read_bytes(), policy=policy, now=run.finished_at)
    # `datacage verify` knows a result from evidence, and gives the same verdicts.
    assert CliRunner().invoke(cli, ["verify", *args[1:]]).exit_code == 1
    path.write_bytes(body)
    again = CliRunner().invoke(cli, ["verify", *args[1:]])
    assert again.exit_code == 0, again.output
    assert "signed by the attested datacage's enclave key" in again.output
    forged = Graph().parse(data=body, format="turtle")  # the same triples, another signature
    [(signed, _, jws)] = forged.triples((None, DCG.signature, None))
    tail = "BB" if str(jws).endswith("AA") else "AA"
    forged.set((signed, DCG.signature, Literal(str(jws)[:-2] + tail)))
    path.write_bytes(forged.serialize(format="turtle").encode())
    for command in ("verify", "verify-result"):
        changed = CliRunner().invoke(cli, [command, *args[1:]])
        assert changed.exit_code == 1, changed.output
        assert "REFUSED" in changed.output


def test_a_pod_that_refuses_fails_the_delivery_holds_it_sealed_then_destroys_it(world):
    app, owner, cage = world["app"], world["owner"], world["cage"]
    designated(app, world["space"], owner, cage.webid)
    owner.client.access_control(owner.pod + "results/").revoke(cage.webid)  # refuses: 403
    settings = DeliverySettings(
        first_backoff_s=0.0, longest_backoff_s=0.0, max_attempts=2, held_retry_s=0.0, hold_s=3600
    )
    worker = make_worker(world["base"], cage, world["tmp"] / "cage", settings)
    runs = services(app).runs
    started = runs.start(world["space"].id, owner.webid)
    worker.run_once()
    run = runs.store.load(started.id)
    assert run.status is RunStatus.SUCCEEDED
    worker.deliver_pending()
    [status] = statuses_of(services(app).registry, run.iri)
    assert status.state == "failed"
    assert status.attempts == 2
    assert "403" in status.detail
    sealed = next((world["tmp"] / "cage" / "delivery").glob("*/result.sealed"))
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o600
    assert b"prov:" not in sealed.read_bytes()
    assert b"wasGeneratedBy" not in sealed.read_bytes()
    assert owner.client.list_container(owner.pod + "results/") == []

    # The hold ends: the sealed result is destroyed, and the run page says so.
    worker.deliveries.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
    worker.deliver_pending()
    [status] = statuses_of(services(app).registry, run.iri)
    assert status.state == "destroyed"
    assert not list((world["tmp"] / "cage" / "delivery").glob("*/result.sealed"))
    page = app.test_client()
    with page.session_transaction() as session:
        session.update(webid=owner.webid, signed_in_at=time.time(), csrf_token="t")
    html = page.get(f"/spaces/{world['space'].id}/runs/{run.id}").get_data(as_text=True)
    assert "run-deliveries" in html
    assert "Destroyed" in html


# --- The consumer's own CSS, killed mid-delivery ----------------------------------------------


@pytest.fixture
def consumer_css(tmp_path):
    """A CSS of the consumer's own (its own process, data folder and port), restartable."""
    folder, port = tmp_path / "consumer-css", free_loopback_port()
    servers = [CommunitySolidServer(port=port, data_dir=folder).start()]

    def restart() -> None:
        servers.append(CommunitySolidServer(port=port, data_dir=folder).start())

    yield servers, restart
    for server in servers:
        server.stop()


@pytest.fixture
def far_world(make_user, consumer_css, tmp_path):
    servers, restart = consumer_css
    with CssAccountApi(servers[0].base_url) as api:
        account = api.create_account(
            email="far@example.org", password=secrets.token_urlsafe(18), pod_name="far"
        )
        credentials = api.create_client_credentials(account)
    session = SolidSession.from_client_credentials(
        credentials.issuer, credentials.id, credentials.secret
    )
    owner = SimpleNamespace(webid=account.webid, pod=account.pod_url, client=SolidClient(session))
    cage = make_user("cage")
    people = [make_user(f"shopper{n}") for n in range(PEOPLE)]
    with serve_control_plane(tmp_path / "control", cage.webid) as (base, app):
        fill_pods(people)
        space = consented_space(app, owner.webid, people, cage.webid, SURVEY, "Shop survey")
        inbox = add_inbox(owner)
        designated(app, space, owner, cage.webid)
        yield SimpleNamespace(
            app=app,
            base=base,
            space=space,
            owner=owner,
            cage=cage,
            inbox=inbox,
            tmp=tmp_path,
            servers=servers,
            restart=restart,
        )


def _results(world) -> list[str]:
    return [e.url for e in world.owner.client.list_container(world.owner.pod + "results/")]


def test_a_consumer_pod_down_mid_delivery_gets_the_result_once_after_a_worker_restart(far_world):
    w = far_world
    runs = services(w.app).runs
    started = runs.start(w.space.id, w.owner.webid)
    w.servers[0].stop()  # the consumer's pod goes down before the result is ready
    first = make_worker(w.base, w.cage, w.tmp / "cage", FAST)
    first.run_once()
    run = runs.store.load(started.id)
    assert run.status is RunStatus.SUCCEEDED, run.outcome
    [status] = statuses_of(services(w.app).registry, run.iri)
    assert (status.state, status.attempts) == ("retrying", 1)
    assert "unreachable" in status.detail or "HTTP" in status.detail

    # The worker stops; a new one starts on the same folder; the consumer's pod comes back.
    del first
    w.restart()
    second = make_worker(w.base, w.cage, w.tmp / "cage", FAST)
    second.deliver_pending()
    second.deliver_pending()  # nothing left to do: no second copy
    [status] = statuses_of(services(w.app).registry, run.iri)
    assert (status.state, status.attempts, status.notified) == ("delivered", 2, True)
    assert _results(w) == [status.location]
    assert len(w.owner.client.list_container(w.inbox)) == 1
    body = w.owner.client.get(status.location, accept="text/turtle").body
    verify_result(body, policy=_policy(w.app, run, second), now=run.finished_at)


def test_an_answer_lost_after_the_pod_stored_the_result_does_not_make_a_second_copy(
    far_world, monkeypatch
):
    w = far_world
    real = deliver.write_result

    def stored_then_cut_off(client, container, name, document):
        real(client, container, name, document)  # the pod has it ...
        w.servers[-1].stop()  # ... and goes down before the datacage hears so
        raise solid_errors.UpstreamUnavailable("The connection dropped.", url=container)

    monkeypatch.setattr(deliver, "write_result", stored_then_cut_off)
    runs = services(w.app).runs
    started = runs.start(w.space.id, w.owner.webid)
    worker = make_worker(w.base, w.cage, w.tmp / "cage", FAST)
    worker.run_once()
    run = runs.store.load(started.id)
    [status] = statuses_of(services(w.app).registry, run.iri)
    assert status.state == "retrying"

    monkeypatch.setattr(deliver, "write_result", real)
    w.restart()
    again = make_worker(w.base, w.cage, w.tmp / "cage", FAST)  # after a restart, too
    again.deliver_pending()
    [status] = statuses_of(services(w.app).registry, run.iri)
    assert status.state == "delivered"
    assert "confirmed by an append" in status.detail  # the retry met the stored copy
    assert _results(w) == [status.location]
    body = w.owner.client.get(status.location, accept="text/turtle").body
    verify_result(body, policy=_policy(w.app, run, again), now=run.finished_at)


def test_a_container_outside_the_consumers_own_pod_is_refused_by_the_datacage(world, make_user):
    """The control plane is not trusted with where results go: a destination it names in
    somebody else's pod (here written straight into the registry) gets nothing."""
    app, owner, cage = world["app"], world["owner"], world["cage"]
    stranger = make_user("stranger")
    elsewhere = stranger.pod + "drop/"
    stranger.client.ensure_container(elsewhere)
    stranger.client.access_control(elsewhere).grant(cage.webid, ["Append"], include_members=True)
    services(app).destinations.put(
        Destination(
            world["space"].iri, owner.webid, elsewhere, ("Append",), "WAC", datetime.now(UTC), None
        )
    )
    worker = make_worker(world["base"], cage, world["tmp"] / "cage")
    runs = services(app).runs
    started = runs.start(world["space"].id, owner.webid)
    worker.run_once()
    run = runs.store.load(started.id)
    [status] = statuses_of(services(app).registry, run.iri)
    assert status.state == "destroyed"
    assert "not in a storage the consumer's WebID profile names" in status.detail
    assert stranger.client.list_container(elsewhere) == []
    assert not list((world["tmp"] / "cage" / "delivery").glob("*/result.sealed"))
