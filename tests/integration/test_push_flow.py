"""Push end to end, over real servers: CSS pods and identities, a live control plane, a real
datacage worker and sandbox, moto's S3 server, Azurite and a folder.

An organisation (the space's data provider) checks the datacage's published evidence against
its own trust policy, encrypts its customer table to the attested key, uploads it with each
connector and registers it; the datacage fetches, decrypts, checks and stages the tables, and
the approved algorithm reads them from input/index.json. Then each kind of bad input, each
refused in plain words with nothing decrypted, staged or registered.
"""

# ruff: noqa: F811 - the shared fixture `world` is a parameter of the tests

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from connectors import registry
from connectors.base import ConnectorError
from server.attestation.admission import load_policy
from server.cli import main
from server.push.errors import EvidenceRefused, PushError, SchemaMismatch
from server.push.provider import PushRequest, push_dataset
from server.runs.model import RunStatus
from server.services import services
from server.web.push_api import push_service
from tests.support.datacage_world import (
    BUNDLES,
    consented_space,
    make_worker,
)
from tests.support.push_world import (  # noqa: F401 - shared, fixtures by name
    PEOPLE,
    SCHEMA,
    TALLY,
    customers,
    orders_of,
    world,
)


def test_three_connectors_push_and_the_algorithm_reads_every_table(world):
    sizes = {"s3": 40, "azure-blob": 25, "file": 7}
    world.push(
        customers(world.tmp, 40, "a.csv"), "customers-s3", world.s3_connector(world.bucket())
    )
    world.push(customers(world.tmp, 25, "b.csv"), "customers-azure", world.azure_connector())
    world.push(customers(world.tmp, 7, "c.csv"), "customers-file", world.file_connector())

    registered = world.datasets()
    assert {d.connector for d in registered} == set(sizes)
    assert all(d.provider == world.owner.webid for d in registered)
    assert all(d.key_sha256 == world.worker.key.public_key_sha256() for d in registered)
    # What is stored is ciphertext: not a customer address in it.
    share = (world.tmp / "share" / "customers.dcgpush").read_bytes()
    assert b"customer1@shop.example" not in share
    assert share.startswith(b"DCGPUSH1")

    run = world.run()
    assert run.status is RunStatus.SUCCEEDED, (run.outcome, world.why)
    result = (world.tmp / "cage" / "results" / f"{run.id}.ttl").read_text()
    assert "tally:datasets 3" in result
    assert f"tally:rows {sum(sizes.values())}" in result
    assert f"tally:orders {sum(orders_of(n) for n in sizes.values())}" in result
    assert not any((world.tmp / "cage" / "work").iterdir())  # the decrypted tables are gone


def test_the_space_overview_lists_the_pushed_datasets_without_grants(world):
    world.push(customers(world.tmp, 3), "customers-file", world.file_connector())
    client = world.app.test_client()
    with client.session_transaction() as session:
        session["webid"], session["signed_in_at"] = world.owner.webid, time.time()
    page = client.get(f"/spaces/{world.space.id}").get_data(as_text=True)
    assert "Pushed datasets" in page
    assert "customers-file" in page
    assert str(world.tmp / "share") in page  # the location
    listed = world.owner.session.request(
        "GET", world.base + f"api/spaces/{world.space.id}/datasets"
    ).json()["datasets"]
    assert [d["name"] for d in listed] == ["customers-file"]
    assert "grant" not in listed[0]


def test_evidence_for_another_bundle_is_refused_and_nothing_is_uploaded(world):
    bucket = world.bucket()
    policy = world.policy(bundle="sha256:" + "0" * 64)
    with pytest.raises(EvidenceRefused, match="does not verify against your trust policy"):
        world.push(customers(world.tmp, 3), "customers", world.s3_connector(bucket), policy=policy)
    assert world.s3_client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert world.datasets() == []
    code_policy = world.policy(code="sha256:" + "1" * 64)
    with pytest.raises(EvidenceRefused, match="datacage code"):
        world.push(customers(world.tmp, 3), "c", world.file_connector(), policy=code_policy)
    assert not (world.tmp / "share" / "customers.dcgpush").exists()


