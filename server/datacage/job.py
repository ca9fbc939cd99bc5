"""One job, start to end, inside the datacage: pull, stage, run in the sandbox, gate, report.

The only place personal data is in the clear is the job's private work directory (0700), and
it is removed on every path out of `execute`, failures included. What goes back to the control
plane is counts, plain-words problems that name no person, the algorithm's log scrubbed of
every value read from a pod, and the gate's verdict. A result that passes the gate is kept in
the datacage's result store (0600) for delivery; a refused one is deleted by the gate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.solid import SolidClient
from datacage_sdk.run import PRIVACY_PARAMETER
from datafuse.noise import DifferentialPrivacy

from ..provenance import InputUse
from .control_plane import Job, RunReporter
from .datasets import (
    DatacageKeys,
    DatasetProblem,
    FetchReporter,
    add_to_index,
    dataset_identifiers,
    stage_datasets,
)
from .delivery import DeliverySettings, Outbox
from .gate import GatePolicy, InputIdentifiers, PersonInputs, check_output, scrub
from .pull import PLAIN_HTTP, TLS, PersonOutcome, PullLimits, pull
from .sandbox import Outcome, SandboxLimits, run_algorithm
from .usage_receipts import Use, write_usage_receipts

log = logging.getLogger(__name__)

_PROGRESS_EVERY_S = 1.0


@dataclass(frozen=True)
class JobSettings:
    work_root: Path  # private scratch space; each job gets a fresh folder inside
    results_dir: Path  # results that passed the gate, waiting for delivery
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    pull: PullLimits = field(default_factory=PullLimits)
    # Results on their way to consumers' pods (issue 6); default: `<results_dir>/../delivery`.
    delivery_root: Path | None = None
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    # Development only: read pods served over plain http (no TLS, so no attestation gateway).
    # A run that did says so on its page and in its result's provenance.
    allow_plain_http_pods: bool = False

    @property
    def delivery_dir(self) -> Path:
        return self.delivery_root or self.results_dir.parent / "delivery"


@dataclass
class JobReport:
    succeeded: bool
    individuals_read: int = 0
    problems: list[str] = field(default_factory=list)
    log: str = ""
    gate_passed: bool | None = None
    gate_reasons: list[str] = field(default_factory=list)
    result_digest: str | None = None
    result_size: int | None = None
    # How pods were read: "tls" (with the RA-TLS client certificate), or PLAIN_HTTP.
    pull_transport: str = TLS

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def execute(
    job: Job,
    bundle_files: Mapping[str, bytes],
    output_shape,  # rdflib.Graph: the approved shape, from the bundle itself
    cage: SolidClient,
    reporter: RunReporter,
    settings: JobSettings,
    keys: DatacageKeys | None = None,  # opens organisations' pushed datasets (docs/push.md)
    outbox: Outbox | None = None,  # signs and delivers a gated result (issue 6)
) -> JobReport:
    work = _private_dir(settings.work_root / f"{job.run_id}-{secrets.token_hex(4)}")
    uses: list[Use] = []  # filled once the pull is done: whose data this run read
    try:
        report = _execute(
            job, bundle_files, output_shape, cage, reporter, settings, work, uses, keys, outbox
        )
    except Exception:
        # The run must still end, or it would show "running" forever. The words name no
        # input; the traceback goes to the datacage's own log, never to the code provider.
        log.exception("job failed inside the datacage", extra={"run": job.run_id})
        report = JobReport(
            succeeded=False,
            problems=["The datacage failed while carrying out the run; its operator must look."],
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the only copy of the inputs goes here
    # Results go only to consumers who designated a container; the others receive nothing.
    sent_to = tuple(d.consumer for d in job.deliveries) if outbox and report.succeeded else ()
    _write_receipts(job, cage, uses, sent_to, report)
    reporter.finish(report.as_json())
    log.info(
        "job finished",
        extra={"run": job.run_id, "succeeded": report.succeeded, "gate": report.gate_passed},
    )
    return report


def _execute(
    job,
    bundle_files,
    output_shape,
    cage,
    reporter,
    settings,
    work: Path,
    uses: list[Use],
    keys: DatacageKeys | None = None,
    outbox: Outbox | None = None,
) -> JobReport:
    reporter.progress("Reading consented data from pods.", 0.05)
    outcomes = pull(
        cage, reporter, job.consents, settings.pull, allow_plain_http=settings.allow_plain_http_pods
    )
    read = [o for o in outcomes if o.inputs]
    uses.extend(_use_of(o) for o in read)  # first: read is read, even if a report below fails
    for outcome in read:
        reporter.record_use(outcome.consent, outcome.reads)
    used = [InputUse(o.consent.iri, tuple(r.version for r in o.reads)) for o in read]
    report = JobReport(succeeded=False, individuals_read=len(read))
    if any(o.plain_http for o in read):
        report.pull_transport = PLAIN_HTTP
    report.problems.extend(_pull_problems(outcomes))
    if len(read) < job.min_individuals:
        report.problems.append(
            f"Only {len(read)} individual(s) could be read; this space needs at least "
            f"{job.min_individuals} in every result, so the algorithm was not run."
        )
        return report

    identifiers = InputIdentifiers.collect(
        PersonInputs(o.consent.subject, [(i.url, i.content_type or "", i.body) for i in o.inputs])
        for o in read
    )
    inputs_dir, output_dir = work / "input", work / "output"
    _stage(read, inputs_dir)
    del outcomes, read  # the staged copy is the one the algorithm reads
    problem, pushed = _stage_pushed(job, keys, inputs_dir, reporter, cage)
    if problem:
        report.problems.append(problem)
        return report
    if pushed:  # what organisations pushed must not leave verbatim either
        extra = dataset_identifiers(inputs_dir, pushed)
        identifiers = InputIdentifiers(
            identifiers.values | extra.values, {**extra.kinds, **identifiers.kinds}
        )

    reporter.progress("Running the algorithm.", 0.3)
    last = [0.0]

    def on_progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY_S:
            last[0] = now
            reporter.progress("Running the algorithm.", 0.3 + 0.6 * max(0.0, min(1.0, fraction)))

    ran = run_algorithm(
        bundle_files,
        job.digest,
        inputs_dir,
        output_dir,
        with_terms(job.parameters, job.privacy),
        limits=settings.sandbox,
        work_dir=work,
        on_progress=on_progress,
    )
    report.log = scrub(ran.log, identifiers)
    if ran.outcome is not Outcome.SUCCEEDED:
        report.problems.append(scrub(ran.reason, identifiers))
        return report

    reporter.progress("Checking the output.", 0.92)
    verdict = check_output(
        output_dir,
        GatePolicy(shape=output_shape, min_individuals=job.min_individuals),
        identifiers,
        individuals_in_run=report.individuals_read,
    )
    report.gate_passed = verdict.passed
    report.gate_reasons = list(verdict.reasons)
    if not verdict.passed or verdict.graph is None:
        report.problems.append("The output gate held the result back; nothing left the datacage.")
        return report
    data = verdict.graph.serialize(format="turtle").encode()
    report.result_digest = "sha256:" + hashlib.sha256(data).hexdigest()
    report.result_size = len(data)
    _keep_result(settings.results_dir, job.run_id, data)
    if outbox is not None:
        outbox.send(
            job, verdict.graph, report.result_digest, used, pull_transport=report.pull_transport
        )
    report.succeeded = True
    return report


def with_terms(parameters: Mapping[str, Any], privacy: DifferentialPrivacy | None) -> dict:
    """The parameters the algorithm gets, with the space's differential-privacy term if any."""
    if privacy is None:
        return dict(parameters)
    return {**parameters, PRIVACY_PARAMETER: privacy.as_json()}


