"""The query text the Virtuoso registry sends for `select` and `ask`.

Virtuoso runs an update sent as a query, and fails a trailing VALUES clause whose variables
are not projected ("SQ200: No column"): so the query form is decided by parsing, and bindings
go into a VALUES block opening the query's WHERE group.
"""

from __future__ import annotations

import functools
import re

from rdflib.plugins.sparql.parser import parseQuery

from server.registry import terms
from server.registry.base import Bindings, RegistryError


@functools.lru_cache(maxsize=512)
def query_kind(query: str) -> str:
    """The parsed query form ("SelectQuery", "AskQuery", ...), with our prefixes declared.

    Virtuoso runs an update sent as `query=`, so the form is checked by parsing, not guessed
    from keywords. Bindings are appended after this check; they are safe by construction.
    """
    try:
        return str(parseQuery(terms.prepared_query(query, None))[1].name)
    except Exception:  # pyparsing raises several kinds; all mean "not a query we run"
        raise RegistryError("The query is not valid SPARQL 1.1.") from None


def with_bindings(query: str, bindings: Bindings | None) -> str:
    """`query` with our prefixes and `bindings` as a VALUES block opening its WHERE group.

    Virtuoso 7.2 fails a trailing VALUES clause whose variables are not projected ("SQ200: No
    column"), so the block goes first inside the outermost group instead, where it binds the
    same variables. The block itself is built (checked and escaped) by `terms`.
    """
    if not bindings:
        return terms.prepared_query(query, None)
    block = terms.prepared_query("", bindings)[len(terms.prepared_query("", None)) :]
    opening = where_group(query)
    return terms.prepared_query(query[: opening + 1] + block + "\n" + query[opening + 1 :], None)


# What the scan for the WHERE group skips: IRIs, strings (long ones first) and comments.
_SKIPPED = re.compile(
    r"<[^<>\"{}|^`\\\x00-\x20]*>|'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'"
    r'|"(?:[^"\\\n]|\\.)*"|#[^\n]*',
    re.DOTALL,
)


def where_group(query: str) -> int:
    """The index of the `{` opening the query's WHERE group: the first outside parentheses
    (a projection like `(EXISTS { ... } AS ?x)` has braces inside parentheses)."""
    depth = 0
    index = 0
    while index < len(query):
        skipped = _SKIPPED.match(query, index)
        if skipped:
            index = skipped.end()
            continue
        char = query[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "{" and depth == 0:
            return index
        index += 1
    raise RegistryError("The query has no WHERE group to bind variables in.")
