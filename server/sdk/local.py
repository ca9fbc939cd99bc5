"""``run_locally``: samples staged in the contract layout, the real sandbox, the real gate.

A samples folder holds one folder per individual and one file per organisation dataset::

    SAMPLES/people/<anyone>/<files>        what that person's pod would share
    SAMPLES/datasets/<name>.csv            an organisation's dataset (.csv, .ttl, .jsonld,
    SAMPLES/datasets/<name>.schema.json      .parquet), with its optional column schema

They are staged as the datacage stages a job (docs/algorithm-runtime.md): people numbered in a
random order, datasets as ``dataset-N`` under ``input/datasets/``, and every identifier found
in them (sample WebIDs, e-mail addresses, names...) handed to the gate, which refuses an output
that repeats one in any form. The log is shown in full: the samples are the developer's own, and
on people's data nobody sees it (the datacage reports the `outcome` code only).
"""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from datafuse.noise import DifferentialPrivacy
from server.algorithms import BundleError, bundle_digest, collect_files, pack_files, read_bundle
from server.datacage.gate import (
    GatePolicy,
    GateVerdict,
    InputIdentifiers,
    PersonInputs,
    check_output,
)
from server.datacage.job import SANDBOX_OUTCOMES, with_terms
from server.datacage.sandbox import Outcome, SandboxLimits, SandboxRun, run_algorithm
from server.protocol.outcomes import Outcome as RunOutcome

SAMPLE_BASE = "https://samples.datacage.invalid/"
CONTENT_TYPES = {
    ".ttl": "text/turtle",
    ".csv": "text/csv",
    ".jsonld": "application/ld+json",
    ".json": "application/json",
    ".nt": "application/n-triples",
    ".txt": "text/plain",
}
DATASET_FORMATS = {".csv": "csv", ".parquet": "parquet", ".ttl": "turtle", ".jsonld": "jsonld"}


class SampleError(ValueError):
    """The samples folder is not laid out as documented (plain words)."""


@dataclass(frozen=True)
class LocalRun:
    digest: str
    sandbox: SandboxRun
    verdict: GateVerdict | None  # None when the algorithm did not succeed
    log: str  # in full: on people's data it never leaves the datacage
    result: str | None  # the checked result as Turtle, when it passed

    @property
    def passed(self) -> bool:
        return self.verdict is not None and self.verdict.passed

    @property
    def outcome(self) -> RunOutcome:
        """The code participants would see for this run on people's data."""
        if self.sandbox.outcome is not Outcome.SUCCEEDED:
            return SANDBOX_OUTCOMES[self.sandbox.outcome]
        return RunOutcome.SUCCEEDED if self.passed else RunOutcome.OUTPUT_REFUSED


def run_locally(
    bundle_dir: Path,
    samples_dir: Path,
    *,
    parameters: Mapping[str, object] | None = None,
    min_individuals: int = 5,
    limits: SandboxLimits = SandboxLimits(),  # noqa: B008 - frozen
    privacy: DifferentialPrivacy | None = None,  # a space's differential-privacy term
) -> LocalRun:
    """Run the bundle at ``bundle_dir`` on ``samples_dir`` as the datacage would."""
    bundle = read_bundle(pack_files(collect_files(Path(bundle_dir))))  # every upload check
    values = {p.name: p.default for p in bundle.manifest.parameters}
    unknown = sorted(set(parameters or {}) - set(values))
    if unknown:
        raise BundleError([f"The manifest has no parameter {name!r}." for name in unknown])
    values.update(parameters or {})
    with tempfile.TemporaryDirectory(prefix="datacage-sdk-") as scratch:
        work = Path(scratch)
        work.chmod(0o700)
        identifiers, people = stage_samples(Path(samples_dir), work / "input")
        ran = run_algorithm(
            bundle.files,
            bundle_digest(bundle.files),
            work / "input",
            work / "output",
            with_terms(values, privacy),
            limits=limits,
            work_dir=work,
        )
        log = ran.log
        if ran.outcome is not Outcome.SUCCEEDED:
            return LocalRun(bundle.digest, ran, None, log, None)
        verdict = check_output(
            work / "output",
            GatePolicy(shape=bundle.output_shape, min_individuals=min_individuals),
            identifiers,
            individuals_in_run=people,
        )
        result = verdict.graph.serialize(format="turtle") if verdict.graph is not None else None
        return LocalRun(bundle.digest, ran, verdict, log, result)


def stage_samples(samples_dir: Path, inputs_dir: Path) -> tuple[InputIdentifiers, int]:
    """Stage the samples in ``inputs_dir``; the identifiers in them and how many people."""
    people_dir, datasets_dir = samples_dir / "people", samples_dir / "datasets"
    if not people_dir.is_dir() and not datasets_dir.is_dir():
        raise SampleError(f"{samples_dir} has neither people/ nor datasets/ (see docs/sdk.md).")
    inputs_dir.mkdir(mode=0o700, parents=True)
    found: list[PersonInputs] = []
    folders = sorted(p for p in people_dir.iterdir() if p.is_dir()) if people_dir.is_dir() else []
    people = []
    for number, folder in enumerate(sorted(folders, key=lambda _: secrets.randbits(64)), 1):
        person, resources, read = f"person-{number}", [], []
        (inputs_dir / person).mkdir(mode=0o700)
        for index, source in enumerate(sorted(f for f in folder.iterdir() if f.is_file()), 1):
            data, kind = (
                source.read_bytes(),
                CONTENT_TYPES.get(source.suffix.lower(), "application/octet-stream"),
            )
            (inputs_dir / person / str(index)).write_bytes(data)
            resources.append(
                {"file": f"{person}/{index}", "name": source.name, "content_type": kind}
            )
            read.append((f"{SAMPLE_BASE}{folder.name}/{source.name}", kind, data))
        people.append({"id": person, "resources": resources})
        found.append(PersonInputs(f"{SAMPLE_BASE}{folder.name}/profile/card#me", read))
    datasets = _stage_datasets(datasets_dir, inputs_dir, found) if datasets_dir.is_dir() else []
    index = {"people": people, "datasets": datasets}
    (inputs_dir / "index.json").write_text(json.dumps(index), encoding="utf-8")
    return InputIdentifiers.collect(found), len(people)


def _stage_datasets(datasets_dir: Path, inputs_dir: Path, found: list[PersonInputs]) -> list[dict]:
    files = sorted(f for f in datasets_dir.iterdir() if f.suffix.lower() in DATASET_FORMATS)
    staged = []
    for number, source in enumerate(files, 1):
        dataset_id, name = f"dataset-{number}", source.stem
        folder = inputs_dir / "datasets" / dataset_id
        folder.mkdir(mode=0o700, parents=True)
        data = source.read_bytes()
        (folder / source.name).write_bytes(data)
        schema_file = source.with_name(f"{source.stem}.schema.json")
        try:
            schema = (
                json.loads(schema_file.read_text(encoding="utf-8"))
                if schema_file.exists()
                else None
            )
        except ValueError as error:
            raise SampleError(f"{schema_file.name} is not JSON ({error}).") from None
        provider = f"{SAMPLE_BASE}organisations/{name}/profile/card#org"
        kind = CONTENT_TYPES.get(source.suffix.lower(), "application/octet-stream")
        found.append(PersonInputs(provider, [(f"{SAMPLE_BASE}datasets/{source.name}", kind, data)]))
        staged.append(
            {
                "id": dataset_id,
                "provider": provider,
                "name": name,
                "file": f"datasets/{dataset_id}/{source.name}",
                "format": DATASET_FORMATS[source.suffix.lower()],
                "schema": schema,
            }
        )
    return staged