def _stage_pushed(job: Job, keys, inputs_dir: Path, reporter: RunReporter, cage):
    """Stage the space's pushed datasets beside the people: (None, index entries), or
    (why not, [])."""
    if not job.datasets:
        return None, []
    if keys is None:
        return "This datacage cannot open pushed datasets (it was started without its key).", []
    reporter.progress("Fetching organisations' datasets.", 0.2)
    progress = FetchReporter(reporter.progress)
    try:
        entries = stage_datasets(
            job.datasets,
            space_iri=job.space_iri,
            bundle_digest=job.digest,
            keys=keys,
            inputs_dir=inputs_dir,
            progress=progress,
            solid_client=cage,
        )
    except DatasetProblem as exc:
        return f"{exc} The algorithm was not run.", []
    finally:
        progress.close()
    add_to_index(inputs_dir, entries)
    return None, entries


def _use_of(outcome: PersonOutcome) -> Use:
    consent = outcome.consent
    return Use(
        consent.iri,
        getattr(consent, "usage_records", None),
        tuple(getattr(consent, "purposes", ())),
        tuple(outcome.reads),
        datetime.now(UTC),
    )


def _write_receipts(
    job: Job, cage: SolidClient, uses: list[Use], sent_to: tuple[str, ...], report: JobReport
) -> None:
    """One usage record in each read person's pod, on every path out of a run that read data.

    `sent_to`: the consumers the result was handed to for delivery (queued, signed, retried
    until delivered or failed: docs/delivery.md), none when the run produced no result.
    """
    if not uses:
        return
    try:
        receipts = write_usage_receipts(
            cage,
            uses,
            run_iri=job.run_iri,
            run_id=job.run_id,
            space_iri=job.space_iri,
            digest=job.digest,
            consumers=sent_to,
        )
    except Exception:  # never the run's failure: the result and its report still go out
        log.exception("usage records not written", extra={"run": job.run_id})
        report.problems.append("Usage records could not be written into individuals' pods.")
        return
    report.problems.extend(receipts.problems)


