"""The push world: a live control plane and datacage worker, CSS pods, moto's S3 server,
Azurite and a folder, with an active space whose people consented (shared by the push tests)."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from azure.storage.blob import BlobServiceClient

from connectors import registry
from server.attestation import measure_datacage_code
from server.attestation.admission import load_policy
from server.push.provider import PushRequest, push_dataset
from server.services import services
from server.web.push_api import push_service
from tests.support.datacage_world import (
    BUNDLES,
    consented_space,
    fill_pods,
    make_worker,
    serve_control_plane,
)

PEOPLE = 5
TALLY = BUNDLES / "push-tally"
SCHEMA = {"columns": [{"name": "email", "type": "string"}, {"name": "orders", "type": "integer"}]}


def customers(tmp_path: Path, rows: int, name="customers.csv", extra="") -> Path:
    path = tmp_path / name
    lines = "".join(f"customer{n}@shop.example,{n % 4}\n" for n in range(rows))
    path.write_text("email,orders\n" + lines + extra)
    return path


def orders_of(rows: int) -> int:
    return sum(n % 4 for n in range(rows))


@pytest.fixture
def world(make_user, tmp_path, moto_s3, azurite):
    owner, cage = make_user("org"), make_user("cage")
    people = [make_user(f"person{n}") for n in range(PEOPLE)]
    with serve_control_plane(tmp_path / "control", cage.webid) as (base, app):
        fill_pods(people)
        space = consented_space(app, owner.webid, people, cage.webid, TALLY, "Pushed tally")
        worker = make_worker(base, cage, tmp_path / "cage")
        assert worker.publish_evidence() == 1
        yield World(app, base, space, owner, people, cage, worker, tmp_path, moto_s3, azurite)


class _Why(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.found.append(str(getattr(record, "why", "")))


class World:
    def __init__(self, app, base, space, owner, people, cage, worker, tmp, s3, azure):
        self.app, self.base, self.space, self.owner = app, base, space, owner
        self.people, self.cage, self.worker, self.tmp = people, cage, worker, tmp
        self.s3, self.azure = s3, azure

    def policy(self, bundle: str | None = None, code: str | None = None) -> Path:
        path = self.tmp / f"policy-{secrets.token_hex(3)}.toml"
        (self.tmp / "cage.pub").write_text(self.worker.provider.public_key_pem())
        path.write_text(
            f'code_digests = ["{code or measure_datacage_code()}"]\n'
            f'bundle_digests = ["{bundle or self.space.algorithm.digest}"]\n'
            "allow_software = true\n"
            'software_key_files = ["cage.pub"]\n'
        )
        return path

    def bucket(self) -> str:
        name = f"org-{secrets.token_hex(4)}"
        self.s3_client().create_bucket(Bucket=name)
        return name

    def s3_client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.s3.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def s3_connector(self, bucket: str, key: str = "customers.dcgpush"):
        return registry.get("s3")(
            {
                "bucket": bucket,
                "key": key,
                "endpoint_url": self.s3.url,
                "access_key_id": "testing",
                "secret_access_key": "testing",
            }
        )

    def azure_connector(self, connection_string: str | None = None):
        container = f"org-{secrets.token_hex(4)}"
        BlobServiceClient.from_connection_string(
            self.azure.connection_string, api_version="2025-05-05"
        ).create_container(container)
        return registry.get("azure-blob")(
            {
                "container": container,
                "blob": "customers.dcgpush",
                "connection_string": connection_string or self.azure.connection_string,
            }
        )

    def file_connector(self, name: str = "customers.dcgpush"):
        folder = self.tmp / "share"
        folder.mkdir(exist_ok=True)
        return registry.get("file")({"folder": str(folder), "name": name})

    def push(self, source, name, connector, *, policy=None, space_id=None, schema=SCHEMA):
        request = PushRequest(
            control_plane=self.base,
            space_id=space_id or self.space.id,
            name=name,
            source=source,
            format="csv",
            schema=schema,
            connector=connector,
            grant_lifetime=timedelta(hours=1),
        )
        seen: list[tuple[str, int]] = []

        def progress(label, total):
            seen.append((label, total))
            return (lambda n: None), (lambda: None)

        result = push_dataset(
            self.owner.session,
            request,
            load_policy(policy or self.policy()),
            datetime.now(UTC),
            progress,
        )
        assert [label for label, _ in seen] == ["Encrypting", "Uploading"]
        return result

    def run(self, space=None):
        """Start a run and let the worker carry it out. Why a dataset was refused goes only to
        the datacage's own log (participants see `input-error`): kept in `self.why`."""
        runs = services(self.app).runs
        started = runs.start((space or self.space).id, self.owner.webid)
        heard = _Why()
        job_log = logging.getLogger("server.datacage.job")
        job_log.addHandler(heard)
        try:
            self.worker.run_once()
        finally:
            job_log.removeHandler(heard)
        self.why = " ".join(heard.found)
        return runs.store.load(started.id)

    def datasets(self, space=None):
        return push_service(self.app).datasets((space or self.space).iri)

    def nothing_left_in_the_datacage(self, run) -> None:
        assert not any((self.tmp / "cage" / "work").iterdir())
        assert not (self.tmp / "cage" / "results" / f"{run.id}.ttl").exists()
