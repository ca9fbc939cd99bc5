"""What a run on real data may tell the people outside the datacage: fixed codes, nothing else.

An algorithm that reads people's data chooses what it logs, what its exceptions say and what
progress it reports; anything of that which reaches the control plane is a channel out of the
datacage, however well it is scrubbed (reversed, Base64 or re-cased e-mail addresses pass any
scrub). So the datacage reports a run in codes from the fixed vocabularies below, the control
plane refuses anything else (`server.web.datacage_api`), and the run page, the API, the audit
trail and the dashboard show each code's wording from here. The algorithm's log and its words
stay in the datacage's work area and are wiped with the run; `datacage sdk run` on sample data
shows them in full (docs/sdk.md). What the codes still leak, in bits, is in
docs/threat-model.md ("Run outcomes").

This module is the job protocol's shared vocabulary: the datacage (`server.datacage.job`,
`server.datacage.control_plane`) and the control plane (`server.runs`, `server.web`) both import
it, and it imports nothing of either.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class Outcome(enum.Enum):
    """How a run ended: one code per run."""

    SUCCEEDED = "succeeded"
    ALGORITHM_ERROR = "algorithm-error"
    TIME_LIMIT = "time-limit"
    CPU_LIMIT = "cpu-limit"
    MEMORY_LIMIT = "memory-limit"
    OUTPUT_LIMIT = "output-limit"
    OUTPUT_REFUSED = "output-refused"
    TOO_FEW_INDIVIDUALS = "too-few-individuals"
    INPUT_ERROR = "input-error"
    SANDBOX_ERROR = "sandbox-error"
    DATACAGE_ERROR = "datacage-error"

    @property
    def wording(self) -> str:
        return _OUTCOME_WORDING[self]


_OUTCOME_WORDING = {
    Outcome.SUCCEEDED: "The algorithm finished and the output gate passed its result.",
    Outcome.ALGORITHM_ERROR: (
        "The algorithm failed (it raised an exception or exited with an error). What it said "
        "stays in the datacage: run it on sample data with `datacage sdk run` to see why."
    ),
    Outcome.TIME_LIMIT: "The algorithm was stopped at its wall-clock time limit.",
    Outcome.CPU_LIMIT: "The algorithm used up its CPU time and was stopped.",
    Outcome.MEMORY_LIMIT: "The algorithm ran out of memory.",
    Outcome.OUTPUT_LIMIT: (
        "The algorithm wrote more output than allowed (size or number of files); it was deleted."
    ),
    Outcome.OUTPUT_REFUSED: (
        "The output gate refused the output; nothing left the datacage and the output was deleted."
    ),
    Outcome.TOO_FEW_INDIVIDUALS: (
        "Fewer individuals could be read than the space's smallest group, so the algorithm "
        "was not run."
    ),
    Outcome.INPUT_ERROR: (
        "An organisation's pushed dataset could not be fetched, opened or checked, so the "
        "algorithm was not run. Its provider can check the dataset with `datacage push`."
    ),
    Outcome.SANDBOX_ERROR: "The sandbox could not start the algorithm, so nothing was run.",
    Outcome.DATACAGE_ERROR: (
        "The datacage failed while carrying out the run; its operator must look."
    ),
}


class Note(enum.Enum):
    """Things that happened along the way, whatever the outcome; never a count below k."""

    PODS_REFUSED = "pods-refused"
    PODS_UNREADABLE = "pods-unreadable"
    PODS_NOT_ADMITTED = "pods-not-admitted"
    PODS_NOT_TLS = "pods-not-tls"
    CONSENTS_LAPSED = "consents-lapsed"
    USAGE_RECORDS_FAILED = "usage-records-failed"
    USAGE_RECORDS_NOT_KEPT = "usage-records-not-kept"
    DATACAGE_RESTARTED = "datacage-restarted"
    LEASE_LAPSED = "lease-lapsed"

    @property
    def wording(self) -> str:
        return _NOTE_WORDING[self]


_NOTE_WORDING = {
    Note.PODS_REFUSED: "Some pods refused the read; those consents count as withdrawn.",
    Note.PODS_UNREADABLE: "Some pods could not be read (down or failing) and were left out.",
    Note.PODS_NOT_ADMITTED: (
        "Some pods did not accept the datacage's attestation (the code or algorithm it runs "
        "is not one their provider approved) and were left out."
    ),
    Note.PODS_NOT_TLS: (
        "Some pods are served over plain http, which the datacage does not read (no TLS, so no "
        "attestation check by their provider); they were left out."
    ),
    Note.CONSENTS_LAPSED: "Some consents stopped counting before the read and were left out.",
    Note.USAGE_RECORDS_FAILED: "Some usage records could not be written into people's pods.",
    Note.DATACAGE_RESTARTED: (
        "The datacage stopped while carrying out this run (it was restarted); the copy of the "
        "inputs it held was deleted and nothing of the run was kept."
    ),
    Note.LEASE_LAPSED: (
        "The datacage carrying out this run stopped renewing its hold on it (it stopped or "
        "lost touch), so the run was ended here and nothing it reported later was accepted. "
        "A datacage deletes the inputs it held when it starts again."
    ),
    Note.USAGE_RECORDS_NOT_KEPT: (
        "Some consents were given before usage records were kept in pods, so no record was "
        "written there (My data still lists the use)."
    ),
}


class PullTransport(enum.Enum):
    """How a run read pods (server/datacage/pull.py); its page and its result's provenance say."""

    TLS = "tls"
    PLAIN_HTTP = "plain-http"

    @property
    def wording(self) -> str:
        if self is PullTransport.TLS:
            return (
                "TLS, the datacage presenting its attested RA-TLS certificate, which a pod "
                "provider's attestation gateway checks before any data flows"
            )
        return (
            "plain http: a development setting of this datacage, with no TLS and no "
            "attestation check by the pods' providers"
        )


