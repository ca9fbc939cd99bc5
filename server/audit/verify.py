"""Walking a space's audit chain: any edit, deletion or reordering of an entry is found and the
entry named.

Checks, entry by entry in order of position:
1. the entry at position *n* says it is entry *n* (a moved entry does not);
2. there is no gap before it (a deleted entry leaves one);
3. its stored hash is the hash of its content (an edited entry's is not);
4. it chains to the entry before it (an entry put back after editing, with its hash recomputed,
   breaks the link of the next one).
Then the head must name the last entry and its hash, so a removed tail shows as missing entries.
An attacker who can rewrite the whole store can rewrite the head too; keeping the head's hash
somewhere else (`datacage audit verify` prints it) is what catches that (docs/audit.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Graph

from ..registry import Registry
from .entry import GENESIS, DamagedEntry, Entry, content_hash, entry_from_graph, entry_iri
from .trail import AuditTrail


class ChainBroken(Exception):
    """The chain was altered; `entry` names the first entry found wrong."""

    def __init__(self, entry: str, reason: str):
        super().__init__(f"{entry}: {reason}")
        self.entry = entry
        self.reason = reason


@dataclass(frozen=True)
class Intact:
    space_iri: str
    entries: int
    head_hash: str  # the last entry's hash (GENESIS for an empty chain)
    hashes: tuple[str, ...] = ()  # every entry's hash, in order

    def require_contains(self, noted: str) -> int:
        """Raise `ChainBroken` unless a hash noted earlier (e.g. a head shown on the audit page)
        is still one of the chain's: a chain rewritten before that point would lose it.
        Return the position of the entry it names."""
        if noted not in self.hashes:
            raise ChainBroken(
                self.space_iri + "/audit",
                f"no entry has the hash {noted}: the chain was rewritten since it was noted.",
            )
        return self.hashes.index(noted)


def verify_space(trail: AuditTrail, registry: Registry, space_iri: str) -> Intact:
    """Raise `ChainBroken` at the first wrong entry; return the chain's length and head hash."""
    previous, expected = GENESIS, 0
    hashes: list[str] = []
    names = trail.entry_names(space_iri)
    for name in names:
        if name != entry_iri(space_iri, expected):
            missing = entry_iri(space_iri, expected)
            raise ChainBroken(missing, "this entry is missing (deleted or never stored).")
        stored = registry.read(name)
        if stored is None:
            raise ChainBroken(name, "this entry disappeared while it was being checked.")
        entry = check_entry(name, stored.graph, space_iri, expected, previous)
        previous, expected = entry.hash, expected + 1
        hashes.append(entry.hash)
    head = trail.head(space_iri)
    if head is not None:
        last, last_hash = head
        if last >= expected:
            raise ChainBroken(
                entry_iri(space_iri, expected),
                f"the chain's head records {last + 1} entries but only {expected} are stored: "
                "entries from here on were deleted.",
            )
        if last == expected - 1 and last_hash != previous:
            raise ChainBroken(
                entry_iri(space_iri, last), "the chain's head records another hash for this entry."
            )
    elif names:
        raise ChainBroken(space_iri + "/audit", "the chain's head is missing.")
    return Intact(space_iri, expected, previous, tuple(hashes))


def check_entry(name: str, graph: Graph, space_iri: str, position: int, previous: str) -> Entry:
    """The entry stored as `name`, checked to be the chain's entry at `position` after `previous`.

    One rule for the whole-chain walk above and for the audit pages, which check what they show.
    """
    try:
        entry = entry_from_graph(name, graph)
        actual = content_hash(graph)
    except DamagedEntry as exc:
        raise ChainBroken(name, f"this entry is damaged: {exc}") from None
    if entry.sequence != position or entry.space_iri != space_iri:
        raise ChainBroken(
            name,
            f"this position holds entry {entry.sequence} of {entry.space_iri}: "
            "entries were reordered or moved.",
        )
    if actual != entry.hash:
        raise ChainBroken(name, "this entry's content was changed after it was written.")
    if entry.previous_hash != previous:
        raise ChainBroken(
            name,
            "this entry does not chain to the entry before it: that one was changed, "
            "or entries were reordered.",
        )
    return entry
