"""What a dashboard view checks before using what it kept: one query of four indexed lookups.

The dashboard shows the space's record, its runs and deliveries, its pushed datasets and its
audit trail's head (and the consent counters, which the consent store checks itself, under the
tally's version). The stamp names the state of each:

- the space's graph, its datasets graph and its audit head graph: each one's revision *and*
  write token. Every registry write puts a fresh random token in the graph it writes
  (docs/registry.md), so a graph deleted and written again differs too; and a SPARQL write's
  claim, which empties the graph before filling it, leaves a token without a revision, which
  differs from the filled graph's;
- the runs and deliveries: the space's activity counter (`registry.activity`), moved in the
  same update as each of their writes.

Read *before* the things it stamps, it is never newer than them: a write in between makes what
was read newer than its key, and the next view reads again.
"""

from __future__ import annotations

from typing import NamedTuple

from ..audit.entry import head_iri
from ..push.records import datasets_graph_name
from ..registry import Registry
from ..registry.activity import FAMILY, ActivityCounter
from ..registry.base import check_name

_GRAPH = (
    "OPTIONAL {{ GRAPH <{name}> {{ <{name}> dcg:writeToken ?{v}_token "
    "OPTIONAL {{ <{name}> dcg:revision ?{v}_revision }} }} }}"
)


class Stamp(NamedTuple):
    space: tuple[str | None, str | None]
    datasets: tuple[str | None, str | None]
    audit: tuple[str | None, str | None]
    activity: str | None  # None: runs and deliveries were never counted

    @property
    def usable(self) -> bool:
        """Whether it can key a kept copy: the space exists, and its runs are counted."""
        return self.space[0] is not None and self.activity is not None


def plausible(space_id: str) -> bool:
    """An id `SpaceStore.load` would look up (others are refused there, as not found), so one
    whose stamp is worth reading."""
    return space_id.isalnum() and len(space_id) <= 64


def page_stamp(registry: Registry, space_iri: str) -> Stamp:
    """The stamp of the space's dashboard, in one query."""
    space = check_name(space_iri)
    counter = ActivityCounter(space, FAMILY)
    parts = [
        _GRAPH.format(name=space, v="space"),
        _GRAPH.format(name=datasets_graph_name(space), v="datasets"),
        _GRAPH.format(name=head_iri(space), v="audit"),
        f"OPTIONAL {{ GRAPH <{counter.graph}> {{ <{counter.node}> dcg:count ?activity }} }}",
    ]
    rows = registry.select_text("SELECT * WHERE {\n" + "\n".join(parts) + "\n}")
    # Each lookup matches at most once (one token, one revision, one count per record).
    row = rows[0] if len(rows) == 1 else {}

    def graph(v: str) -> tuple[str | None, str | None]:
        return row.get(f"{v}_token"), row.get(f"{v}_revision")

    return Stamp(graph("space"), graph("datasets"), graph("audit"), row.get("activity"))
