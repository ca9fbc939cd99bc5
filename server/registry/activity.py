"""A space's activity counter: moved by every write of its runs and of their deliveries.

Pages that show a space's runs and deliveries (the dashboard) keep what they read under this
counter's value and read again only when it moved: one indexed lookup instead of the joins
over every run and delivery, which cost tens of milliseconds on a busy store.

The counter is a `counters.Counter` added in the same update as the record (`write_counted`:
one transaction on the embedded store, guarded by the write's own token on a SPARQL store), so
it moves with every change of a run or delivery graph, and never before the change is there to
read. A copy read *after* the counter was read and kept under its value is never older than
that value names; a write in between makes the copy newer than its key, and the next view reads
again. It lives in a graph of its own (`<space>/activity`), outside the tally's, so a recount
of the consent counters (`counters.replace`) never resets it; nothing decreases it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from vocab import DCG

from .base import Registry, check_name
from .counters import Counter, value

FAMILY = "activity"


@dataclass(frozen=True)
class ActivityCounter(Counter):
    """The space's one activity counter (family `activity`, no day, no instant)."""

    @property
    def graph(self) -> str:
        return check_name(self.space_iri) + "/activity"

    @property
    def node(self) -> str:
        return self.graph + "#writes"

    def description(self) -> str:
        # No `dcg:Tally` type: a recount replaces the graphs of that type, and this must stay.
        return f"<{self.node}> <{DCG.counterOf}> {ox.Literal(self.family)} ."


def counted(space_iri: str) -> dict[Counter, int]:
    """The `deltas` of a write of one of the space's runs or deliveries."""
    return {ActivityCounter(space_iri, FAMILY): 1}


def activity(registry: Registry, space_iri: str) -> int | None:
    """How many run and delivery writes the space has seen since it was first counted; None
    if none was counted yet (records from before the counter, or no run yet)."""
    return value(registry, ActivityCounter(space_iri, FAMILY))
