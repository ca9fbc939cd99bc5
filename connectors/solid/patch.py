"""Request bodies for partial updates: N3 Patch (Solid Protocol 5.3.1) and SPARQL Update.

N3 Patch is what every Solid server must support: a `solid:InsertDeletePatch` with
`solid:inserts`, `solid:deletes` and an optional `solid:where`. Terms are written with rdflib's
own N3 serialisation of each term, so no value can break out of its quotes.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import BNode, Graph
from rdflib.term import Node

from vocab import SOLID

Triple = tuple[Node, Node, Node]


def n3_patch(
    inserts: Iterable[Triple] | Graph = (),
    deletes: Iterable[Triple] | Graph = (),
) -> str:
    """An N3 Patch that deletes then inserts ground triples.

    Deletes must be ground (no blank nodes): a server cannot know which blank node we mean, and
    N3 Patch would read it as "some node", deleting more than asked (Solid Protocol 5.3.1).
    """
    insert_list, delete_list = list(inserts), list(deletes)
    if any(isinstance(term, BNode) for triple in delete_list for term in triple):
        raise ValueError("Triples to delete cannot contain blank nodes.")
    if not insert_list and not delete_list:
        raise ValueError("An N3 Patch needs something to insert or delete.")
    lines = [
        f"@prefix solid: <{SOLID}>.",
        "_:patch a solid:InsertDeletePatch",
    ]
    if delete_list:
        lines.append(f";\n  solid:deletes {{ {_formula(delete_list)} }}")
    if insert_list:
        lines.append(f";\n  solid:inserts {{ {_formula(insert_list)} }}")
    return "\n".join(lines[:2]) + "".join(lines[2:]) + ".\n"


def _formula(triples: list[Triple]) -> str:
    return " ".join(f"{s.n3()} {p.n3()} {o.n3()}." for s, p, o in triples)
