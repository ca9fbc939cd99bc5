"""One job, start to end, inside the datacage: pull, stage, run in the sandbox, gate, report.

The only place personal data is in the clear is the job's private work directory (0700), and
it is removed on every path out of `execute`, failures included. What goes back to the control
plane are codes of fixed vocabularies (`server.protocol.outcomes`): an outcome, the gate's rule and
shape path when it refused, notes, coarse progress (`progress`) and the number of individuals
read. Never words: the algorithm's log and reasons, however scrubbed, could carry what it read,
so they stay in the work directory and go with it. A result that passes the gate is kept in the
datacage's result store (0600) for delivery; a refused one is deleted by the gate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rdflib import Graph, URIRef

from connectors.solid import SolidClient
from datacage_sdk.run import PRIVACY_PARAMETER
from datafuse.noise import DifferentialPrivacy
from vocab import SH

from ..protocol.consents import JobConsent
from ..protocol.outcomes import GATE_RULES, Note, Outcome, PullTransport, Refusal, Stage
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
from .gate import GatePolicy, GateVerdict, InputIdentifiers, PersonInputs, check_output
from .gate import prepare as prepare_gate
from .pod_servers import PodServers
from .progress import PullCounts, RunProgress
from .pull import OnPerson, PersonOutcome, PullLimits, pull_stream
from .recheck import BatchedRecheck
from .sandbox import Outcome as SandboxOutcome
from .sandbox import SandboxLimits, run_algorithm
from .usage_receipts import Use, write_usage_receipts

log = logging.getLogger(__name__)

#: People asked about (and then pulled) together: one prefilter question per page.
PAGE = 200

#: How each way the sandbox ends is reported (also by `datacage sdk run`).
SANDBOX_OUTCOMES = {
    SandboxOutcome.FAILED: Outcome.ALGORITHM_ERROR,
    SandboxOutcome.TIMED_OUT: Outcome.TIME_LIMIT,
    SandboxOutcome.CPU_LIMIT: Outcome.CPU_LIMIT,
    SandboxOutcome.MEMORY_LIMIT: Outcome.MEMORY_LIMIT,
    SandboxOutcome.OUTPUT_TOO_LARGE: Outcome.OUTPUT_LIMIT,
    SandboxOutcome.REFUSED: Outcome.SANDBOX_ERROR,
    # A link, folder or special file in /output: the sandbox refused it before the gate.
    SandboxOutcome.OUTPUT_REFUSED: Outcome.OUTPUT_REFUSED,
}


@dataclass(frozen=True)
class JobSettings:
    work_root: Path  # private scratch space; each job gets a fresh folder inside
    results_dir: Path  # results that passed the gate, waiting for delivery
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    pull: PullLimits = field(default_factory=PullLimits)
    # Results on their way to consumers' pods; default: `<results_dir>/../delivery`.
    delivery_root: Path | None = None
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    # Development only: read pods served over plain http (no TLS, so no attestation gateway).
    # A run that did says so on its page and in its result's provenance.
    allow_plain_http_pods: bool = False
    # Pod origins the worker reaches through another address (its providers' gateways): the
    # pull's per-server bound counts them at that address.
    pod_routes: Mapping[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def delivery_dir(self) -> Path:
        return self.delivery_root or self.results_dir.parent / "delivery"


@dataclass
class JobReport:
    """How a run ended, in the codes the control plane accepts (`as_json`) and nothing else."""

    outcome: Outcome = Outcome.DATACAGE_ERROR
    individuals_read: int = 0
    notes: set[Note] = field(default_factory=set)
    refusal: Refusal | None = None
    result_digest: str | None = None
    result_size: int | None = None
    pull_transport: PullTransport = PullTransport.TLS

    @property
    def succeeded(self) -> bool:
        return self.outcome is Outcome.SUCCEEDED

    @property
    def gate_passed(self) -> bool | None:
        return {Outcome.SUCCEEDED: True, Outcome.OUTPUT_REFUSED: False}.get(self.outcome)

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "refusal": self.refusal.as_json() if self.refusal else None,
            "notes": sorted(n.value for n in self.notes),
            "individuals_read": self.individuals_read,
            "result_digest": self.result_digest,
            "result_size": self.result_size,
            "pull_transport": self.pull_transport.value,
        }


def execute(
    job: Job,
    bundle_files: Mapping[str, bytes],
    output_shape,  # rdflib.Graph: the approved shape, from the bundle itself
    cage: SolidClient,
    reporter: RunReporter,
    settings: JobSettings,
    keys: DatacageKeys | None = None,  # opens organisations' pushed datasets (docs/push.md)
    outbox: Outbox | None = None,  # signs and delivers a gated result
) -> JobReport:
    work = _private_dir(settings.work_root / f"{job.run_id}-{secrets.token_hex(4)}")
    uses: list[Use] = []  # filled once the pull is done: whose data this run read
    try:
        report = _execute(
            job, bundle_files, output_shape, cage, reporter, settings, work, uses, keys, outbox
        )
    except Exception:
        # The run must still end, or it would show "running" forever. The traceback goes to
        # the datacage's own log, never to the code provider.
        log.exception("job failed inside the datacage", extra={"run": job.run_id})
        report = JobReport(Outcome.DATACAGE_ERROR)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the only copy of the inputs goes here
    # Results go only to consumers who designated a container; the others receive nothing.
    sent_to = tuple(d.consumer for d in job.deliveries) if outbox and report.succeeded else ()
    _write_receipts(job, cage, uses, sent_to, report)
    reporter.finish(report.as_json())
    log.info("job finished", extra={"run": job.run_id, "outcome": report.outcome.value})
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
    progress = RunProgress(reporter.progress)
    progress.stage(Stage.PULLING)
    counts = PullCounts(job.pod_servers, getattr(reporter, "pull_progress", lambda _counts: None))
    with counts.reporting():
        outcomes = pull_pages(
            job,
            cage,
            reporter,
            settings,
            on_person=counts.on_person,
            servers=PodServers(settings.pod_routes),
        )
    read = [o for o in outcomes if o.inputs]
    uses.extend(_use_of(o) for o in read)  # first: read is read, even if a report below fails
    for outcome in read:
        reporter.record_use(outcome.consent, outcome.reads)
    used = [InputUse(o.consent.iri, tuple(r.version for r in o.reads)) for o in read]
    report = JobReport(individuals_read=len(read), notes=_pull_notes(outcomes))
    if any(o.plain_http for o in read):
        report.pull_transport = PullTransport.PLAIN_HTTP
    if len(read) < job.min_individuals:
        report.outcome = Outcome.TOO_FEW_INDIVIDUALS
        return report

    identifiers = InputIdentifiers.collect(
        PersonInputs(o.consent.subject, [(i.url, i.content_type or "", i.body) for i in o.inputs])
        for o in read
    )
    inputs_dir, output_dir = work / "input", work / "output"
    _stage(read, inputs_dir)
    del outcomes, read  # the staged copy is the one the algorithm reads
    problem, pushed = _stage_pushed(job, keys, inputs_dir, progress, cage)
    if problem:
        # For the operator only: a dataset's provider checks it with `datacage push`.
        log.warning("pushed datasets not staged", extra={"run": job.run_id, "why": problem})
        report.outcome = Outcome.INPUT_ERROR
        return report
    if pushed:  # what organisations pushed must not leave verbatim either
        identifiers = identifiers.merged(dataset_identifiers(inputs_dir, pushed))

    # The scan's needles are built while the algorithm runs (the worker only waits then).
    scanner = threading.Thread(target=lambda: identifiers.scanner, name="identifier-scan")
    scanner.start()
    # So is the gate's sandbox (for this run's output only): its imports take about a second.
    gate_check = prepare_gate()
    try:
        with progress.running() as on_progress:
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
    except BaseException:
        gate_check.stop()
        raise
    scanner.join()
    # The log and the reason stay here: whatever the algorithm wrote is its to choose.
    if ran.outcome is not SandboxOutcome.SUCCEEDED:
        gate_check.stop()
        report.outcome = SANDBOX_OUTCOMES[ran.outcome]
        if ran.outcome is SandboxOutcome.OUTPUT_REFUSED:
            report.refusal = Refusal("files/not-plain")
        return report

    progress.stage(Stage.GATING)
    verdict = check_output(
        output_dir,
        GatePolicy(shape=output_shape, min_individuals=job.min_individuals),
        identifiers,
        individuals_in_run=report.individuals_read,
        checker=gate_check,
    )
    if not verdict.passed or verdict.graph is None:
        report.outcome = Outcome.OUTPUT_REFUSED
        report.refusal = _refusal(verdict, output_shape)
        return report
    data = verdict.graph.serialize(format="turtle").encode()
    report.result_digest = "sha256:" + hashlib.sha256(data).hexdigest()
    report.result_size = len(data)
    _keep_result(settings.results_dir, job.run_id, data)
    if outbox is not None:
        progress.stage(Stage.DELIVERING)
        outbox.send(
            job,
            verdict.graph,
            report.result_digest,
            used,
            pull_transport=report.pull_transport.value,
        )
    report.outcome = Outcome.SUCCEEDED
    return report


def pull_pages(
    job: Job,
    cage: SolidClient,
    reporter: RunReporter,
    settings: JobSettings,
    *,
    on_person: OnPerson | None = None,
    servers: PodServers | None = None,
) -> list[PersonOutcome]:
    """Every person of the job, a page at a time: one question says which of the page still
    count and what each may read (a prefilter), then the pull asks again, in shared batches,
    right before each read (`BatchedRecheck`). A person who no longer counts is never read.

    The next page's question is asked while this page is pulled, so the pods never wait for
    it; an answer that grows old meanwhile is still only a prefilter."""
    recheck = BatchedRecheck(
        lambda iris: {c.iri for c in reporter.check(iris)}, reporter.record_refusal
    )
    iris = job.consent_iris
    pages = [list(iris[start : start + PAGE]) for start in range(0, len(iris), PAGE)]
    lapsed: list[PersonOutcome] = []

    def in_force() -> Iterator[list[JobConsent]]:
        """Each page's people who still count, the next page asked about meanwhile."""
        with ThreadPoolExecutor(1, thread_name_prefix="page-question") as ahead:
            asked = ahead.submit(reporter.check, pages[0]) if pages else None
            for number, page in enumerate(pages):
                assert asked is not None
                people = asked.result()
                if number + 1 < len(pages):
                    asked = ahead.submit(reporter.check, pages[number + 1])
                counted = {c.iri for c in people}
                lapsed.extend(_lapsed(iri) for iri in page if iri not in counted)
                yield people

    outcomes = pull_stream(
        cage,
        recheck,
        in_force(),
        settings.pull,
        allow_plain_http=settings.allow_plain_http_pods,
        on_person=on_person,
        servers=servers,
    )
    return lapsed + outcomes


