"""Counters changed in the same write as the records they count: figures that cost the same to
read with 100,000 records as with 100.

A *tally* is a set of registry graphs per space: its main graph (`<space>/tally`) holds one
counter per kind and day (or per kind, for totals), and one graph per day
(`<space>/tally/<day>`) holds the counters of single instants in that day, such as the
moments consents end. A page reads the main graph and today's graph only: how many consents
have ended *by now* needs instants only for today, since every earlier day has ended and
every later one has not.

A counter is never written whole: a write adds a difference to it (`?old + d`), in the same
SPARQL update as the record (see `Registry.write_counted`), so two writers changing the same
counter at once cannot lose each other's change, and a crash leaves both or neither.

Tally graphs carry no `dcg:revision`: they are not records, `names()` does not list them and
`read()` does not return them. `replace` rebuilds a whole tally from a recount, only if no
counted write happened since the recount began (the `writes` counter tells).

A tally can also hold *indexes*: graphs of lines (`Entry`) that are either there or not, such
as the consents in force a run's claim reads (docs/registry.md, "Job assembly"). They change in
the same update as the record, and a recount rebuilds them with the counters.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple

import pyoxigraph as ox

from vocab import DCG, RDF, XSD

from .base import Registry, RegistryError, check_name

_FAMILY = re.compile(r"[a-z][a-z0-9-]{0,40}")
_INTEGER = ox.NamedNode(str(XSD.integer))
_DATE_TIME = ox.NamedNode(str(XSD.dateTime))
#: The counter of counted writes to a tally; a recount is kept only if it did not move.
WRITES = "writes"
#: A number drawn afresh by each recount, which changes counters without counting a write:
#: with `writes`, the tally's version (`version`).
RECOUNTED = "recounted"


def tally_iri(space_iri: str) -> str:
    """The main graph of a space's tally."""
    return check_name(space_iri) + "/tally"


def day_graph(space_iri: str, day: date) -> str:
    """The graph of a space's instant counters on `day` (UTC)."""
    return f"{tally_iri(space_iri)}/{day.isoformat()}"


@dataclass(frozen=True)
class Counter:
    """One counter of a space's tally: a kind (`family`), maybe a UTC day, maybe an instant.

    With `at`, the counter lives in that day's graph; otherwise in the main graph.
    """

    space_iri: str
    family: str
    day: date | None = None
    at: datetime | None = None

    def __post_init__(self) -> None:
        if not _FAMILY.fullmatch(self.family):
            raise RegistryError(f"{self.family!r} cannot name a counter.")
        if self.at is not None:
            if self.at.tzinfo is None:
                raise RegistryError("A counter's instant must carry its time zone.")
            object.__setattr__(self, "at", self.at.astimezone(UTC))
            object.__setattr__(self, "day", self.at.date())

    @property
    def graph(self) -> str:
        if self.at is not None:
            assert self.day is not None
            return day_graph(self.space_iri, self.day)
        return tally_iri(self.space_iri)

    @property
    def node(self) -> str:
        key = self.family
        if self.at is not None:
            key += "/" + re.sub(r"[^0-9A-Za-z]", "", self.at.isoformat())
        elif self.day is not None:
            key += "/" + self.day.isoformat()
        return f"{self.graph}#{key}"

    def description(self) -> str:
        """The triples naming what the counter counts (inserted again with every change: the
        same triple twice is one triple)."""
        node = ox.NamedNode(self.node)
        lines = [f"{node} <{DCG.counterOf}> {ox.Literal(self.family)} ."]
        if self.day is not None:
            lines.append(f"{node} <{DCG.onDay}> {ox.Literal(self.day.isoformat())} .")
        if self.at is not None:
            instant = ox.Literal(self.at.isoformat(), datatype=_DATE_TIME)
            lines.append(f"{node} <{DCG.atTime}> {instant} .")
        graph = ox.NamedNode(self.graph)
        lines.append(f"{graph} <{RDF.type}> <{DCG.Tally}> .")
        lines.append(f"{graph} <{DCG.space}> {ox.NamedNode(self.space_iri)} .")
        return "\n".join(lines)


