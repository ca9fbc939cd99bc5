"""The push connectors against real storage: moto's S3 server, Azurite, and a folder.

Each connector uploads an envelope with the provider's credentials and hands out a read-only
grant for that object alone; the datacage's side reads it back with no SDK. Bad buckets,
containers and credentials are refused with words that say what to fix.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from azure.storage.blob import BlobServiceClient

from connectors import registry
from connectors.base import ConfigurationInvalid, ConnectorError, Stored

NOW = datetime.now(UTC)


def s3_options(endpoint, bucket, key="data.dcgpush", **changes):
    options = {
        "bucket": bucket,
        "key": key,
        "endpoint_url": endpoint.url,
        "access_key_id": endpoint.access_key_id,
        "secret_access_key": endpoint.secret_access_key,
    }
    return {**options, **changes}


@pytest.fixture
def bucket(moto_s3):
    name = f"push-{secrets.token_hex(4)}"
    boto3.client(
        "s3",
        endpoint_url=moto_s3.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=name)
    return name


@pytest.fixture
def container(azurite):
    name = f"push-{secrets.token_hex(4)}"
    service = BlobServiceClient.from_connection_string(
        azurite.connection_string, api_version="2025-05-05"
    )
    service.create_container(name)
    return name


def round_trip(connector, tmp_path, data=b"ciphertext " * 5000):
    source = tmp_path / "envelope"
    source.write_bytes(data)
    moved = []
    stored = connector.upload(source, moved.append)
    assert sum(moved) == len(data)
    grant = connector.read_grant(stored, timedelta(hours=1), NOW)
    with type(connector).open_grant(grant) as (stream, size):
        assert stream.read() == data
    assert size == len(data)
    return stored, grant


def test_s3_upload_and_presigned_read(moto_s3, bucket, tmp_path):
    connector = registry.get("s3")(s3_options(moto_s3, bucket))
    connector.test_connection()
    stored, grant = round_trip(connector, tmp_path)
    assert stored.location == f"s3://{bucket}/data.dcgpush"
    # The grant is a URL for this key alone: the provider's secret is not in it.
    assert "X-Amz-Signature" in grant["url"]
    assert "testing" not in grant["url"].split("?")[0]


def test_s3_bucket_that_does_not_exist(moto_s3, tmp_path):
    connector = registry.get("s3")(s3_options(moto_s3, "no-such-bucket-here"))
    with pytest.raises(ConnectorError, match="'no-such-bucket-here' does not exist"):
        connector.test_connection()
    source = tmp_path / "envelope"
    source.write_bytes(b"x")
    with pytest.raises(ConnectorError, match="does not exist"):
        connector.upload(source)


def test_s3_credentials_that_do_not_work(moto_s3_strict):
    # This moto server checks every request's key (INITIAL_NO_AUTH_ACTION_COUNT=0).
    connector = registry.get("s3")(s3_options(moto_s3_strict, "any-bucket"))
    with pytest.raises(ConnectorError, match="credentials do not work"):
        connector.test_connection()


def test_azure_upload_and_sas_read(azurite, container, tmp_path):
    connector = registry.get("azure-blob")(
        {
            "container": container,
            "blob": "data.dcgpush",
            "connection_string": azurite.connection_string,
        }
    )
    connector.test_connection()
    stored, grant = round_trip(connector, tmp_path)
    assert stored.location.endswith(f"/{container}/data.dcgpush")
    assert "sp=r" in grant["url"]  # read permission only
    assert "AccountKey" not in grant["url"]


def test_azure_expired_grant_is_refused(azurite, container, tmp_path):
    connector = registry.get("azure-blob")(
        {"container": container, "blob": "b", "connection_string": azurite.connection_string}
    )
    source = tmp_path / "envelope"
    source.write_bytes(b"x")
    stored = connector.upload(source)
    # Issued a minute ago for one second: expired now, without waiting for the clock.
    grant = connector.read_grant(
        stored, timedelta(seconds=1), datetime.now(UTC) - timedelta(minutes=1)
    )
    with (
        pytest.raises(ConnectorError, match="expired or was revoked"),
        registry.get("azure-blob").open_grant(grant),
    ):
        pass


def test_azure_container_that_does_not_exist(azurite):
    connector = registry.get("azure-blob")(
        {"container": "nothing-here", "blob": "b", "connection_string": azurite.connection_string}
    )
    with pytest.raises(ConnectorError, match="'nothing-here' does not exist"):
        connector.test_connection()


def test_azure_credentials_that_do_not_work(azurite, container):
    wrong = azurite.connection_string.replace("Eby8", "AAAA")
    connector = registry.get("azure-blob")(
        {"container": container, "blob": "b", "connection_string": wrong}
    )
    with pytest.raises(ConnectorError, match="credentials do not work"):
        connector.test_connection()


def test_file_connector(tmp_path):
    folder = tmp_path / "share"
    folder.mkdir()
    connector = registry.get("file")({"folder": str(folder), "name": "data.dcgpush"})
    stored, grant = round_trip(connector, tmp_path)
    assert grant == {"path": str(folder / "data.dcgpush")}
    missing = registry.get("file")({"folder": str(tmp_path / "nope"), "name": "x"})
    with pytest.raises(ConnectorError, match="does not exist"):
        missing.test_connection()
    with (
        pytest.raises(ConnectorError, match="is the folder mounted"),
        registry.get("file").open_grant({"path": str(tmp_path / "gone")}),
    ):
        pass
    assert isinstance(stored, Stored)


def test_options_are_checked_against_the_schema():
    with pytest.raises(ConfigurationInvalid) as refused:
        registry.get("s3")({"key": "k", "colour": "blue"})
    assert "unknown option 'colour'" in str(refused.value)
    assert "bucket is required" in str(refused.value)
