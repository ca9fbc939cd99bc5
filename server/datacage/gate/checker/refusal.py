"""Why the gate held a result back, as a fixed rule, never in the algorithm's own words.

A refusal is shown to the code provider, who wrote the algorithm: anything in it that the
algorithm chose (a file name, a literal, an IRI, a line number) would be a way out for the data
it read. So a refusal is a rule id from :data:`RULES`, a place in the *approved shape* (which
participants read before approving, and which cannot change with the data), a count, and at
most one detail from a fixed set. The words are made from those alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Counts are shown up to this; above it they say "more than", so a count carries few bits.
MAX_COUNT = 100
MAX_REPORTED = 10

RULES: dict[str, str] = {
    "files/unreadable": "The output folder cannot be opened: there is no result to check.",
    "files/empty": "The algorithm wrote no output: an empty result is refused.",
    "files/too-large": "The output is larger than a result may be ({limit} bytes); it was not "
    "read.",
    "files/not-plain": "{count} entries of the output are not plain *.ttl files (links, folders, "
    "devices or other names); the output may hold only plain Turtle files.",
    "files/hard-link": "{count} output files are hard links; write files of their own.",
    "files/changed": "The output changed while it was being checked.",
    "turtle/not-utf8": "{count} output files are not UTF-8, which Turtle requires.",
    "turtle/syntax": "{count} output files are not valid Turtle.",
    "turtle/empty": "The output holds no statements: an empty result is refused.",
    "shape/sparql": "The approved output shape uses SPARQL ({detail}), which the gate does not "
    "run; no result of this bundle can be released.",
    "shape/pattern": "The approved output shape has a regular expression the gate's linear-time "
    "engine cannot run (back-references and look-around are not allowed).",
    "shape/unreadable": "The output could not be checked against its approved shape.",
    "shape/violation": "{count} values do not fit the output shape at {where} ({detail}).",
    "closed/outside": "{count} statements are about nodes that no closed shape describes.",
    "closed/open-shape": "The shape {where} is not closed (sh:closed true): the nodes it "
    "describes cannot be released ({count} statements).",
    "closed/property": "{count} statements on nodes of {where} use a property it does not declare.",
    "closed/type": "{count} nodes have an rdf:type the shape does not name.",
    "closed/datatype": "{count} values have a datatype that is neither XSD nor named in the shape.",
    "closed/language": "{count} values at {where} carry a language tag the shape does not allow "
    "(sh:languageIn).",
    "closed/iri-value": "{count} values at {where} are IRIs that the shape does not name and the "
    "result does not describe.",
    "k/run-too-small": "This run read the data of fewer people than this space's smallest group "
    "({limit}), so no result can be released.",
    "k/missing": "{count} nodes of the result do not say how many individuals they cover "
    "(exactly one dcg:individuals).",
    "k/several": "{count} nodes of the result have more than one dcg:individuals.",
    "k/not-integer": "{count} nodes of the result have a dcg:individuals that is not an "
    "xsd:integer.",
    "k/too-small": "{count} nodes of the result cover fewer individuals than this space's "
    "smallest group ({limit}).",
    "k/too-large": "{count} nodes of the result claim to cover more individuals than this run "
    "read the data of.",
    "identifier/verbatim": "The result contains {detail} ({count} places).",
    "gate/timeout": "The gate did not finish checking the output within {limit} s; nothing was "
    "released.",
    "gate/memory": "The gate ran out of memory checking the output; nothing was released.",
    "gate/crashed": "The gate's checking process ended without a verdict; nothing was released.",
    "gate/unavailable": "The gate's sandbox could not start, so the output was not checked and "
    "nothing was released.",
}

# Details come from fixed sets: names of SHACL constraint components and SHACL-SPARQL terms,
# and the kinds of identifier (server.datacage.gate.identifiers).
_DETAIL = re.compile(r"(sh:[A-Za-z]{1,60})|([A-Za-z][A-Za-z -]{0,80}(read from a pod|was read))")


@dataclass(frozen=True)
class GateRefusal:
    """One reason a result was held back: a rule, where in the approved shape, how often."""

    rule: str
    shape_path: str | None = None  # e.g. "shapes:MatchReport / df:parties", from the shape
    count: int = 1
    detail: str | None = None  # a constraint component, a SPARQL term, a kind of identifier
    limit: int | None = None  # the space's k, the size limit, the time limit: ours, not theirs

    @property
    def message(self) -> str:
        count = self.count if self.count <= MAX_COUNT else f"more than {MAX_COUNT}"
        return RULES[self.rule].format(
            count=count,
            where=self.shape_path or "an unnamed shape",
            detail=self.detail or "a SHACL constraint",
            limit=self.limit,
        )

    def to_json(self) -> dict[str, object]:
        return {"rule": self.rule, "shape_path": self.shape_path, "count": self.count,
                "detail": self.detail, "limit": self.limit}  # fmt: skip

    @classmethod
    def from_json(cls, value: object, shape_paths: frozenset[str]) -> GateRefusal:
        """A refusal as the sandbox sent it, kept to the fixed forms: the sandbox parsed
        hostile input, so what it says is checked like any other input."""
        if not isinstance(value, dict) or value.get("rule") not in RULES:
            return cls("gate/crashed")
        path, count = value.get("shape_path"), value.get("count")
        detail, limit = value.get("detail"), value.get("limit")
        return cls(
            str(value["rule"]),
            path if path in shape_paths else None,
            max(1, count) if isinstance(count, int) and not isinstance(count, bool) else 1,
            detail if isinstance(detail, str) and _DETAIL.fullmatch(detail) else None,
            limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
        )


def merged(refusals: list[GateRefusal]) -> list[GateRefusal]:
    """One refusal per (rule, place, detail), counts added, in a stable order."""
    totals: dict[tuple[str, str | None, str | None, int | None], int] = {}
    for refusal in refusals:
        key = (refusal.rule, refusal.shape_path, refusal.detail, refusal.limit)
        totals[key] = totals.get(key, 0) + refusal.count
    return [
        GateRefusal(rule, path, count, detail, limit)
        for (rule, path, detail, limit), count in sorted(
            totals.items(), key=lambda item: (item[0][0], item[0][1] or "", item[0][2] or "")
        )
    ]


def messages(refusals: list[GateRefusal]) -> list[str]:
    """The words for a verdict: at most :data:`MAX_REPORTED`, then how many more."""
    shown = [refusal.message for refusal in refusals[:MAX_REPORTED]]
    if len(refusals) > MAX_REPORTED:
        shown.append(f"... and {len(refusals) - MAX_REPORTED} more reasons.")
    return shown