#: Why the output gate refused an output: one rule per refusal, the first the gate reports.
#: The ids are the gate's own (`GateRefusal.rule` in server/datacage/gate/checker/refusal.py on
#: the gate's branch); the words here are the run page's, short and fixed.
GATE_RULES: dict[str, str] = {
    "files/unreadable": "The output folder could not be opened.",
    "files/empty": "The algorithm wrote no output.",
    "files/too-large": "The output was larger than a result may be.",
    "files/not-plain": "The output held something other than plain Turtle files.",
    "files/hard-link": "The output held hard links.",
    "files/changed": "The output changed while it was being checked.",
    "turtle/not-utf8": "An output file is not UTF-8.",
    "turtle/syntax": "An output file is not valid Turtle.",
    "turtle/empty": "The output holds no statements.",
    "shape/sparql": "The approved output shape uses SPARQL, which the gate does not run.",
    "shape/pattern": "The approved output shape has a pattern the gate cannot run.",
    "shape/unreadable": "The output could not be checked against its approved shape.",
    "shape/violation": "Values do not fit the approved output shape.",
    "closed/outside": "Statements are about nodes no closed shape describes.",
    "closed/open-shape": "A shape of the result is not closed.",
    "closed/property": "Nodes use a property their shape does not declare.",
    "closed/type": "Nodes have a type the shape does not name.",
    "closed/datatype": "Values have a datatype the shape does not allow.",
    "closed/language": "Values carry a language tag the shape does not allow.",
    "closed/iri-value": "Values are IRIs the shape does not name.",
    "k/run-too-small": "The run read fewer people than the space's smallest group.",
    "k/missing": "Result nodes do not say how many individuals they cover.",
    "k/several": "Result nodes say more than once how many individuals they cover.",
    "k/not-integer": "Result nodes give their individuals as something other than an integer.",
    "k/too-small": "Result nodes cover fewer individuals than the space's smallest group.",
    "k/too-large": "Result nodes claim more individuals than the run read.",
    "identifier/verbatim": "The output holds an identifier read from a pod (in some form).",
    "gate/timeout": "The gate did not finish checking the output in time.",
    "gate/memory": "The gate ran out of memory checking the output.",
    "gate/crashed": "The gate's checking process ended without a verdict.",
    "gate/unavailable": "The gate's sandbox could not start.",
    "unspecified": "The output gate refused the output.",
}


