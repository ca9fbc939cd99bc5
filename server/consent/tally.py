"""A space's consent figures, kept in its tally in the same write as each consent record.

What each person's history adds to the counters (`contributions`) is a pure function of the
history; a write adds the difference between the history as written and as it was read, in
the same update as the record (`Registry.write_counted`). Reading the figures back
(`ConsentFigures.of`) mirrors the two counts pages show, and tests hold them equal to a full
recount over the records:

- the overview's: each person's *latest* consent by state, a given one that has ended by now
  counting as expired (`ConsentStore.counts_by_scan`);
- the dashboard's: every consent given, withdrawn (before it ended) and expired, per UTC day
  (`dashboard.figures.per_day` over `ConsentStore.dates`).

Counts only, never who: a tally holds no WebID.
"""

from __future__ import annotations

import hashlib
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from connectors.origins import origin_of

from ..registry.counters import Counter, Entry, Reading, Split, as_counts
from .model import ConsentHistory, ConsentState

GIVEN = "given"  # per day given
WITHDRAWN = "withdrawn"  # per day withdrawn, before it ended
ENDING = "ending"  # per day and instant it ends, unless withdrawn before
LATEST = "person-"  # + state: each person's latest consent (given: per day and instant it ends)


@dataclass(frozen=True)
class ConsentDates:
    """When one consent was given, withdrawn and ends: all a count over time needs, never who."""

    state: ConsentState
    expires_at: datetime
    given_at: datetime | None
    withdrawn_at: datetime | None


def dates_of(history: ConsentHistory) -> list[tuple[int, ConsentDates]]:
    """The history's consents as (number, dates)."""
    return [
        (c.number, ConsentDates(c.state, c.expires_at, c.given_at, c.withdrawn_at))
        for c in history.consents
    ]


def contributions(space_iri: str, consents: Iterable[tuple[int, ConsentDates]]) -> Tally[Counter]:
    """What one person's consents (numbered) add to the space's counters."""
    found: Tally[Counter] = Tally()
    latest: tuple[int, ConsentDates] | None = None
    for number, c in consents:
        if latest is None or number > latest[0]:
            latest = (number, c)
        if c.given_at is None:
            continue  # never given: being recorded, or abandoned
        found[Counter(space_iri, GIVEN, _day(c.given_at))] += 1
        if c.state is ConsentState.WITHDRAWN and c.withdrawn_at and c.withdrawn_at < c.expires_at:
            found[Counter(space_iri, WITHDRAWN, _day(c.withdrawn_at))] += 1
        else:
            found.update(_ends(space_iri, ENDING, c.expires_at))
    if latest is not None:
        state = latest[1].state
        if state is ConsentState.GIVEN:
            found.update(_ends(space_iri, LATEST + "given", latest[1].expires_at))
        else:
            found[Counter(space_iri, LATEST + _code(state))] += 1
    return found


def deltas(
    space_iri: str, before: ConsentHistory | None, after: ConsentHistory
) -> dict[Counter, int]:
    """The counter changes that writing `after` over `before` (None: new) makes."""
    added = contributions(space_iri, dates_of(after))
    removed = contributions(space_iri, dates_of(before)) if before else Tally()
    return as_counts([*added.items(), *((k, -n) for k, n in removed.items())])


@dataclass
class ConsentFigures:
    """The figures the pages show, read from counters at `now`."""

    states: dict[ConsentState, int] = field(default_factory=dict)
    given: Tally[date] = field(default_factory=Tally)
    withdrawn: Tally[date] = field(default_factory=Tally)
    expired: Tally[date] = field(default_factory=Tally)

    @classmethod
    def of(cls, readings: Iterable[Reading], now: datetime) -> ConsentFigures:
        """`readings` must hold every day counter and the instant counters of `now`'s day."""
        figures = cls()
        today = _day(now)
        by_code = {_code(state): state for state in ConsentState}
        for counter in readings:
            n = counter.n
            if counter.family == GIVEN:
                figures.given[counter.day] += n  # type: ignore[index]
            elif counter.family == WITHDRAWN:
                figures.withdrawn[counter.day] += n  # type: ignore[index]
            elif counter.family == ENDING and _ended(counter, today, now):
                figures.expired[counter.day] += n  # type: ignore[index]
            elif counter.family == LATEST + "given" and _settled(counter, today):
                state = ConsentState.EXPIRED if _ended(counter, today, now) else ConsentState.GIVEN
                figures._add(state, n)
            elif counter.family.startswith(LATEST) and counter.family != LATEST + "given":
                state = by_code.get(counter.family.removeprefix(LATEST))
                if state is not None:
                    figures._add(state, n)
        figures.states = {s: n for s, n in figures.states.items() if n}
        for tally in (figures.given, figures.withdrawn, figures.expired):
            for day in [d for d, n in tally.items() if not n]:
                del tally[day]
        return figures

    def _add(self, state: ConsentState, n: int) -> None:
        self.states[state] = self.states.get(state, 0) + n


