"""Gathering a space's dashboard: one registry query per kind of figure, whatever the space's size.

Consents (their counters), runs (in brief), deliveries (counted by state in the store, and the
last run's in full), pushed datasets (one graph) and the audit trail's head: six reads. Nothing
loads a run or a consent history one by one.

Runs and deliveries are the costly reads (joins over every run and delivery of the space), so
all but the consent counters are kept per space under a stamp (`stamp.page_stamp`: the space's,
datasets' and audit head's revisions and write tokens, and the activity counter that every
write of a run or delivery moves in the same update). A view reads the stamp first (one query
of indexed lookups) and the rest again only when it differs. The consent counters are kept the
same way by the consent store, under the tally's version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from ..audit.trail import AuditTrail
from ..consent.store import ConsentStore
from ..destinations.status import DeliveryStatus, statuses_of
from ..push.records import PushedDataset
from ..push.service import PushService
from ..registry import Registry, guard
from ..registry.base import check_name
from ..runs.model import RunSummary
from ..runs.store import RunStore
from ..spaces import permissions
from ..spaces.actions import Spaces
from ..spaces.model import Role, Space
from . import figures as f
from . import stamp as stamps
from .kept import Kept, Latest
from .stamp import Stamp

#: Spaces whose runs and deliveries a process keeps (the least recently viewed go first).
KEPT_SPACES = 256
#: Dashboard contents a process keeps (a page of 100 runs is ~60 kB), and at most this many
#: characters of them together.
KEPT_PAGES = 64
KEPT_PAGES_CHARACTERS = 16_000_000


@dataclass(frozen=True)
class Parts:
    """What a view read besides the consent counters, as of `stamp` (or later)."""

    stamp: Stamp
    space: Space
    runs: list[RunSummary]
    deliveries: dict[str, int]
    last_deliveries: list[DeliveryStatus]
    datasets: list[PushedDataset]
    head: tuple[int, str] | None


class Dashboard:
    def __init__(
        self,
        registry: Callable[[], Registry],
        spaces: Spaces,
        consents: ConsentStore,
        runs: RunStore,
        push: PushService,
        audit: AuditTrail,
    ):
        self._registry = registry
        self.spaces, self.consents, self.runs = spaces, consents, runs
        self.push, self.audit = push, audit
        self._kept: Latest[Parts] = Latest(KEPT_SPACES)
        #: The page's content by everything it depends on (`web.dashboard.content_key`).
        self.pages: Kept[Markup] = Kept(KEPT_PAGES, budget=KEPT_PAGES_CHARACTERS)

    def figures(self, space_id: str, actor: str | None, now: datetime) -> tuple[Space, f.Figures]:
        """The space and its figures, for its participants only (as its runs are)."""
        parts = self.parts(space_id, actor)
        return parts.space, self._compose(parts, now)

    def gather(self, space: Space, now: datetime) -> f.Figures:
        """The figures of `space` as loaded by the caller, everything read afresh."""
        return self._compose(self._read(space, None), now)

    def parts(self, space_id: str, actor: str | None) -> Parts:
        """The space, its runs, deliveries, datasets and audit head: kept per space, and read
        again only when the stamp (read first, one query) differs from the one kept with them.
        The same checks of who may see them either way."""
        iri = self.spaces.store.iri_of(space_id) if stamps.plausible(space_id) else None
        stamp = guard.call(self._registry, lambda r: stamps.page_stamp(r, iri)) if iri else None
        kept = self._kept.get(iri, stamp) if stamp is not None and stamp.usable else None
        if kept is not None:
            # The same record as when kept: the same answer as `Spaces.get` would give.
            permissions.require_view(kept.space, actor)
            permissions.require_participant(kept.space, actor)
            return kept
        space = self.spaces.get(space_id, actor)
        permissions.require_participant(space, actor)
        parts = self._read(space, stamp)
        if stamp is not None and stamp.usable and space.iri == iri:
            self._kept.put(space.iri, stamp, parts)
        return parts

    def _read(self, space: Space, stamp: Stamp | None) -> Parts:
        runs = self.runs.summaries(space.iri)
        return Parts(
            stamp=stamp or Stamp((None, None), (None, None), (None, None), None),
            space=space,
            runs=runs,
            deliveries=guard.call(self._registry, lambda r: _delivery_states(r, runs)),
            last_deliveries=self._deliveries_of(runs[-1].iri) if runs else [],
            datasets=self.push.datasets(space.iri),
            head=self.audit.head(space.iri),
        )

    def _compose(self, parts: Parts, now: datetime) -> f.Figures:
        space, runs, head = parts.space, parts.runs, parts.head
        # The consent counters, not the consents: the same cost for 100,000 people as for 100.
        counted = self.consents.figures(space.iri, now)
        days = f.days_of(
            counted.given, counted.withdrawn, counted.expired, now, at_least=f.MIN_DAYS
        )
        in_force = days[-1].in_force if days else 0
        return f.Figures(
            days=days[-f.MAX_DAYS :],
            more_days=max(0, len(days) - f.MAX_DAYS),
            consents_in_force=in_force,
            consents_given=sum(d.given for d in days),
            consents_withdrawn=sum(d.withdrawn for d in days),
            consents_expired=sum(d.expired for d in days),
            runs=runs,
            charted_runs=runs[-f.MAX_RUNS :],
            outcomes=f.outcomes(runs),
            deliveries=parts.deliveries,
            last_deliveries=parts.last_deliveries,
            datasets=len(parts.datasets),
            audit_length=head[0] + 1 if head else 0,
            audit_head=head[1] if head else None,
            flow=_flow(space, in_force, runs, parts.last_deliveries, parts.datasets),
            stamp=parts.stamp if parts.stamp.usable else None,
        )

    def _deliveries_of(self, run_iri: str) -> list[DeliveryStatus]:
        return guard.call(self._registry, lambda r: statuses_of(r, run_iri))


# Deliveries of the given runs by state, counted by the store. The runs are named in the
# query, not joined by space: every consent record of the space names the space too, so a join
# on it would read them all.
_DELIVERY_STATES = """
SELECT ?state (COUNT(?g) AS ?n) WHERE {
  VALUES ?run { %s }
  GRAPH ?g { ?g a dcg:Delivery ; dcg:deliveryOf|dcg:result ?run ; dcg:deliveryState ?state . }
} GROUP BY ?state
"""


def _delivery_states(registry: Registry, runs: list[RunSummary]) -> dict[str, int]:
    if not runs:
        return {}
    named = " ".join(f"<{check_name(run.iri)}>" for run in runs)
    rows = registry.select_text(_DELIVERY_STATES % named)
    return dict(sorted((row["state"], int(row["n"])) for row in rows))


def _flow(space: Space, in_force: int, runs, last_deliveries, datasets) -> f.Flow:
    algorithm = space.algorithm
    attested = next((r for r in reversed(runs) if r.attestation_provider), None)
    if attested is None:
        attestation, hardware = "not attested yet: no run has started", False
    elif attested.attestation_provider.startswith("software"):  # type: ignore[union-attr]
        attestation, hardware = "software stand-in: proves nothing about hardware", False
    else:
        attestation, hardware = f"attested by {attested.attestation_provider}", True
    state_of = {d.consumer: d.state for d in last_deliveries}
    consumers = tuple(
        f.Consumer(webid, f.delivery_word(state_of.get(webid), runs[-1] if runs else None))
        for webid in space.consumers
    )
    return f.Flow(
        individuals=in_force if space.terms.data_requests else None,
        providers=f.providers(space.holders_of(Role.DATA_PROVIDER), datasets),
        algorithm=f"{algorithm.name} {algorithm.version}" if algorithm else None,
        digest=algorithm.digest if algorithm else None,
        attestation=attestation,
        hardware=hardware,
        consumers=consumers,
    )