def test_a_bucket_that_does_not_exist_and_credentials_that_do_not_work(world):
    with pytest.raises(ConnectorError, match="'no-such-bucket' does not exist"):
        world.push(customers(world.tmp, 3), "customers", world.s3_connector("no-such-bucket"))
    wrong = world.azure.connection_string.replace("Eby8", "AAAA")
    with pytest.raises(ConnectorError, match="credentials do not work"):
        world.push(customers(world.tmp, 3), "customers", world.azure_connector(wrong))
    assert world.datasets() == []


def test_a_csv_that_does_not_match_its_schema_is_refused_before_encrypting(world):
    bad = customers(world.tmp, 5, extra="someone@shop.example,many\n")
    with pytest.raises(SchemaMismatch, match=r"Row 6, column 'orders' \(column 2\)"):
        world.push(bad, "customers", world.file_connector())
    assert not (world.tmp / "share" / "customers.dcgpush").exists()
    assert world.datasets() == []


def test_the_datacage_checks_the_schema_again_after_decrypting(world):
    # A provider registers a schema other than the table it encrypted: the datacage refuses
    # the table with row and column named, and stages nothing.
    world.push(customers(world.tmp, 5), "customers", world.file_connector())
    (registered,) = world.datasets()
    fields = {
        **{k: v for k, v in registered.for_job().items() if k not in ("id", "provider")},
        "location": registered.location,
        "schema": {
            "columns": [{"name": "email", "type": "string"}, {"name": "orders", "type": "date"}]
        },
    }
    push_service(world.app).register(world.space.id, world.owner.webid, fields)
    run = world.run()
    assert run.status is RunStatus.FAILED
    assert run.outcome.value == "input-error"  # all participants see
    assert "Row 1, column 'orders' (column 2)" in world.why  # the operator's log says why
    assert "The algorithm was not run" in world.why
    assert "customer0@shop.example" not in world.why  # a value is never shown, even there
    world.nothing_left_in_the_datacage(run)


def test_tampered_or_swapped_ciphertext_is_refused(world):
    world.push(customers(world.tmp, 300), "customers", world.file_connector())
    stored = world.tmp / "share" / "customers.dcgpush"
    data = bytearray(stored.read_bytes())
    data[-40] ^= 1
    stored.write_bytes(bytes(data))
    run = world.run()
    assert run.status is RunStatus.FAILED
    assert "does not verify" in world.why, world.why
    world.nothing_left_in_the_datacage(run)

    # A valid envelope for the same space and name, but not the one registered.
    world.push(customers(world.tmp, 4), "customers", world.file_connector("other.dcgpush"))
    (world.tmp / "share" / "other.dcgpush").rename(stored)
    world.push(customers(world.tmp, 4), "customers", world.file_connector("third.dcgpush"))
    registered = world.datasets()[0]
    fields = {
        **{k: v for k, v in registered.for_job().items() if k not in ("id", "provider")},
        "location": str(stored),
        "grant": {"path": str(stored)},
    }
    push_service(world.app).register(world.space.id, world.owner.webid, fields)
    run = world.run()
    assert "is not the one that was registered" in world.why, world.why


def test_a_truncated_envelope_is_refused(world):
    world.push(customers(world.tmp, 300), "customers", world.file_connector())
    stored = world.tmp / "share" / "customers.dcgpush"
    stored.write_bytes(stored.read_bytes()[:-100])
    run = world.run()
    assert run.status is RunStatus.FAILED
    assert "cut short" in world.why or "does not verify" in world.why, world.why
    world.nothing_left_in_the_datacage(run)


def test_a_dataset_copied_into_another_space_is_refused(world):
    world.push(customers(world.tmp, 5), "customers", world.file_connector())
    (registered,) = world.datasets()
    other = consented_space(
        world.app, world.owner.webid, world.people, world.cage.webid, TALLY, "Other tally"
    )
    fields = {
        **{k: v for k, v in registered.for_job().items() if k not in ("id", "provider")},
        "location": registered.location,
    }
    push_service(world.app).register(other.id, world.owner.webid, fields)
    run = world.run(other)
    assert run.status is RunStatus.FAILED
    assert "was made for the dataset 'customers' of the space" in world.why
    world.nothing_left_in_the_datacage(run)


