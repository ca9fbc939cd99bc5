"""Which people's data a run may read, decided from the registry at the moment of reading.

A consent counts only while it is given, not past its expiry, and given under exactly the terms
the run was queued under (the same terms digest): a consent given before the space's purposes,
consumers, algorithm or schedule changed covers nothing until the person renews it. It is
checked when a run is
planned and again right before each person's data is pulled, so a withdrawal that lands
mid-run still stops the read. A pod that refuses the datacage (403) is taken as the person
having withdrawn (they took the grant back in their pod): the consent is recorded as such, and
never retried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .model import Consent, ConsentState
from .store import ConsentStore
from .withdraw import mark_withdrawn


@dataclass(frozen=True)
class Excluded:
    consent: Consent
    reason: str


@dataclass(frozen=True)
class RunConsents:
    included: list[Consent]
    excluded: list[Excluded]


def consents_for_run(
    store: ConsentStore, space_iri: str, now: datetime, *, terms_digest: str
) -> RunConsents:
    """The consents a run under `terms_digest` may read, and why each other one may not.

    This reads every history of the space, so it is the rule spelled out, not the way a run
    is planned: a claim finds the same consents in one store query
    (`ConsentStore.in_force_iris`), and the datacage's batch re-checks apply it again
    (`ConsentStore.in_force_among`); `tests/unit/test_job_consents.py` holds all three equal.
    """
    included, excluded = [], []
    for history in store.of_space(space_iri):
        if not history.consents:
            continue
        latest = _latest_settled(history.consents)
        state = latest.state_at(now)
        if state is ConsentState.GIVEN and latest.terms_digest != terms_digest:
            excluded.append(
                Excluded(latest, "the consent was given under earlier terms and awaits renewal")
            )
        elif state is ConsentState.GIVEN:
            included.append(latest)
        elif state is ConsentState.EXPIRED:
            excluded.append(
                Excluded(latest, f"the consent expired on {latest.expires_at:%Y-%m-%d}")
            )
        elif state is ConsentState.WITHDRAWN:
            excluded.append(Excluded(latest, "the consent was withdrawn"))
        else:
            excluded.append(Excluded(latest, "the consent was never completed"))
    included.sort(key=lambda c: c.subject)
    return RunConsents(included, excluded)


def _latest_settled(consents: list[Consent]) -> Consent:
    """The newest consent, or while a renewal is being recorded the one it would replace."""
    latest = consents[-1]
    if latest.state is ConsentState.REQUESTED and len(consents) > 1:
        previous = consents[-2]
        if previous.state is ConsentState.GIVEN:
            return previous
    return latest


def still_in_force(store: ConsentStore, consent: Consent, now: datetime) -> bool:
    """Read the record again: never trust a consent read earlier in the run."""
    history = store.history(consent.space_iri, consent.subject)
    stored = history.get(consent.number)
    return (
        stored is not None
        and stored.counts_at(now)
        and stored.terms_digest == consent.terms_digest
        and stored.resources == consent.resources
    )


def record_refusal(store: ConsentStore, consent: Consent, url: str, now: datetime) -> Consent:
    return mark_withdrawn(
        store,
        consent,
        reason=(
            f"Your pod refused the datacage's read of {url} on {now:%Y-%m-%d %H:%M} UTC, "
            "so the consent is treated as withdrawn."
        ),
        now=now,
    )


class RegistryAuthority:
    """The consent authority read straight from the registry (the control plane's own view).

    The worker process asks the control plane over HTTP instead (`ControlPlane`); both answer
    the same two questions, so a pull does not care which one it talks to.
    """

    def __init__(self, store: ConsentStore, clock: Callable[[], datetime]):
        self.store = store
        self.clock = clock

    def still_in_force(self, consent: Consent) -> bool:
        return still_in_force(self.store, consent, self.clock())

    def record_refusal(self, consent: Consent, url: str) -> None:
        record_refusal(self.store, consent, url, self.clock())
