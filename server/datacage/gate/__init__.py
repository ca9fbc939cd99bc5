"""The output gate: nothing a run produced leaves the datacage unless this says so.

One function decides (`check_output`), in the spirit of pySHACL's single ``validate``: it reads
the output folder the algorithm wrote (hostile: see `files`), checks the result against the
approved SHACL shape, the space's smallest group (k, `rules`) and the identifiers read from pods
(`leaks`), and answers with a verdict giving every reason at once, in plain words. A refused
output is deleted before the verdict is returned, so a caller that ignores the verdict still
has nothing to send. `scrub` cleans the algorithm's logs before the code provider sees them.

The rules for code providers are in ``docs/output-gate.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph

from .files import delete_output, parse_output, read_output
from .identifiers import InputIdentifiers, PersonInputs, scrub
from .leaks import identifier_problems
from .rules import coverage_problems, shape_problems

__all__ = [
    "GatePolicy",
    "GateVerdict",
    "InputIdentifiers",
    "PersonInputs",
    "check_output",
    "scrub",
]


@dataclass(frozen=True)
class GatePolicy:
    shape: Graph  # the approved SHACL shapes graph (the bundle's output shape)
    min_individuals: int  # the space's k: the smallest group a result may describe
    max_bytes: int = 4 << 20  # the whole output, checked before anything is parsed


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    reasons: list[str]  # plain words, one per problem, every problem at once
    graph: Graph | None  # the checked result, only when it passed
    size: int  # bytes of output found


def check_output(
    output_dir: Path,
    policy: GatePolicy,
    identifiers: InputIdentifiers,
    *,
    individuals_in_run: int,
) -> GateVerdict:
    """Whether the output in ``output_dir`` may leave; if not, it is deleted and the verdict
    says why. Reasons never quote an input identifier (they are scrubbed)."""
    found = read_output(Path(output_dir), policy.max_bytes)
    reasons = list(found.problems)
    graph = None
    if not reasons:
        graph = parse_output(found.contents, reasons)
        if not reasons and len(graph) == 0:
            reasons.append("The output holds no statements: an empty result is refused.")
    if not reasons and graph is not None:
        reasons += shape_problems(graph, policy.shape)
        reasons += coverage_problems(
            graph, policy.shape, policy.min_individuals, individuals_in_run
        )
        reasons += identifier_problems(graph, policy.shape, found.contents, identifiers)
    if reasons:
        delete_output(Path(output_dir))
        # Messages may quote nodes and values of the result: never an identifier in them.
        shown = (
            [scrub(reason, identifiers) for reason in reasons] if identifiers.values else reasons
        )
        return GateVerdict(False, shown, None, found.size)
    return GateVerdict(True, [], graph, found.size)
