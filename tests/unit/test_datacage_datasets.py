"""The datacage's side of push, on files: open only what was sealed for this key, this space,
this name and evidence issued for this very bundle; check; stage; leave nothing on failure."""

from __future__ import annotations

import hashlib
import io
import json
import stat

import pytest

from server.attestation import EnclaveKey, Measurement
from server.datacage.datasets import (
    DatacageKeys,
    DatasetProblem,
    JobDataset,
    add_to_index,
    dataset_identifiers,
    stage_datasets,
)
from server.push.envelope import Context, seal

SPACE = "http://localhost:5000/spaces/abc"
CODE, BUNDLE, OTHER = ("sha256:" + c * 64 for c in "123")
SCHEMA = {"columns": [{"name": "email", "type": "string"}, {"name": "orders", "type": "integer"}]}
TABLE = b"email,orders\nalice@shop.example,2\nbob@shop.example,3\n"


@pytest.fixture
def keys() -> DatacageKeys:
    return DatacageKeys(EnclaveKey.generate())


def pushed(tmp_path, keys, *, bundle=BUNDLE, data=TABLE, name="customers", space=SPACE):
    evidence = keys.remember(f"evidence for {bundle}".encode(), Measurement(CODE, bundle))
    path = tmp_path / f"{name}-{bundle[-4:]}.dcgpush"
    context = Context(space, name, evidence, keys.key.public_key_sha256())
    with open(path, "wb") as out:
        seal(io.BytesIO(data), out, keys.key.public_key, context, chunk_size=16)
    digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return JobDataset(
        id="dataset-x",
        provider="https://org.example/profile/card#me",
        name=name,
        connector="file",
        grant={"path": str(path)},
        format="csv",
        schema=SCHEMA,
        ciphertext_digest=digest,
        size=path.stat().st_size,
        evidence_sha256=evidence,
        key_sha256=keys.key.public_key_sha256(),
    )


def stage(keys, inputs, *datasets, bundle=BUNDLE):
    return stage_datasets(
        datasets, space_iri=SPACE, bundle_digest=bundle, keys=keys, inputs_dir=inputs
    )


def test_a_dataset_is_staged_by_the_layout_contract(tmp_path, keys):
    inputs = tmp_path / "input"
    inputs.mkdir()
    (inputs / "index.json").write_text(json.dumps({"people": []}))
    entries = stage(keys, inputs, pushed(tmp_path, keys))
    assert entries == [
        {
            "id": "dataset-1",
            "provider": "https://org.example/profile/card#me",
            "name": "customers",
            "file": "datasets/dataset-1/customers.csv",
            "format": "csv",
            "schema": SCHEMA,
        }
    ]
    staged = inputs / "datasets" / "dataset-1" / "customers.csv"
    assert staged.read_bytes() == TABLE
    assert stat.S_IMODE(staged.stat().st_mode) == 0o600
    assert sorted(p.name for p in staged.parent.iterdir()) == ["customers.csv"]
    add_to_index(inputs, entries)
    assert json.loads((inputs / "index.json").read_text())["datasets"] == entries
    # The gate learns the pushed e-mail addresses too.
    assert "alice@shop.example" in dataset_identifiers(inputs, entries).values


def test_a_dataset_pushed_for_another_algorithm_stays_closed(tmp_path, keys):
    inputs = tmp_path / "input"
    with pytest.raises(DatasetProblem, match="was encrypted for the algorithm sha256:3333"):
        stage(keys, inputs, pushed(tmp_path, keys, bundle=OTHER))
    assert not (inputs / "datasets" / "dataset-1").exists()


def test_evidence_this_datacage_never_issued_stays_closed(tmp_path, keys):
    dataset = pushed(tmp_path, keys)
    keys.issued.clear()  # as if another process had issued it
    with pytest.raises(DatasetProblem, match="never issued; push it again"):
        stage(keys, tmp_path / "input", dataset)


def test_a_table_that_does_not_match_leaves_nothing(tmp_path, keys):
    bad = pushed(tmp_path, keys, data=b"email,orders\nalice@shop.example,two\n")
    good = pushed(tmp_path, keys, name="suppliers")
    inputs = tmp_path / "input"
    with pytest.raises(DatasetProblem, match=r"Row 1, column 'orders' \(column 2\)"):
        stage(keys, inputs, bad, good)
    assert not any((inputs / "datasets").iterdir())


def test_a_swapped_envelope_or_a_missing_file(tmp_path, keys):
    dataset = pushed(tmp_path, keys)
    other = pushed(tmp_path, keys, data=b"email,orders\n")
    swapped = JobDataset(**{**dataset.__dict__, "grant": other.grant})
    with pytest.raises(DatasetProblem, match="not the one that was registered"):
        stage(keys, tmp_path / "input", swapped)
    gone = JobDataset(**{**dataset.__dict__, "grant": {"path": str(tmp_path / "nope")}})
    with pytest.raises(DatasetProblem, match=r"could not be fetched.*is the folder mounted"):
        stage(keys, tmp_path / "input", gone)


def test_a_job_dataset_is_read_strictly():
    good = {
        "id": "d",
        "provider": "p",
        "name": "n",
        "connector": "file",
        "grant": {"path": "/x"},
        "format": "csv",
        "schema": None,
        "ciphertext_digest": "sha256:",
        "size": 1,
        "evidence_sha256": "e",
        "key_sha256": "k",
    }
    assert JobDataset.from_json(good).name == "n"
    for change in ({"size": "1"}, {"grant": {"path": 1}}, {"name": None}, {"schema": []}):
        with pytest.raises(TypeError):
            JobDataset.from_json({**good, **change})
