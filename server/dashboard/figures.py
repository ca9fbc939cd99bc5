"""The figures of a space's dashboard, as plain data: counted here, drawn in `charts`.

Everything about individuals is a count (how many gave, withdrew, whose consent expired, how
many a run read): participants of a space never learn who consented, only how many.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ..consent.model import ConsentState
from ..consent.store import ConsentDates
from ..destinations import DeliveryStatus
from ..push.records import PushedDataset
from ..runs.model import RunSummary

#: The consents chart shows at most this many days (the latest); older ones stay in the counts.
MAX_DAYS = 60
#: ... and at least this many, so that a week-old space's first days read as a week.
MIN_DAYS = 7
#: The runs chart shows at most this many runs (the latest).
MAX_RUNS = 20


@dataclass(frozen=True)
class Day:
    day: date
    given: int = 0
    withdrawn: int = 0
    expired: int = 0
    in_force: int = 0  # at the end of the day (or now, for today)


@dataclass(frozen=True)
class Provider:
    """An organisation that provides data, with the datasets it pushed (maybe none yet)."""

    webid: str
    datasets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Consumer:
    webid: str
    delivery: str  # the state of the last run's delivery to them, in words


@dataclass(frozen=True)
class Flow:
    """Who provides, which algorithm, who receives: the data-flow drawing's content."""

    individuals: int | None  # consents in force; None when the space asks nothing of people
    providers: tuple[Provider, ...]
    algorithm: str | None  # "name version"
    digest: str | None
    attestation: str  # in words; the software stand-in says so
    hardware: bool
    consumers: tuple[Consumer, ...]


@dataclass
class Figures:
    days: list[Day]
    consents_in_force: int
    consents_given: int
    consents_withdrawn: int
    consents_expired: int
    runs: list[RunSummary]  # oldest first, all of them
    outcomes: dict[str, int]
    deliveries: dict[str, int]  # delivery state -> how many, over all runs
    last_deliveries: list[DeliveryStatus]
    datasets: int
    audit_length: int
    audit_head: str | None
    flow: Flow
    more_days: int = 0  # days with events before the chart's window
    charted_runs: list[RunSummary] = field(default_factory=list)
    #: The stamp (`stamp.Stamp`) everything but the consent figures is current for; None when
    #: there is none to trust (runs never counted): nothing is then kept.
    stamp: Hashable | None = None


def per_day(consents: list[ConsentDates], now: datetime, at_least: int = 1) -> list[Day]:
    """Given, withdrawn and expired per day (UTC), and how many were in force at each day's end
    (now, for today), from the first day a consent was given (or `at_least` days back) until
    today; empty if none was ever given."""
    given: Counter[date] = Counter()
    withdrawn: Counter[date] = Counter()
    expired: Counter[date] = Counter()
    for c in consents:
        if c.given_at is None:
            continue  # never given: being recorded, or abandoned
        given[c.given_at.date()] += 1
        if c.state is ConsentState.WITHDRAWN and c.withdrawn_at and c.withdrawn_at < c.expires_at:
            withdrawn[c.withdrawn_at.date()] += 1
        elif c.expires_at <= now:
            expired[c.expires_at.date()] += 1
    return days_of(given, withdrawn, expired, now, at_least)


def days_of(
    given: Counter[date],
    withdrawn: Counter[date],
    expired: Counter[date],
    now: datetime,
    at_least: int = 1,
) -> list[Day]:
    """`per_day` from counts per day (a tally's, or a count over every consent)."""
    if not given:
        return []
    first = min(min(given), now.date() - timedelta(days=at_least - 1))
    days, in_force = [], 0
    for n in range((now.date() - first).days + 1):
        day = first + timedelta(days=n)
        # In force at the day's end: given by then, and not yet ended by then.
        in_force += given[day] - withdrawn[day] - expired[day]
        days.append(Day(day, given[day], withdrawn[day], expired[day], in_force))
    return days


def outcomes(runs: list[RunSummary]) -> dict[str, int]:
    counted = Counter(r.outcome for r in runs)
    return dict(sorted(counted.items()))


def delivery_word(state: str | None, last_run: RunSummary | None) -> str:
    """What the last run's delivery to one consumer came to, in a few words."""
    if last_run is None:
        return "no run yet"
    if state is not None:
        return {"no-destination": "no container chosen", "destroyed": "destroyed unsent"}.get(
            state, state
        )
    if not last_run.status.finished:
        return "run in progress"
    if not last_run.gate_passed:
        return f"nothing sent ({last_run.outcome.lower()})"
    return "nothing reported yet"


def providers(webids: list[str], datasets: list[PushedDataset]) -> tuple[Provider, ...]:
    """Each data-providing organisation with its datasets' names, those without any included."""
    names: dict[str, list[str]] = {w: [] for w in webids}
    for d in sorted(datasets, key=lambda d: d.registered_at):
        names.setdefault(d.provider, []).append(d.name)
    return tuple(Provider(w, tuple(n)) for w, n in names.items())