def states(splits: Mapping[str, Split]) -> dict[ConsentState, int]:
    """People by the state of their latest consent, from the `LATEST` families split at now."""
    found: dict[ConsentState, int] = {}
    for state in ConsentState:
        counted = splits.get(LATEST + _code(state))
        if counted is None:
            continue
        if state is ConsentState.GIVEN:
            found[ConsentState.EXPIRED] = found.get(ConsentState.EXPIRED, 0) + counted.ended
            found[state] = found.get(state, 0) + counted.pending
        else:
            found[state] = found.get(state, 0) + counted.undated
    return {state: n for state, n in found.items() if n}


def _ends(space_iri: str, family: str, at: datetime) -> Tally[Counter]:
    """A day counter and, for today's reads, an instant counter of the moment it ends."""
    return Tally({Counter(space_iri, family, _day(at)): 1, Counter(space_iri, family, at=at): 1})


def _ended(counter: Reading, today: date, now: datetime) -> bool:
    """Whether what `counter` counts has ended by `now`: a day counter of an earlier day, or an
    instant counter of today not after now (today's day counter is left to its instants)."""
    if counter.at is not None:
        return counter.day == today and counter.at <= now
    return counter.day is not None and counter.day < today


def _settled(counter: Reading, today: date) -> bool:
    """Count each ending once: day counters of other days, instant counters of today."""
    if counter.at is not None:
        return counter.day == today
    return counter.day != today


def _day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def _code(state: ConsentState) -> str:
    return state.name.lower()


# --- The index of consents in force (docs/registry.md, "Job assembly") ----------------------

#: Counted writes that also kept the in-force index: equal to `writes` when every write since
#: the tally began (or was last rebuilt) kept it; otherwise a recount builds it.
INDEXED = "indexed-writes"
_NO_ORIGIN = "-"


@dataclass(frozen=True)
class Indexed:
    """What the in-force index needs of one consent (never the person: the IRI names a
    history, whose name is a hash)."""

    iri: str
    number: int
    state: ConsentState
    terms_digest: str
    expires_at: datetime
    reads: tuple[str, ...]  # the URLs of the resources and containers it reads


def indexed_of(history: ConsentHistory) -> list[Indexed]:
    return [
        Indexed(
            c.iri,
            c.number,
            c.state,
            c.terms_digest,
            c.expires_at,
            tuple(r.url for r in c.resources),
        )
        for c in history.consents
    ]


def in_force_index(terms_digest: str) -> str:
    """The index of the consents given under `terms_digest` (a hash: a digest is any text)."""
    return "in-force/" + hashlib.sha256(terms_digest.encode()).hexdigest()[:32]


def index_entry(space_iri: str, consents: Iterable[Indexed]) -> Entry | None:
    """The person's line in the in-force index, if any: their latest settled consent if it is
    given, whatever the time (expiry is the reader's to check, from the line). The same rule
    as `server.consent.authority.consents_for_run`, minus the clock: the newest consent, or,
    while a renewal is being recorded (the newest only requested), the given one before it."""
    ordered = sorted(consents, key=lambda c: c.number)
    if not ordered:
        return None
    settled = ordered[-1]
    renewing = len(ordered) > 1 and ordered[-2].state is ConsentState.GIVEN
    if settled.state is ConsentState.REQUESTED and renewing:
        settled = ordered[-2]
    if settled.state is not ConsentState.GIVEN:
        return None
    origins = sorted({_origin(url) for url in settled.reads})
    text = " ".join([_instant(settled.expires_at), settled.iri, *origins])
    return Entry(space_iri, in_force_index(settled.terms_digest), settled.iri, text)


def index_deltas(
    space_iri: str, before: ConsentHistory | None, after: ConsentHistory
) -> dict[Counter | Entry, int]:
    """The index change that writing `after` over `before` (None: new) makes."""
    old = index_entry(space_iri, indexed_of(before)) if before else None
    new = index_entry(space_iri, indexed_of(after))
    if old == new:
        return {}
    changes: dict[Counter | Entry, int] = {}
    if old is not None:
        changes[old] = -1
    if new is not None:
        changes[new] = 1
    return changes


@dataclass(frozen=True)
class InForcePlan:
    """The consents in force at one instant, from the index: their IRIs (sorted) and how many
    of them read at each origin (spelled by `origin_of`, "" for none; a consent reading at two
    counts at both)."""

    iris: list[str]
    origins: dict[str, int]

    @classmethod
    def of(cls, lines: Iterable[str], now: datetime) -> InForcePlan:
        """Lines as `index_entry` writes them; those ended by `now` are left out (an entry
        is never trusted to say a consent still counts: its instant is checked here)."""
        at = _instant(now)
        # One split per line and the rest in comprehensions: 100,000 lines in well under a
        # second. A consent listed twice (a line left by a lost race) counts once.
        rows = (line.split(" ") for line in lines)
        live = {parts[1]: parts for parts in rows if len(parts) > 1 and parts[0] > at}
        origins = Tally(origin for parts in live.values() for origin in parts[2:])
        if _NO_ORIGIN in origins:
            origins[""] += origins.pop(_NO_ORIGIN)
        return cls(sorted(live), dict(origins))


def _instant(at: datetime) -> str:
    """A UTC instant as fixed-width text, so comparing texts compares instants."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _origin(url: str) -> str:
    """The origin as the pull's plan spells it (`origin_of`), spelled once at write time so a
    claim need not spell 100,000 of them; "-" for a URL without one (no line has an empty
    field)."""
    return origin_of(url) or _NO_ORIGIN