_INDEX = re.compile(r"[a-z][a-z0-9-]{0,40}(/[0-9a-f]{1,64})?")


@dataclass(frozen=True)
class Entry:
    """One line of a space's index graph (`<space>/tally/<index>`): a fact about one record
    that is either there or not, never counted. In `increments`, +1 inserts it and -1
    deletes it, in the same update as the record; two writers of one entry are writers of one
    record, so the record's compare-and-swap already orders them.

    `node` is the IRI the line is about (a consent), `text` the line (no newline in it)."""

    space_iri: str
    index: str
    node: str
    text: str

    def __post_init__(self) -> None:
        if not _INDEX.fullmatch(self.index) or "\n" in self.text:
            raise RegistryError(f"{self.index!r} cannot name an index.")
        check_name(self.node)

    @property
    def graph(self) -> str:
        return index_graph(self.space_iri, self.index)

    def triple(self) -> str:
        return f"<{self.node}> <{DCG.inForceEntry}> {ox.Literal(self.text)} ."

    def description(self) -> str:
        """The entry and the triples saying whose tally its graph is (so a recount's
        `replace` removes and rebuilds it with the counters)."""
        graph = ox.NamedNode(self.graph)
        return (
            f"{self.triple()}\n{graph} <{RDF.type}> <{DCG.Tally}> .\n"
            f"{graph} <{DCG.space}> {ox.NamedNode(self.space_iri)} ."
        )


def index_graph(space_iri: str, index: str) -> str:
    """The graph of one of a space's indexes (inside its tally, so a recount rebuilds it)."""
    return f"{tally_iri(space_iri)}/{index}"


def insert_entries(entries: Iterable[Entry]) -> str:
    """One update adding `entries` alone (set semantics: an entry already there stays one)."""
    by_graph: dict[str, list[str]] = {}
    for entry in entries:
        by_graph.setdefault(entry.graph, []).append(entry.description())
    parts = [f"GRAPH <{g}> {{\n" + "\n".join(lines) + "\n}" for g, lines in by_graph.items()]
    return "INSERT DATA {\n" + "\n".join(parts) + "\n}"


#: A SPARQL store's index is read in up to 256 rows, by the first two hex digits of each
#: line's MD5.
_SPREAD = "GROUP BY (SUBSTR(MD5(?x), 1, 2))"


def entries_text(registry: Registry, space_iri: str, index: str) -> list[str]:
    """Every line of one index, joined in one row (a row per line costs more to hand over than
    to find). On a store whose answers limit a value's size (`Registry.limits_values`: 16 MiB,
    which one row of every line passes near 100,000 consents) the lines are spread over up
    to 256 rows, enough up to some 20 million; hashing every line costs the embedded store a
    third more, so it reads one row."""
    query = (
        "SELECT (GROUP_CONCAT(?x; SEPARATOR='\\n') AS ?all) WHERE {\n"
        f"  GRAPH <{index_graph(space_iri, index)}> {{ ?entry <{DCG.inForceEntry}> ?x }} }}\n"
        + (_SPREAD if registry.limits_values else "")
    )
    return [
        line
        for row in registry.select_text(query)
        for line in row.get("all", "").split("\n")
        if line
    ]


def _entry_operation(entry: Entry, delta: int, guard: str) -> str:
    if delta == 1:
        return (
            f"INSERT {{ GRAPH <{entry.graph}> {{ {entry.description()} }} }}\nWHERE {{ {guard} }}"
        )
    if delta == -1:
        # Every line of the node, not only this one: a line left by a lost race or a crash
        # (a superset) goes with it.
        lines = f"GRAPH <{entry.graph}> {{ <{entry.node}> <{DCG.inForceEntry}> ?line }}"
        return f"DELETE {{ {lines} }}\nWHERE {{ {guard} {lines} }}"
    raise RegistryError("An index entry is added (+1) or removed (-1), never counted.")


