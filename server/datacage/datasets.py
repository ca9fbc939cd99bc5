"""Organisations' pushed datasets inside the datacage: fetch, decrypt, check, stage.

For each dataset a job names, in the job's private work area only:

1. open the read grant the provider made (a presigned or SAS URL, a path) with its connector,
   which needs no cloud SDK and holds no provider key;
2. decrypt the envelope as it streams in (envelope_open.py), after checking that it is for
   this space and dataset name, and sealed either to *this* process's enclave key after
   evidence this process issued *for the bundle it is about to run*, or to a fleet key the key
   service released to this worker *for that bundle* (fleet_keys.py): a dataset pushed for
   another algorithm, to a retired fleet key, or to the key of a datacage that has since
   restarted, stays closed;
3. check the ciphertext's SHA-256 against the registered digest (no swapped envelope) and the
   plaintext against its declared format and schema;
4. only then move it to `input/datasets/<id>/<file>` and list it in `input/index.json`.

Any failure removes what was written for that dataset and raises `DatasetProblem`, whose words
name the dataset (its registered name) and never a value from it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import click

from connectors.base import ConnectorError
from connectors.registry import connector_types
from connectors.solid_push import check_in_own_pod

from ..attestation import EnclaveKey, Measurement
from ..push import envelope
from ..push.errors import EnclaveKeyGone, PushError
from ..push.formats import EXTENSIONS, check_file
from .dataset_rows import JobDataset
from .envelope_open import KeyChooser, open_stream
from .fleet_keys import FleetKeyring
from .gate import InputIdentifiers, PersonInputs

log = logging.getLogger(__name__)

#: Called as (dataset name, bytes fetched so far, total bytes or None).
FetchProgress = Callable[[str, int, int | None], None]
_SAFE_NAME = str.maketrans({c: "_" for c in "/\\\x00:"})


class DatasetProblem(PushError):
    """A pushed dataset could not be fetched, opened or checked; nothing of it was staged."""


@dataclass
class DatacageKeys:
    """The enclave key and the evidence this process issued with it (hash -> measurement),
    and the fleet's keys when the worker belongs to a fleet with a key service."""

    key: EnclaveKey
    issued: dict[str, Measurement] = field(default_factory=dict)
    fleet: FleetKeyring | None = None

    def remember(self, evidence_bytes: bytes, measurement: Measurement) -> str:
        digest = hashlib.sha256(evidence_bytes).hexdigest()
        self.issued[digest] = measurement
        return digest


