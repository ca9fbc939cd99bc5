"""Gathering a space's dashboard: one registry query per kind of figure, whatever the space's size.

Consents (their counters), runs (in brief), deliveries (counted by state in the store, and the
last run's in full), pushed datasets (one graph) and the audit trail's head: six reads. Nothing
loads a run or a consent history one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..audit.trail import AuditTrail
from ..consent.store import ConsentStore
from ..destinations.status import DeliveryStatus, statuses_of
from ..push.service import PushService
from ..registry import Registry, guard
from ..registry.base import check_name
from ..runs.model import RunSummary
from ..runs.store import RunStore
from ..spaces import permissions
from ..spaces.actions import Spaces
from ..spaces.model import Role, Space
from . import figures as f


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

    def figures(self, space_id: str, actor: str | None, now: datetime) -> tuple[Space, f.Figures]:
        """The space and its figures, for its participants only (as its runs are)."""
        space = self.spaces.get(space_id, actor)
        permissions.require_participant(space, actor)
        return space, self.gather(space, now)

    def gather(self, space: Space, now: datetime) -> f.Figures:
        # The consent counters, not the consents: the same cost for 100,000 people as for 100.
        counted = self.consents.figures(space.iri, now)
        runs = self.runs.summaries(space.iri)
        deliveries = guard.call(self._registry, lambda r: _delivery_states(r, runs))
        last_deliveries = self._deliveries_of(runs[-1].iri) if runs else []
        datasets = self.push.datasets(space.iri)
        head = self.audit.head(space.iri)

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
            deliveries=deliveries,
            last_deliveries=last_deliveries,
            datasets=len(datasets),
            audit_length=head[0] + 1 if head else 0,
            audit_head=head[1] if head else None,
            flow=_flow(space, in_force, runs, last_deliveries, datasets),
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
