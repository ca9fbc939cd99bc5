"""A consent as the service layer sees it: plain data, no RDF and no HTTP."""

from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vocab import DPV

# What a consent lets the datacage read is the job protocol's; the control plane's modules
# take it from here too.
from ..protocol.consents import PodResource

_DURATION = re.compile(r"^P(?=\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")

#: A consent still being written this long after it started was abandoned (tab closed, crash).
ABANDONED_AFTER = timedelta(minutes=15)


class ConsentState(enum.Enum):
    """DPV's consent statuses, the ones a consent here moves through."""

    REQUESTED = DPV.ConsentRequested  # being written into the pod right now
    GIVEN = DPV.ConsentGiven
    WITHDRAWN = DPV.ConsentWithdrawn
    EXPIRED = DPV.ConsentExpired

    @property
    def label(self) -> str:
        return {
            ConsentState.REQUESTED: "Being recorded",
            ConsentState.GIVEN: "Given",
            ConsentState.WITHDRAWN: "Withdrawn",
            ConsentState.EXPIRED: "Expired",
        }[self]


@dataclass
class Consent:
    iri: str
    number: int  # 1, 2, ...: this person's n-th consent to this space
    space_iri: str
    space_id: str
    space_name: str
    subject: str  # the data subject's WebID
    grantee: str  # the datacage's WebID, the only agent given Read
    resources: tuple[PodResource, ...]
    purposes: tuple[str, ...]
    legal_basis: str
    controller: str  # the space's owner, who set the purposes
    consumers: tuple[str, ...]
    algorithm_digest: str
    terms_digest: str
    recurring: bool
    started_at: datetime
    expires_at: datetime
    state: ConsentState = ConsentState.REQUESTED
    access_system: str = ""  # "WAC" or "ACP", once the grant is written
    receipt_url: str | None = None
    given_at: datetime | None = None
    withdrawn_at: datetime | None = None
    withdrawal_reason: str | None = None
    grant_removed_at: datetime | None = None
    # Where the datacage may append a record of each run's use, next to the receipt (Append
    # only, granted with the Read); None for consents given before usage records existed.
    usage_records: str | None = None
    # The rest of the terms the person saw, so a change of terms can be shown to them line by
    # line; None for consents recorded before these were kept.
    retention: str | None = None
    consent_period: str | None = None
    min_individuals: int | None = None

    @property
    def key(self) -> str:
        """`<history key>/<number>`: how web routes name this consent."""
        return self.iri.rsplit("/", 2)[-2] + "/" + str(self.number)

    def state_at(self, now: datetime) -> ConsentState:
        """The state that counts: a given consent past its expiry is expired (so withdrawn)."""
        if self.state is ConsentState.GIVEN and now >= self.expires_at:
            return ConsentState.EXPIRED
        return self.state

    def counts_at(self, now: datetime) -> bool:
        """May the datacage read this person's data now under this consent?"""
        return self.state_at(now) is ConsentState.GIVEN

    def abandoned_at(self, now: datetime) -> bool:
        return self.state is ConsentState.REQUESTED and now - self.started_at > ABANDONED_AFTER

    @property
    def grant_may_remain(self) -> bool:
        """Was Read granted in the pod and not (known to be) taken out again?"""
        return bool(self.access_system) and self.grant_removed_at is None

    @property
    def resource_urls(self) -> list[str]:
        return [r.url for r in self.resources]


@dataclass
class ConsentHistory:
    """Every consent one person gave to one space, oldest first: one registry graph.

    At most one of them is being recorded or counts at any time; the graph's compare-and-swap
    revision is what makes two consents at once for the same space impossible.
    """

    iri: str
    space_iri: str
    subject: str
    consents: list[Consent] = field(default_factory=list)
    revision: int = 0

    def current(self, now: datetime) -> Consent | None:
        """The consent that is in force or being recorded, if any."""
        return next(
            (
                c
                for c in reversed(self.consents)
                if c.counts_at(now) or (c.state is ConsentState.REQUESTED)
            ),
            None,
        )

    def get(self, number: int) -> Consent | None:
        return next((c for c in self.consents if c.number == number), None)

    @property
    def next_number(self) -> int:
        return max((c.number for c in self.consents), default=0) + 1


def add_duration(start: datetime, duration: str) -> datetime:
    """`start` plus an ISO 8601 duration of years, months, weeks and days, on the calendar:
    a consent for P1M given on 31 January ends on the last day of February."""
    match = _DURATION.match(duration)
    if not match:
        raise ValueError(f"{duration!r} is not a duration of years, months, weeks or days.")
    years, months, weeks, days = (int(g or 0) for g in match.groups())
    month_index = start.month - 1 + months + 12 * years
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day) + timedelta(weeks=weeks, days=days)
