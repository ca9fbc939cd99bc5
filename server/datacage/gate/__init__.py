"""The output gate: nothing a run produced leaves the datacage unless this says so.

One function decides (`check_output`), in the spirit of pySHACL's single ``validate``: it reads
the output folder the algorithm wrote (hostile: see `files`), and has it checked in a sandbox of
its own (`isolation`: no network, limits, a wall clock) against the approved SHACL shape, the
closed world that shape declares and the space's smallest group (k) on every node (`checker`);
the identifiers read from pods are looked for here (`leaks`), on the same bytes, parsed only
after the sandbox parsed them. The verdict gives every reason at once, as fixed refusals
(`GateRefusal`: a rule, a place in the shape, a count), never in the algorithm's own words. A
refused output is deleted before the verdict is returned, so a caller that ignores the verdict
still has nothing to send. `scrub` cleans the algorithm's logs before the code provider sees
them.

The rules for code providers are in ``docs/output-gate.md``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph

from server.algorithms.shape import SHAPE_BASE

from . import identifiers as _identifiers
from .checker.refusal import GateRefusal, merged, messages
from .checker.shapes import Names
from .files import decode_output, delete_output, parse_output, read_output
from .identifiers import InputIdentifiers, PersonInputs, scrub
from .isolation import CheckerProcess, GateLimits
from .leaks import identifier_problems, in_files
from .rules import shape_safety

__all__ = [
    "GateLimits",
    "GatePolicy",
    "GateRefusal",
    "GateVerdict",
    "InputIdentifiers",
    "PersonInputs",
    "check_output",
    "prepare",
    "scrub",
]

log = logging.getLogger(__name__)

# The kinds of identifier `leaks` names, longest first (one may end another's words).
_KINDS = sorted(
    (
        _identifiers.EMAIL, _identifiers.NAME, _identifiers.PHONE, _identifiers.OTHER,
        _identifiers.WEBID, _identifiers.ADDRESS,
    ),
    key=len,
    reverse=True,
)  # fmt: skip


@dataclass(frozen=True)
class GatePolicy:
    shape: Graph  # the approved SHACL shapes graph (the bundle's output shape)
    min_individuals: int  # the space's k: the smallest group a result may describe
    max_bytes: int = 4 << 20  # the whole output, checked before anything is parsed
    limits: GateLimits = field(default_factory=GateLimits)  # of the gate's own sandbox


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    reasons: list[str]  # fixed words, one per refusal (capped), every problem at once
    graph: Graph | None  # the checked result, only when it passed
    size: int  # bytes of output found
    refusals: tuple[GateRefusal, ...] = ()  # the same, structured: for outcome codes


def prepare(limits: GateLimits | None = None) -> CheckerProcess:
    """The gate's sandbox for one later check, started now: the worker starts it while the
    algorithm runs, so its start and its imports (about a second) are not spent after. It holds
    nothing until :func:`check_output` sends it that run's output, and takes no other; a run
    that ends without output must `stop` it."""
    return CheckerProcess(None, limits or GateLimits())


def check_output(
    output_dir: Path,
    policy: GatePolicy,
    identifiers: InputIdentifiers,
    *,
    individuals_in_run: int,
    checker: CheckerProcess | None = None,
) -> GateVerdict:
    """Whether the output in ``output_dir`` may leave; if not, it is deleted and the verdict
    says why, in fixed words (no file name, value or IRI the algorithm chose). ``checker``:
    the sandbox :func:`prepare` started for this check (with its own limits), else one is
    started here with ``policy.limits``."""
    if checker is not None and checker.sent:
        raise ValueError("This gate sandbox has checked an output already: prepare another.")
    try:
        return _verdict(Path(output_dir), policy, identifiers, individuals_in_run, checker)
    finally:
        if checker is not None:
            checker.stop()  # a no-op once it answered; killed if the output never reached it


def _verdict(
    output_dir: Path,
    policy: GatePolicy,
    identifiers: InputIdentifiers,
    individuals_in_run: int,
    checker: CheckerProcess | None,
) -> GateVerdict:
    found = read_output(Path(output_dir), policy.max_bytes)
    refusals = list(found.refusals)
    texts = decode_output(found.contents, refusals) if not refusals else []
    if not refusals:
        # Defence in depth: a bundle registered before SPARQL was refused may still carry it.
        refusals += shape_safety(policy.shape)
    graph = None
    if not refusals:
        graph = _checked(
            found.contents, texts, policy, identifiers, individuals_in_run, refusals, checker
        )
    if refusals:
        delete_output(Path(output_dir))
        shown = merged(refusals)
        reasons = messages(shown)
        if identifiers.values:  # the words are fixed; this only guards the shape's own names
            reasons = [scrub(reason, identifiers) for reason in reasons]
        return GateVerdict(False, reasons, None, found.size, tuple(shown))
    return GateVerdict(True, [], graph, found.size)


def _checked(
    contents: dict[str, bytes],
    texts: list[list[str]],
    policy: GatePolicy,
    identifiers: InputIdentifiers,
    individuals_in_run: int,
    refusals: list[GateRefusal],
    checker: CheckerProcess | None,
) -> Graph | None:
    """Runs the sandboxed checks; meanwhile parses the output here and looks for identifiers."""
    names = Names(policy.shape)
    request = json.dumps(
        {
            "shape": policy.shape.serialize(format="nt"),
            "namespaces": names.namespaces(),
            "base": SHAPE_BASE,
            "files": texts,
            "min_individuals": policy.min_individuals,
            "individuals_in_run": individuals_in_run,
        }
    ).encode()
    if checker is None:
        checker = CheckerProcess(None, policy.limits)
    checker.send(request)
    graph = None
    try:
        raw = in_files(contents, identifiers)  # no parse needed: while the sandbox parses
        if checker.parsed():  # the sandbox parsed these bytes within its limits: so can we
            graph = parse_output(texts, refusals)
            if not refusals and len(graph) and identifiers.values:
                leaks = identifier_problems(graph, policy.shape, contents, identifiers, raw)
                refusals += _leak_refusals(leaks)
    except BaseException:
        checker.stop()  # never leave it running behind an error of ours
        raise
    end = checker.end(names.all())
    if end.failure is not None:
        log.warning("The output gate's sandbox gave no verdict: %s", end.failure.rule)
        log.debug("Its log: %s", scrub(checker.log(), identifiers))
        refusals.append(end.failure)
    else:
        refusals += end.refusals or []
    return graph


def _leak_refusals(problems: list[str]) -> list[GateRefusal]:
    """`leaks` words its findings with the property and the file they are in; only the kind
    of identifier, from a fixed set, goes into a refusal."""
    found = []
    for problem in problems:
        kind = next((k for k in _KINDS if k in problem), None)
        if kind is not None:
            found.append(GateRefusal("identifier/verbatim", None, 1, kind))
    if problems and not found:
        found.append(GateRefusal("identifier/verbatim", None, len(problems), _identifiers.OTHER))
    return found