def _order(item: tuple[Counter | Entry, int]) -> tuple[bool, str]:
    # An entry's removal before any addition: a changed line of one node is removed, then
    # added, never the other way round.
    return (isinstance(item[0], Entry) and item[1] > 0, item[0].node)


def increments(deltas: Mapping[Counter | Entry, int], guard: str = "") -> list[str]:
    """SPARQL update operations adding each delta to its counter (created at 0 if absent),
    and adding (+1) or removing (-1) each index `Entry`.

    `guard` is a group graph pattern every operation also needs to match (the SPARQL
    registry's "this write won" token), so the counters change only with the record.
    """
    operations = []
    for counter, delta in sorted(deltas.items(), key=_order):
        if type(delta) is not int:
            raise RegistryError("A counter changes by an integer.")
        if delta == 0:
            continue
        if isinstance(counter, Entry):
            operations.append(_entry_operation(counter, delta, guard))
            continue
        graph, node = f"<{counter.graph}>", f"<{counter.node}>"
        count = f"<{DCG.count}>"
        operations.append(
            f"DELETE {{ GRAPH {graph} {{ {node} {count} ?old }} }}\n"
            f"INSERT {{ GRAPH {graph} {{ {node} {count} ?new .\n{counter.description()} }} }}\n"
            f"WHERE {{ {guard} OPTIONAL {{ GRAPH {graph} {{ {node} {count} ?old }} }} "
            f"BIND(COALESCE(?old, 0) + {delta} AS ?new) }}"
        )
    return operations


class Reading(NamedTuple):
    """One counter as read back: what it counts, its day and instant if any, and its count."""

    family: str
    day: date | None
    at: datetime | None
    n: int


def read(registry: Registry, space_iri: str, today: date) -> list[Reading]:
    """The space's day counters and totals, and the instant counters of `today`: a read whose
    size grows with the days a space has lived, never with the records it counts."""
    # One row holding every counter as a line of text: hundreds of rows cost far more to hand
    # over from the store than the query does (the parts are codes, ISO dates and integers,
    # so spaces and newlines cannot occur in them).
    query = (
        "SELECT (GROUP_CONCAT(CONCAT(?family, ' ', COALESCE(?day, '-'), ' ',\n"
        "    COALESCE(STR(?at), '-'), ' ', STR(?n)); SEPARATOR='\\n') AS ?all) WHERE {\n"
        f"  {{ GRAPH <{tally_iri(space_iri)}> {{ ?k dcg:counterOf ?family ; dcg:count ?n .\n"
        "      OPTIONAL { ?k dcg:onDay ?day } } }\n"
        f"  UNION {{ GRAPH <{day_graph(space_iri, today)}> {{ ?k dcg:counterOf ?family ;\n"
        "      dcg:count ?n ; dcg:atTime ?at } }\n"
        "}"
    )
    rows = registry.select_text(query)
    text = rows[0].get("all", "") if rows else ""
    found = []
    for line in text.splitlines():
        family, day_text, at_text, n = line.split(" ")
        at = datetime.fromisoformat(at_text).astimezone(UTC) if at_text != "-" else None
        if at is not None:
            day: date | None = at.date()
        else:
            day = date.fromisoformat(day_text) if day_text != "-" else None
        found.append(Reading(family, day, at, int(n)))
    return found


class Split(NamedTuple):
    """A family's counts split at an instant: what ended by then, what ends later, and the
    counters with no day."""

    ended: int
    pending: int
    undated: int