def test_a_restarted_datacage_says_the_data_must_be_pushed_again(world):
    world.push(customers(world.tmp, 5), "customers", world.file_connector())
    restarted = make_worker(world.base, world.cage, world.tmp / "cage")  # a new enclave key
    world.worker = restarted
    run = world.run()
    assert run.status is RunStatus.FAILED
    assert "encrypted to a datacage key that no longer exists" in world.why
    assert "push it again" in world.why
    world.nothing_left_in_the_datacage(run)
    # The restarted datacage published its new key; registering for the old one is refused.
    (old,) = world.datasets()
    fields = {
        **{k: v for k, v in old.for_job().items() if k not in ("id", "provider")},
        "location": old.location,
    }
    with pytest.raises(Exception, match="no longer exists"):
        push_service(world.app).register(world.space.id, world.owner.webid, fields)
    # Pushing again works.
    world.push(customers(world.tmp, 5), "customers", world.file_connector())
    assert world.run().status is RunStatus.SUCCEEDED


def test_only_data_providers_fetch_evidence_and_register(world):
    person = world.people[0]  # a participant of the space, but not a data provider
    answer = person.session.request(
        "GET", world.base + f"api/spaces/{world.space.id}/push/evidence"
    )
    assert answer.status_code == 403
    answer = person.session.request(
        "POST",
        world.base + f"api/spaces/{world.space.id}/datasets",
        data="{}",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code in (403, 404)
    request = PushRequest(
        world.base,
        world.space.id,
        "x",
        customers(world.tmp, 1),
        "csv",
        SCHEMA,
        world.file_connector(),
        timedelta(hours=1),
    )
    policy = load_policy(world.policy())
    with pytest.raises(PushError, match=r"refused GET .*\(403\): You are not part of this space"):
        push_dataset(person.session, request, policy, datetime.now(UTC))
    nowhere = dataclasses.replace(request, space_id="nosuchspace")
    with pytest.raises(PushError, match=r"\(404\): There is no such space"):
        push_dataset(world.owner.session, nowhere, policy, datetime.now(UTC))
    assert world.datasets() == []


def test_the_push_command_line(world):
    credentials = world.owner.credentials
    secret = world.tmp / "secret"
    secret.write_text(credentials.secret)
    secret.chmod(0o600)
    columns = world.tmp / "columns.json"
    columns.write_text(json.dumps(SCHEMA))
    share = world.tmp / "share"
    share.mkdir()
    common = [
        "--control-plane",
        world.base,
        "--space",
        world.space.iri,  # its URL works as well as its id
        "--issuer",
        credentials.issuer,
        "--client-id",
        credentials.id,
        "--client-secret-file",
        str(secret),
        "--policy",
        str(world.policy()),
    ]
    runner = CliRunner()
    checked = runner.invoke(main, ["push", "evidence", *common])
    assert checked.exit_code == 0, checked.output
    assert "Evidence verified: software-unattested (SOFTWARE STAND-IN" in checked.output

    table = ["--format", "csv", "--schema", str(columns), "--connector", "file"]
    where = ["-o", f"folder={share}", "-o", "name=customers.dcgpush"]
    source = customers(world.tmp, 12)
    pushed = runner.invoke(
        main, ["push", "dataset", str(source), *common, "--name", "customers", *table, *where]
    )
    assert pushed.exit_code == 0, pushed.output
    assert "Pushed 'customers'" in pushed.output
    assert [d.name for d in world.datasets()] == ["customers"]

    bad = customers(world.tmp, 2, "bad.csv", extra="x@shop.example,1.5\n")
    refused = runner.invoke(
        main, ["push", "dataset", str(bad), *common, "--name", "other", *table, *where]
    )
    assert refused.exit_code == 1
    assert "Row 3, column 'orders' (column 2)" in refused.output
    assert "Traceback" not in refused.output
    missing = runner.invoke(
        main,
        ["push", "dataset", str(source), *common, "--name", "x", *table, "-o", "folder=/nope"],
    )
    assert missing.exit_code == 1
    assert "name is required" in missing.output
    assert [d.name for d in world.datasets()] == ["customers"]


def test_a_dataset_in_the_providers_own_pod(world):
    # The Solid connector: written as the provider's WebID, Read granted to the datacage alone.
    url = world.owner.pod + "customers.dcgpush"
    world.push(customers(world.tmp, 9), "customers-pod", registry.get("solid")({"url": url}))
    (registered,) = world.datasets()
    assert registered.grant == {"url": url, "webid": world.cage.webid}
    stranger = world.people[0].session.request("GET", url)
    assert stranger.status_code == 403
    run = world.run()
    assert run.status is RunStatus.SUCCEEDED, (run.outcome, world.why)
    result = (world.tmp / "cage" / "results" / f"{run.id}.ttl").read_text()
    assert "tally:rows 9" in result

    # The provider takes Read back in its pod: the next run says so, and reads nothing.
    world.owner.client.access_control(url).revoke(world.cage.webid)
    run = world.run()
    assert run.status is RunStatus.FAILED
    assert "must grant Read again" in world.why, world.why


def test_graphs_and_parquet_tables_are_staged_too(world):
    import pyarrow as pa
    import pyarrow.parquet as pq

    graph = world.tmp / "products.ttl"
    graph.write_text('<https://shop.example/p/1> <http://schema.org/name> "Kettle" .\n')
    table = world.tmp / "stock.parquet"
    pq.write_table(pa.table({"sku": ["k1", "k2"], "count": [3, 4]}), table)
    stock = {"columns": [{"name": "sku", "type": "string"}, {"name": "count", "type": "integer"}]}

    def push(source, name, fmt, schema):
        request = PushRequest(
            world.base,
            world.space.id,
            name,
            source,
            fmt,
            schema,
            world.file_connector(f"{name}.dcgpush"),
            timedelta(hours=1),
        )
        return push_dataset(
            world.owner.session, request, load_policy(world.policy()), datetime.now(UTC)
        )

    push(graph, "products", "turtle", None)
    push(table, "stock", "parquet", stock)
    broken = world.tmp / "broken.ttl"
    broken.write_text("<https://shop.example/p/1> <name> .\n")
    with pytest.raises(PushError, match="does not parse"):
        push(broken, "broken", "turtle", None)
    assert [d.format for d in world.datasets()] == ["turtle", "parquet"]
    run = world.run()
    assert run.status is RunStatus.SUCCEEDED, (run.outcome, world.why)
    result = (world.tmp / "cage" / "results" / f"{run.id}.ttl").read_text()
    assert "tally:datasets 2" in result


def test_a_pushed_value_copied_into_the_result_is_held_back(world):
    leaky = consented_space(
        world.app,
        world.owner.webid,
        world.people,
        world.cage.webid,
        BUNDLES / "push-leak",
        "Leaky tally",
    )
    assert world.worker.publish_evidence() == 1  # the new space's algorithm
    policy = world.policy(bundle=leaky.algorithm.digest)
    world.push(
        customers(world.tmp, 3),
        "customers",
        world.file_connector(),
        policy=policy,
        space_id=leaky.id,
    )
    run = world.run(leaky)
    assert run.gate_passed is False
    assert run.status is RunStatus.FAILED
    assert run.outcome.value == "output-refused"
    record = services(world.app).registry.read(run.iri).graph.serialize(format="nt")
    assert "customer0@shop.example" not in record
    world.nothing_left_in_the_datacage(run)


def test_a_dataset_in_someone_elses_pod_is_refused(world):
    """The confused deputy: a provider names a resource in a consenting person's pod, which
    the datacage may read for the space; registering it is refused, and so is reading it."""
    from server.errors import ValidationFailed

    world.push(customers(world.tmp, 3), "customers", world.file_connector())
    (registered,) = world.datasets()
    victim = world.people[0].pod + "private/records.ttl"
    fields = {
        **{k: v for k, v in registered.for_job().items() if k not in ("id", "provider")},
        "name": "borrowed",
        "connector": "solid",
        "location": victim,
        "grant": {"url": victim, "webid": world.cage.webid},
    }
    with pytest.raises(ValidationFailed, match="your own pod"):
        push_service(world.app).register(world.space.id, world.owner.webid, fields)
    assert [d.name for d in world.datasets()] == ["customers"]