def stage_datasets(
    datasets: tuple[JobDataset, ...],
    *,
    space_iri: str,
    bundle_digest: str,
    keys: DatacageKeys,
    inputs_dir: Path,
    progress: FetchProgress | None = None,
    max_bytes: int = 64 << 30,
    solid_client: Any = None,  # the datacage's own Solid client, for datasets in pods
) -> list[dict[str, Any]]:
    """Stage every dataset; return the `"datasets"` entries of index.json (see the contract)."""
    entries = []
    for number, dataset in enumerate(datasets, start=1):
        staged_id = f"dataset-{number}"
        folder = inputs_dir / "datasets" / staged_id
        try:
            file_name = _stage_one(
                dataset, space_iri, bundle_digest, keys, folder, progress, max_bytes, solid_client
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # nothing half-decrypted stays
            raise
        entries.append(
            {
                "id": staged_id,
                "provider": dataset.provider,
                "name": dataset.name,
                "file": f"datasets/{staged_id}/{file_name}",
                "format": dataset.format,
                "schema": dataset.schema,
            }
        )
        log.info("dataset staged", extra={"dataset": dataset.id, "format": dataset.format})
    return entries


def _stage_one(
    dataset, space_iri, bundle_digest, keys, folder, progress, max_bytes, solid_client
) -> str:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = folder / ".partial"
    connector = connector_types().get(dataset.connector)
    if connector is None:
        raise DatasetProblem(
            f"The dataset {dataset.name!r} is kept in storage this datacage cannot read "
            f"({dataset.connector[:40]!r})."
        )

    chooser = _chooser(dataset, keys, bundle_digest)
    try:
        if dataset.connector == "solid":  # read with our identity: only from the provider's pod
            check_in_own_pod(solid_client.http, dataset.provider, dataset.grant.get("url", ""))
        with connector.open_grant(dataset.grant, solid_client=solid_client) as (stream, size):
            counted = _Counting(stream, dataset.name, size or dataset.size, progress, max_bytes)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                for chunk in open_stream(counted, chooser, (space_iri, dataset.name)):
                    out.write(chunk)
    except ConnectorError as exc:
        raise DatasetProblem(f"The dataset {dataset.name!r} could not be fetched: {exc}") from None
    except PushError as exc:
        raise DatasetProblem(str(exc)) from None
    got = "sha256:" + counted.hash.hexdigest()
    if not hmac.compare_digest(got, dataset.ciphertext_digest):
        raise DatasetProblem(
            f"The stored envelope of {dataset.name!r} is not the one that was registered "
            f"(digest {got[:23]}..., registered {dataset.ciphertext_digest[:23]}...); "
            "push it again."
        )
    try:
        check_file(partial, dataset.format, dataset.schema, dataset.name)
    except PushError as exc:
        raise DatasetProblem(str(exc)) from None
    stem = dataset.name.translate(_SAFE_NAME).strip(". ") or "dataset"
    file_name = f"{stem}.{EXTENSIONS[dataset.format]}"
    partial.rename(folder / file_name)
    return file_name


def _chooser(dataset: JobDataset, keys: DatacageKeys, bundle_digest: str) -> KeyChooser:
    """The key that may open this dataset in a run of `bundle_digest`, before anything is
    decrypted: the enclave key (for evidence it issued for this bundle), or a fleet key."""

    def choose(context: envelope.Context):
        if hmac.compare_digest(context.key_sha256, keys.key.public_key_sha256()):
            _check_evidence(dataset, context, keys, bundle_digest)
            return keys.key
        if keys.fleet is None:
            raise EnclaveKeyGone(
                f"The dataset {dataset.name!r} was encrypted to a datacage key that no longer "
                f"exists (key {context.key_sha256[:16]}...; this datacage holds "
                f"{keys.key.public_key_sha256()[:16]}..., a restart makes a new one, and it "
                "has no key service for fleet keys); push it again."
            )
        return keys.fleet.opener(context.key_sha256, bundle_digest, dataset.name)

    return choose


def _check_evidence(dataset, context, keys: DatacageKeys, bundle_digest: str) -> None:
    measurement = keys.issued.get(context.evidence_sha256)
    if measurement is None:
        raise EnclaveKeyGone(
            f"The dataset {dataset.name!r} names evidence this datacage never issued; "
            "push it again."
        )
    if measurement.bundle_digest != bundle_digest:
        raise DatasetProblem(
            f"The dataset {dataset.name!r} was encrypted for the algorithm "
            f"{measurement.bundle_digest[:23]}..., not for the one this run uses "
            f"({bundle_digest[:23]}...); its provider must push it again for this algorithm."
        )


class _Counting:
    """A read-through stream that hashes, counts, limits and reports progress."""

    def __init__(self, stream: BinaryIO, name: str, total: int | None, progress, limit: int):
        self.stream, self.name, self.total = stream, name, total
        self.progress, self.limit = progress, limit
        self.hash, self.done = hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.done += len(data)
        if self.done > self.limit:
            raise DatasetProblem(f"The dataset {self.name!r} is larger than this datacage allows.")
        self.hash.update(data)
        if self.progress and data:
            self.progress(self.name, self.done, self.total)
        return data


def add_to_index(inputs_dir: Path, entries: list[dict[str, Any]]) -> None:
    """Add the `"datasets"` list to the index `_stage` wrote (the layout contract)."""
    index_path = inputs_dir / "index.json"
    index = json.loads(index_path.read_text())
    index["datasets"] = entries
    index_path.write_text(json.dumps(index))


class FetchReporter:
    """Progress of dataset fetches: the run's stage on the control plane (at most once a
    second), a log line every tenth, and a click progress bar when the worker has a terminal."""

    def __init__(self, report: Callable[[str, float], None], *, terminal: bool | None = None):
        self.report = report
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self._bar: Any = None
        self._name: str | None = None
        self._last_report = 0.0
        self._last_tenth = -1

    def __call__(self, name: str, done: int, total: int | None) -> None:
        if name != self._name:
            self.close()
            self._name, self._last_tenth = name, -1
            if self.terminal and total:
                self._bar = click.progressbar(
                    length=total, label=f"Fetching {name}", file=sys.stderr
                ).__enter__()
        if self._bar is not None:
            self._bar.update(done - self._bar.pos)
        fraction = min(1.0, done / total) if total else 0.0
        tenth = int(fraction * 10)
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            log.info("dataset fetch", extra={"dataset": name, "bytes": done, "total": total})
        now = time.monotonic()
        if now - self._last_report >= 1.0:
            self._last_report = now
            self.report(f"Fetching the dataset {name}: {fraction:.0%}.", 0.2 + 0.1 * fraction)
        if total and done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


#: Pushed files up to this size are also read for the output gate's identifiers (in memory).
GATE_SCAN_BYTES = 32 << 20
_GATE_TYPES = {"csv": "text/csv", "turtle": "text/turtle", "jsonld": "application/ld+json"}


def dataset_identifiers(inputs_dir: Path, entries: list[dict[str, Any]]) -> InputIdentifiers:
    """Identifiers in the staged datasets (e-mail addresses, names, ...), for the output gate
    and the log scrubber, as for people's inputs. Parquet is not scanned, nor files over
    `GATE_SCAN_BYTES` (a log line says so)."""
    found = []
    for entry in entries:
        path = inputs_dir / entry["file"]
        media_type = _GATE_TYPES.get(entry["format"])
        if media_type is None or path.stat().st_size > GATE_SCAN_BYTES:
            log.warning("dataset not scanned for identifiers", extra={"dataset": entry["id"]})
            continue
        resource = (f"urn:datacage:pushed:{entry['id']}", media_type, path.read_bytes())
        found.append(PersonInputs(entry["provider"], [resource]))
    return InputIdentifiers.collect(found)
