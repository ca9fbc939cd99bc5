"""The connector registry and the control plane's checks of a dataset registration."""

from __future__ import annotations

import subprocess
import sys

import pytest

from connectors import registry
from connectors.base import ConnectorUnavailable, shown
from server.errors import ValidationFailed
from server.push.service import _check_fields

GOOD = {
    "name": "customers",
    "connector": "s3",
    "location": "s3://bucket/key",
    "grant": {"url": "https://s3.example/bucket/key?X-Amz-Signature=..."},
    "format": "csv",
    "schema": {"columns": [{"name": "email", "type": "string"}]},
    "ciphertext_digest": "sha256:" + "a" * 64,
    "size": 1234,
    "evidence_sha256": "b" * 64,
    "key_sha256": "c" * 64,
}


def test_every_built_in_connector_is_registered():
    assert set(registry.connector_types()) == {"azure-blob", "file", "s3", "solid"}
    with pytest.raises(ConnectorUnavailable, match="no connector called 'ftp'"):
        registry.get("ftp")


def test_a_missing_sdk_switches_its_connector_off_without_breaking_import():
    # A fresh interpreter in which boto3 and azure cannot be imported.
    script = (
        "import sys; sys.modules['boto3'] = None; sys.modules['azure'] = None\n"
        "sys.modules['azure.storage'] = None; sys.modules['azure.core'] = None\n"
        "from connectors import registry\n"
        "types = registry.connector_types()\n"
        "print(types['s3'].disabled_reason()); print(types['azure-blob'].disabled_reason())\n"
        "print(types['file'].disabled_reason())\n"
        "try:\n    registry.get('s3')\nexcept Exception as exc:\n    print(type(exc).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == (
        "The s3 connector needs its SDK, which is not installed: pip install 'datacage[s3]'."
    )
    assert "pip install 'datacage[azure-blob]'" in out[1]
    assert out[2] == "None"
    assert out[3] == "ConnectorUnavailable"


def test_secret_options_are_masked():
    schema = registry.get("s3").configuration_schema()
    masked = shown(schema, {"bucket": "b", "secret_access_key": "hunter2"})
    assert masked == {"bucket": "b", "secret_access_key": "********"}


def test_a_good_registration_passes():
    assert _check_fields(dict(GOOD))["name"] == "customers"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "blue"}, "colour"),
        ({"size": "12"}, "size"),
        ({"name": "../etc"}, "name"),
        ({"connector": "ftp"}, "connector"),
        ({"format": "xlsx"}, "format"),
        ({"schema": None}, "schema"),
        ({"location": "s3://bucket/key?token=secret"}, "location"),
        ({"ciphertext_digest": "md5:abc"}, "ciphertext_digest"),
        ({"key_sha256": "C" * 64}, "key_sha256"),
        ({"grant": {"url": 5}}, "grant"),
        ({"size": True}, "size"),
    ],
)
def test_a_bad_registration_names_the_field(change, field):
    with pytest.raises(ValidationFailed) as refused:
        _check_fields({**GOOD, **change})
    assert field in refused.value.fields