def _lapsed(iri: str) -> PersonOutcome:
    """A person the page's question left out: their consent stopped counting since the claim."""
    return PersonOutcome(
        JobConsent(iri, "", ()), skipped="the consent no longer counts", lapsed=True
    )


def with_terms(parameters: Mapping[str, Any], privacy: DifferentialPrivacy | None) -> dict:
    """The parameters the algorithm gets, with the space's differential-privacy term if any."""
    if privacy is None:
        return dict(parameters)
    return {**parameters, PRIVACY_PARAMETER: privacy.as_json()}


def _refusal(verdict: GateVerdict, shape: Graph) -> Refusal:
    """The gate's first refusal as a rule and shape path of the fixed vocabulary.

    The gate says which rules it applied (`refusals`, each with a `rule` and a `shape_path`
    naming a place in the approved shape, "node shape / path"); a rule outside `GATE_RULES` is
    reported as unspecified, and the place only as the `sh:path` IRI of the shape it names.
    """
    given = list(getattr(verdict, "refusals", None) or ()) or [getattr(verdict, "refusal", None)]
    rule = getattr(given[0], "rule", None)
    if not isinstance(rule, str) or rule not in GATE_RULES:
        return Refusal("unspecified")
    return Refusal(rule, _path_iri(getattr(given[0], "shape_path", None), shape))


