"""The audit page, one page of a chain at a time: its cost is the page's, not the chain's.

Pages are cut by position (keyset pagination): "older" shows the entries before the lowest
position shown, "newer" those after the highest. Positions never move and new entries only
ever take the next one, so entries appended between two page loads can neither push an entry
off the next page nor show it twice, as counting rows from the newest would.

Each page checks what it shows, with the rules of `verify_space`: every entry is at its own
position, holds the hash of its content, and chains to the entry before it (for the oldest
shown, the entry just below the page is read for its hash); the newest page also checks the
head. Walking the whole chain costs a read per entry, so it runs when asked (`verify_space`,
the page's "check the whole chain", or `datacage audit verify`); a page that shows the whole
chain has checked all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Graph

from ..registry import Registry
from ..registry.base import BOOKKEEPING, check_name
from .entry import GENESIS, DamagedEntry, Entry, entry_from_graph, entry_iri
from .trail import AuditTrail
from .verify import ChainBroken, check_entry

#: Entries per page.
PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditPage:
    entries: list[Entry]  # newest first
    length: int  # entries in the chain now
    older: int | None  # the `before` cursor of the next older page, if any
    newer: int | None  # the `after` cursor of the next newer page, if any
    broken: ChainBroken | None = None  # the first wrong entry found on this page

    @property
    def whole(self) -> bool:
        """Whether this page shows (and so has checked) the whole chain."""
        return self.older is None and self.newer is None


def page_of(
    trail: AuditTrail,
    registry: Registry,
    space_iri: str,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> AuditPage:
    """The entries with positions below `before`, or above `after` (the oldest of them first
    filling the page), or else the newest; at most `size`, shown newest first."""
    length = chain_length(trail, registry, space_iri)
    if after is not None:
        low = max(0, after + 1)
        high = min(length - 1, low + size - 1)
    else:
        high = length - 1 if before is None else min(length - 1, before - 1)
        low = max(0, high - size + 1)
    if high < low:
        return AuditPage([], length, None, None)
    entries: list[Entry] = []
    broken = None
    # The page's entries and the one below it, in one query (one round trip to a remote store).
    stored = _graphs(registry, space_iri, max(0, low - 1), high)
    try:
        previous = _hash_before(stored, space_iri, low)
        for position in range(low, high + 1):
            entry = _checked(stored, space_iri, position, previous)
            entries.append(entry)
            previous = entry.hash
        if high == length - 1:
            _check_head(trail, space_iri, length, previous)
    except ChainBroken as exc:
        broken = exc
    return AuditPage(
        entries=list(reversed(entries)),
        length=length,
        older=low if low > 0 else None,
        newer=high if high < length - 1 else None,
        broken=broken,
    )


def chain_length(trail: AuditTrail, registry: Registry, space_iri: str) -> int:
    """How many entries the chain has: the head's count, and any entries stored past it (the
    head is only a hint: a crash can leave it behind)."""
    head = trail.head(space_iri)
    length = head[0] + 1 if head else 0
    while registry.revision(entry_iri(space_iri, length)):
        length += 1
    return length


def _graphs(registry: Registry, space_iri: str, low: int, high: int) -> dict[str, Graph]:
    """The stored graphs of entries `low`..`high` by name, bookkeeping left out (as `read`
    leaves it out); entries hold no blank nodes, so their terms come back as stored."""
    names = " ".join(f"<{check_name(entry_iri(space_iri, n))}>" for n in range(low, high + 1))
    rows = registry.select(
        f"SELECT ?g ?s ?p ?o WHERE {{ VALUES ?g {{ {names} }} GRAPH ?g {{ ?s ?p ?o }} }}"
    )
    graphs: dict[str, Graph] = {}
    for row in rows:
        name, subject, predicate = str(row["g"]), row["s"], row["p"]
        if str(subject) == name and predicate in BOOKKEEPING:
            continue
        graph = graphs.get(name)
        if graph is None:  # not setdefault: that would build a Graph for every row
            graph = graphs[name] = Graph()
        graph.add((subject, predicate, row["o"]))
    return graphs


def _hash_before(stored: dict[str, Graph], space_iri: str, position: int) -> str:
    if position == 0:
        return GENESIS
    name = entry_iri(space_iri, position - 1)
    if name not in stored:
        raise ChainBroken(name, "this entry is missing (deleted or never stored).")
    try:
        return entry_from_graph(name, stored[name]).hash
    except DamagedEntry as exc:
        raise ChainBroken(name, f"this entry is damaged: {exc}") from None


def _checked(stored: dict[str, Graph], space_iri: str, position: int, previous: str) -> Entry:
    """The entry at `position`, checked as `verify_space` checks it."""
    name = entry_iri(space_iri, position)
    if name not in stored:
        raise ChainBroken(name, "this entry is missing (deleted or never stored).")
    return check_entry(name, stored[name], space_iri, position, previous)


def _check_head(trail: AuditTrail, space_iri: str, length: int, last_hash: str) -> None:
    head = trail.head(space_iri)
    if head is None:
        if length:
            raise ChainBroken(space_iri + "/audit", "the chain's head is missing.")
        return
    last, recorded = head
    if last == length - 1 and recorded != last_hash:
        raise ChainBroken(
            entry_iri(space_iri, last), "the chain's head records another hash for this entry."
        )
