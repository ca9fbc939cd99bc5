"""The audit trail: every event of a space in one hash chain of PROV-O entries, in the registry.

`AuditTrail.record` appends (called by the service layer right after a change is saved),
`verify_space` walks a chain and names the first entry edited, deleted or moved, `query` runs a
participant's read-only SPARQL over their space's trail alone. See docs/audit.md.
"""

from __future__ import annotations

from .entry import GENESIS, DamagedEntry, Entry, Event
from .trail import AuditTrail, NoAudit
from .verify import ChainBroken, Intact, verify_space

__all__ = [
    "GENESIS",
    "AuditTrail",
    "ChainBroken",
    "DamagedEntry",
    "Entry",
    "Event",
    "Intact",
    "NoAudit",
    "verify_space",
]
