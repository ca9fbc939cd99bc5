"""The gate's rules, as the server side uses them; the checks themselves are in ``.checker``.

SHACL (W3C Recommendation, 2017) decides the form, the closed world decides what may be said
at all, and every node declares its coverage (k): all three run in the gate's sandbox
(``.isolation``), on a shape first checked for SPARQL and for regular expressions RE2 cannot
run. What stays here is shared with the identifier check (``.leaks``): the focus nodes of a
node shape and the capping of a list of messages.
"""

from __future__ import annotations

from .checker.check import shape_safety
from .checker.refusal import MAX_REPORTED
from .checker.shapes import focus_nodes

__all__ = ["MAX_REPORTED", "capped", "focus_nodes", "shape_safety"]


def capped(problems: list[str], what: str) -> list[str]:
    if len(problems) <= MAX_REPORTED:
        return problems
    return [*problems[:MAX_REPORTED], f"... and {len(problems) - MAX_REPORTED} more {what}."]