@dataclass(frozen=True)
class Refusal:
    """The output gate's refusal: a rule from `GATE_RULES` and, where the rule is about one
    property, its `sh:path` IRI in the approved output shape (the control plane checks it is
    one of that shape's)."""

    rule: str
    shape_path: str | None = None

    @property
    def wording(self) -> str:
        words = GATE_RULES.get(self.rule, GATE_RULES["unspecified"])
        return f"{words} (at {self.shape_path})" if self.shape_path else words

    def as_json(self) -> dict[str, str | None]:
        return {"rule": self.rule, "shape_path": self.shape_path}


class Stage(enum.Enum):
    """How far a run got. The datacage may report only `WORKER_STAGES`, in their order."""

    WAITING = "waiting"
    CHECKING_CONSENTS = "checking-consents"
    PULLING = "pulling"
    FETCHING_DATASETS = "fetching-datasets"
    RUNNING = "running"
    GATING = "gating"
    DELIVERING = "delivering"
    FINISHED = "finished"
    STOPPED = "stopped"
    NOT_RUN = "not-run"

    @property
    def wording(self) -> str:
        return _STAGE_WORDING[self]


_STAGE_WORDING = {
    Stage.WAITING: "Waiting for the datacage to pick it up.",
    Stage.CHECKING_CONSENTS: "Checking consents.",
    Stage.PULLING: "Reading consented data from pods.",
    Stage.FETCHING_DATASETS: "Fetching organisations' datasets.",
    Stage.RUNNING: "Running the algorithm.",
    Stage.GATING: "Checking the output.",
    Stage.DELIVERING: "Handing the result over for delivery.",
    Stage.FINISHED: "Finished.",
    Stage.STOPPED: "Stopped.",
    Stage.NOT_RUN: "Not run.",
}
WORKER_STAGES = (
    Stage.PULLING,
    Stage.FETCHING_DATASETS,
    Stage.RUNNING,
    Stage.GATING,
    Stage.DELIVERING,
)
#: The algorithm's own progress is shown in this many steps (quarters), no finer.
RUNNING_STEPS = 4
#: ... and reported at most once per this many seconds, on the tick, never in between: the
#: algorithm chooses which step it is at when a tick comes, not when the report is made.
PROGRESS_TICK_S = 10.0
_START = {
    Stage.WAITING: 0.0,
    Stage.CHECKING_CONSENTS: 0.02,
    Stage.PULLING: 0.05,
    Stage.FETCHING_DATASETS: 0.2,
    Stage.RUNNING: 0.3,
    Stage.GATING: 0.92,
    Stage.DELIVERING: 0.96,
}


def running_step(fraction: float) -> int:
    """The algorithm's own progress (0..1, any float it likes) as one of 0..RUNNING_STEPS."""
    if not math.isfinite(fraction):
        return 0
    return max(0, min(RUNNING_STEPS, math.floor(fraction * RUNNING_STEPS)))


def overall_progress(stage: Stage, step: int = 0) -> float:
    """The fraction shown for a stage (and, while running, the algorithm's step)."""
    if stage is Stage.RUNNING:
        return round(_START[Stage.RUNNING] + 0.6 * step / RUNNING_STEPS, 4)
    return _START.get(stage, 1.0)


def stage_wording(code: str) -> str:
    """Wording for a stored stage code; records from before the codes show a fixed phrase."""
    try:
        return Stage(code).wording
    except ValueError:
        return "Recorded before stages were codes."