def _path_iri(place: object, shape: Graph) -> str | None:
    """The sh:path IRI a place in the shape ends with ("ex:Report / ex:orders"), if it is one."""
    if not isinstance(place, str):
        return None
    paths = {str(p) for p in shape.objects(None, SH.path) if isinstance(p, URIRef)}
    last = place.rsplit(" / ", 1)[-1].strip()
    if last.startswith("<") and last.endswith(">"):
        candidate: str | None = last[1:-1]
    else:
        prefix, _, local = last.partition(":")
        namespace = {str(p): str(n) for p, n in shape.namespaces()}.get(prefix)
        candidate = namespace + local if namespace and local else place
    return candidate if candidate in paths else None


def _stage_pushed(job: Job, keys, inputs_dir: Path, run_progress: RunProgress, cage):
    """Stage the space's pushed datasets beside the people: (None, index entries), or
    (why not, []). Why not stays in the datacage: a dataset's problem may quote its rows."""
    if not job.datasets:
        return None, []
    if keys is None:
        return "This datacage cannot open pushed datasets (it was started without its key).", []
    run_progress.stage(Stage.FETCHING_DATASETS)
    # Per-dataset progress goes to the datacage's own log and terminal only.
    progress = FetchReporter(lambda _words, _fraction: None)
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
        report.notes.add(Note.USAGE_RECORDS_FAILED)
        return
    if receipts.failed:
        report.notes.add(Note.USAGE_RECORDS_FAILED)
    if receipts.skipped_old:
        report.notes.add(Note.USAGE_RECORDS_NOT_KEPT)


def _pull_notes(outcomes: list[PersonOutcome]) -> set[Note]:
    """What went wrong, by kind and never counted: a count below k could single someone out."""
    withdrawn = sum(1 for o in outcomes if o.withdrawn)
    lapsed = sum(1 for o in outcomes if o.lapsed)
    not_admitted = sum(1 for o in outcomes if o.attestation_refused)
    not_tls = sum(1 for o in outcomes if o.transport_refused)
    unreadable = sum(1 for o in outcomes if o.skipped) - withdrawn - lapsed - not_admitted - not_tls
    found = {
        Note.PODS_NOT_TLS: not_tls,
        Note.PODS_REFUSED: withdrawn,
        Note.PODS_UNREADABLE: unreadable,
        Note.PODS_NOT_ADMITTED: not_admitted,
        Note.CONSENTS_LAPSED: lapsed,
    }
    return {note for note, count in found.items() if count}


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