def _pull_problems(outcomes: list[PersonOutcome]) -> list[str]:
    """What went wrong, counted by kind: a code provider must not learn whose pod failed."""
    withdrawn = sum(1 for o in outcomes if o.withdrawn)
    lapsed = sum(1 for o in outcomes if o.lapsed)
    not_admitted = sum(1 for o in outcomes if o.attestation_refused)
    not_tls = sum(1 for o in outcomes if o.transport_refused)
    unreadable = sum(1 for o in outcomes if o.skipped) - withdrawn - lapsed - not_admitted - not_tls
    problems = []
    if not_tls:
        problems.append(
            f"{not_tls} pod(s) are served over plain http, which the datacage does not read "
            "(no TLS, so no attestation check by their provider); left out."
        )
    if withdrawn:
        problems.append(f"{withdrawn} pod(s) refused the read; counted as withdrawn consent.")
    if unreadable:
        problems.append(f"{unreadable} pod(s) could not be read (down or failing); left out.")
    if not_admitted:
        problems.append(
            f"{not_admitted} pod(s) did not accept the datacage's attestation (the code or "
            "algorithm it runs is not one their provider approved); left out."
        )
    if lapsed:
        problems.append(f"{lapsed} consent(s) stopped counting before the read; left out.")
    return problems


def _stage(outcomes: list[PersonOutcome], inputs_dir: Path) -> None:
    """The input layout of docs/algorithm-runtime.md; people in random order, numbered."""
    _private_dir(inputs_dir)
    order = sorted(outcomes, key=lambda _: secrets.randbits(64))  # no link to consent order
    people = []
    for number, outcome in enumerate(order, start=1):
        person = f"person-{number}"
        _private_dir(inputs_dir / person)
        resources = []
        for index, item in enumerate(outcome.inputs, start=1):
            relative = f"{person}/{index}"
            (inputs_dir / relative).write_bytes(item.body)
            resources.append(
                {
                    "file": relative,
                    "name": item.url.rstrip("/").rsplit("/", 1)[-1],
                    "content_type": (item.content_type or "application/octet-stream"),
                }
            )
        people.append({"id": person, "resources": resources})
    (inputs_dir / "index.json").write_text(json.dumps({"people": people}))


def _keep_result(results_dir: Path, run_id: str, data: bytes) -> None:
    _private_dir(results_dir)
    target = results_dir / f"{run_id}.ttl"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path