def split(registry: Registry, space_iri: str, now: datetime, prefix: str) -> dict[str, Split]:
    """For each family whose name starts with `prefix`, its counts split at `now`, summed in
    the store: one row per family, whatever the days and instants. Only for families counted
    by the day *and* the instant something ends (today's day counter is left to the instants)
    or by neither (others come back too, with a meaningless split: only `undated` or the
    sum of the three means anything for them)."""
    now = now.astimezone(UTC)
    if not registry.sums_counters:
        return _split_here(read(registry, space_iri, now.date()), now, prefix)
    today = ox.Literal(now.date().isoformat())
    at = ox.Literal(now.isoformat(), datatype=_DATE_TIME)
    # No filter for the empty prefix: Virtuoso 7.2 answers STRSTARTS(x, "") with false.
    starts = f"FILTER(STRSTARTS(?family, {ox.Literal(prefix)}))" if prefix else ""
    query = f"""
SELECT ?family (SUM(?e) AS ?ended) (SUM(?p) AS ?pending) (SUM(?u) AS ?undated) WHERE {{
  {{ GRAPH <{tally_iri(space_iri)}> {{
      ?k dcg:counterOf ?family . {starts}
      ?k dcg:count ?n . OPTIONAL {{ ?k dcg:onDay ?day }} }}
    BIND(IF(BOUND(?day), 0, ?n) AS ?u)
    BIND(IF(BOUND(?day) && ?day < {today}, ?n, 0) AS ?e)
    BIND(IF(BOUND(?day) && ?day > {today}, ?n, 0) AS ?p) }}
  UNION
  {{ GRAPH <{day_graph(space_iri, now.date())}> {{
      ?k dcg:counterOf ?family . {starts}
      ?k dcg:atTime ?at ; dcg:count ?n }}
    BIND(IF(?at <= {at}, ?n, 0) AS ?e) BIND(IF(?at > {at}, ?n, 0) AS ?p) BIND(0 AS ?u) }}
}} GROUP BY ?family"""
    return {
        row["family"]: Split(int(row["ended"]), int(row["pending"]), int(row["undated"]))
        for row in registry.select_text(query)
    }


def split_readings(readings: list[Reading], now: datetime, prefix: str) -> dict[str, Split]:
    """`split` over counters already read (`read` for `now`'s day)."""
    return _split_here(readings, now.astimezone(UTC), prefix)


def _split_here(readings: list[Reading], now: datetime, prefix: str) -> dict[str, Split]:
    """`split` done in Python over `read`'s counters (as many as the days a space has lived),
    for a store whose own arithmetic cannot be trusted with it."""
    sums: dict[str, list[int]] = {}
    today = now.date()
    for reading in readings:
        if not reading.family.startswith(prefix):
            continue
        ended, pending, undated = sums.setdefault(reading.family, [0, 0, 0])
        if reading.at is not None:
            ended, pending = (
                (ended + reading.n, pending) if reading.at <= now else (ended, pending + reading.n)
            )
        elif reading.day is None:
            undated += reading.n
        elif reading.day < today:
            ended += reading.n
        elif reading.day > today:
            pending += reading.n
        sums[reading.family] = [ended, pending, undated]
    return {family: Split(*figures) for family, figures in sums.items()}


def writes(registry: Registry, space_iri: str) -> int | None:
    """How many counted writes the tally has seen; None if the space has no tally yet."""
    return value(registry, Counter(space_iri, WRITES))


def version(registry: Registry, space_iri: str) -> tuple[int, int] | None:
    """The tally's version: (counted writes, the last recount's number), which changes with
    every change of its counters (a counted write adds to `writes` in the same update, a
    recount draws a new number); None if the space has no tally yet. One small lookup, so a
    copy of the counters read earlier can be reused while it is unchanged."""
    writes_node, recounted = _writes_node(space_iri), Counter(space_iri, RECOUNTED).node
    rows = registry.select_text(
        f"SELECT ?w ?r WHERE {{ GRAPH <{tally_iri(space_iri)}> {{ <{writes_node}> dcg:count ?w "
        f"OPTIONAL {{ <{recounted}> dcg:count ?r }} }} }}"
    )
    if not rows or "w" not in rows[0]:
        return None
    return int(rows[0]["w"]), int(rows[0].get("r", 0))


def value(registry: Registry, counter: Counter) -> int | None:
    """One counter's count; None if it was never written."""
    rows = registry.select(
        f"SELECT ?n WHERE {{ GRAPH <{counter.graph}> {{ <{counter.node}> dcg:count ?n }} }}"
    )
    return int(rows[0]["n"]) if rows else None  # type: ignore[call-overload]


