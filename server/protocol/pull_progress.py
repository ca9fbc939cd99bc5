"""A pull's progress on the wire: one row per pod server of the job's plan, counts only.

The control plane plans the pull (`server.runs.pull_progress`: which pod servers are named, and
how many people each is to read) and sends the job the plan's servers, in order. The datacage
reports, for each row *by its position*, how many people it has read and how many failed; the
control plane accepts exactly that (`check_report`: a count per row, never a name, an IRI or a
word, never more than the row's people) and only a report that is ahead of what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PodServerProgress:
    server: str  # the origin, as the control plane knows it from the consents; "" for the rest
    to_read: int
    read: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.read + self.failed


def index_of(plan_servers: list[str]) -> dict[str, int]:
    """origin -> row of the plan, for the datacage; origins not named go to the "" row."""
    return {server: row for row, server in enumerate(plan_servers)}


def check_report(
    planned: list[PodServerProgress], counts: list[tuple[int, int]]
) -> list[PodServerProgress]:
    """The plan with the datacage's `(read, failed)` per server; ValueError, in words for the
    datacage's operator, when the report does not fit the plan."""
    if len(counts) != len(planned):
        raise ValueError(f"Expected counts for {len(planned)} pod servers, got {len(counts)}.")
    updated = []
    for server, (read, failed) in zip(planned, counts, strict=True):
        if read < 0 or failed < 0 or read + failed > server.to_read:
            raise ValueError(f"At most {server.to_read} people are to be read at one server.")
        updated.append(PodServerProgress(server.server, server.to_read, read, failed))
    return updated


def ahead(shown: list[PodServerProgress], reported: list[PodServerProgress]) -> bool:
    """Whether a report tells more than what is shown (counts only ever grow)."""
    if len(shown) != len(reported):
        return True
    pairs = list(zip(shown, reported, strict=True))
    never_back = all(r.read >= s.read and r.failed >= s.failed for s, r in pairs)
    return never_back and any(r.done > s.done for s, r in pairs)
