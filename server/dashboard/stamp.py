"""A stamp of a space's runs and deliveries: one small query that says whether they changed.

Every registry write puts a fresh random write token in the graph it writes (`dcg:writeToken`,
docs/registry.md), whatever the back end, and runs and deliveries are never written any other
way. So the set of tokens of a space's run graphs and of their delivery graphs changes with every
write to any of them, a new run or delivery included, and only then: figures read *after* the
stamp was read and kept under it are never older than what the stamp names (a write landing in
between makes them newer than their key, and the next view reads them again).

Tokens come back in no particular order; they are sorted before hashing, so that the same state
always gives the same stamp.
"""

from __future__ import annotations

import hashlib

from rdflib import URIRef

from ..registry import Registry

# Deliveries are joined on their run with a UNION of the two predicates rather than a property
# path: records written before a delivery was an activity of its own say `dcg:result`, and the
# path alternative makes the store scan every statement of either predicate.
_TOKENS = """
SELECT (GROUP_CONCAT(?t) AS ?tokens) (COUNT(?t) AS ?n) WHERE {
  {
    GRAPH ?g { ?g a dcg:Run ; dcg:space ?space ; dcg:writeToken ?t }
  } UNION {
    GRAPH ?run { ?run a dcg:Run ; dcg:space ?space }
    { GRAPH ?g { ?g dcg:deliveryOf ?run } } UNION { GRAPH ?g { ?g dcg:result ?run } }
    GRAPH ?g { ?g a dcg:Delivery ; dcg:writeToken ?t }
  }
}
"""


def activity_stamp(registry: Registry, space_iri: str) -> str:
    """A digest of the write tokens of the space's runs and of their deliveries."""
    rows = registry.select_text(_TOKENS, {"space": URIRef(space_iri)})
    tokens = sorted(rows[0].get("tokens", "").split()) if rows else []
    count = rows[0].get("n", "0") if rows else "0"
    digest = hashlib.sha256(" ".join(tokens).encode()).hexdigest()
    return f"{count}:{digest}"