def replace(
    registry: Registry,
    space_iri: str,
    counts: Mapping[Counter | Entry, int],
    *,
    expected_writes: int | None,
) -> bool:
    """Replace the space's whole tally by `counts` (a recount), in one update, if the tally has
    seen exactly `expected_writes` counted writes (None: it has no tally); return whether it
    did. A counted write since the recount began makes it return False: count again."""
    tally = tally_iri(space_iri)
    # The receipt lives in a named graph of its own (Virtuoso has no writable default graph).
    receipt = (
        f"GRAPH <{tally}/recount> {{ <{tally}> <{DCG.writeToken}> "
        f"{ox.Literal(secrets.token_urlsafe(16))} . }}"
    )
    count = f"<{DCG.count}>"
    seen = f"<{_writes_node(space_iri)}> {count}"
    if expected_writes is None:
        # A COUNT, not FILTER NOT EXISTS: Virtuoso 7.2 ignores the latter in an otherwise
        # empty WHERE, which would let a recount overwrite a counted write.
        condition = (
            f"{{ SELECT (COUNT(?w) AS ?seen) WHERE {{ GRAPH <{tally}> {{ {seen} ?w }} }} }} "
            "FILTER(?seen = 0)"
        )
    else:
        condition = f"GRAPH <{tally}> {{ {seen} {int(expected_writes)} }}"
    kept: dict[Counter | Entry, int] = dict(counts)
    kept[Counter(space_iri, WRITES)] = expected_writes or 0
    kept[Counter(space_iri, RECOUNTED)] = secrets.randbits(48)  # a new `version`
    lines: list[str] = []
    # An index's entries in one block per graph, saying whose tally the graph is once: a
    # space of 100,000 people has as many entries, and the update's text is most of its cost.
    indexes: dict[str, list[str]] = {}
    for counter, value in sorted(kept.items(), key=lambda item: item[0].node):
        if isinstance(counter, Entry):
            indexes.setdefault(counter.graph, []).append(counter.triple())
            continue
        literal = ox.Literal(str(value), datatype=_INTEGER)
        lines.append(
            f"GRAPH <{counter.graph}> {{ <{counter.node}> {count} {literal} .\n"
            f"{counter.description()} }}"
        )
    for graph, triples in indexes.items():
        owner = (
            f"{ox.NamedNode(graph)} <{RDF.type}> <{DCG.Tally}> .\n"
            f"{ox.NamedNode(graph)} <{DCG.space}> {ox.NamedNode(space_iri)} ."
        )
        lines.append(f"GRAPH <{graph}> {{\n" + "\n".join(triples) + f"\n{owner} }}")
    # The space's tally graphs by their names: matching `dcg:space <space>` instead would also
    # match every consent record of the space.
    ours = ox.Literal(tally + "/")
    update = (
        f"INSERT {{ {receipt} }} WHERE {{ {condition} }} ;\n"
        f"DELETE {{ GRAPH ?g {{ ?s ?p ?o }} }} WHERE {{ {receipt}\n"
        f"  GRAPH ?g {{ ?g <{RDF.type}> <{DCG.Tally}> }}\n"
        f"  FILTER(?g = <{tally}> || STRSTARTS(STR(?g), {ours}))\n"
        f"  GRAPH ?g {{ ?s ?p ?o }} }} ;\n"
        f"INSERT {{\n" + "\n".join(lines) + f"\n}} WHERE {{ {receipt} }}"
    )
    registry.execute_update(update)
    won = registry.ask(f"ASK {{ {receipt} }}")
    registry.execute_update(f"DELETE DATA {{ {receipt} }}")
    return won


def _writes_node(space_iri: str) -> str:
    return Counter(space_iri, WRITES).node


def as_counts(
    items: Iterable[tuple[Counter | Entry, int]],
) -> dict[Counter | Entry, int]:
    """Sum (counter, n) pairs, leaving out counters that sum to nothing."""
    found: dict[Counter | Entry, int] = {}
    for counter, n in items:
        found[counter] = found.get(counter, 0) + n
    return {counter: n for counter, n in found.items() if n}
