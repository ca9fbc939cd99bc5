"""Reading consented data from pods, person by person, exactly as each consent lists it.

One person's failure is that person's part of the run, never the whole run. A 403 is a
withdrawal signal (recorded, not retried); an unreachable pod is reported as such.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from connectors.solid import SolidClient
from connectors.solid import errors as solid_errors

from ..consent.model import Consent
from ..consent.store import ConsentStore
from ..consent.usage import Read
from .consents import record_refusal, still_in_force

log = logging.getLogger(__name__)

#: Most resources read under one container grant, so a huge folder cannot swamp a run.
MAX_MEMBERS = 1000


@dataclass(frozen=True)
class Input:
    url: str
    version: str | None
    content_type: str | None
    body: bytes = field(repr=False)


@dataclass
class PersonOutcome:
    consent: Consent
    inputs: list[Input] = field(default_factory=list)
    skipped: str | None = None  # why nothing was read for this person

    @property
    def reads(self) -> list[Read]:
        return [Read(i.url, i.version) for i in self.inputs]


def pull(
    cage: SolidClient,
    store: ConsentStore,
    consents: list[Consent],
    clock: Callable[[], datetime],
) -> list[PersonOutcome]:
    outcomes = []
    for consent in consents:
        outcome = PersonOutcome(consent)
        outcomes.append(outcome)
        if not still_in_force(store, consent, clock()):
            outcome.skipped = "the consent no longer counts"
            continue
        try:
            for resource in consent.resources:
                urls = _members(cage, resource.url) if resource.is_container else [resource.url]
                for url in urls:
                    read = cage.get(url)
                    outcome.inputs.append(Input(url, read.etag, read.content_type, read.body))
        except (solid_errors.Forbidden, solid_errors.Unauthenticated) as exc:
            url = getattr(exc, "url", None) or "a consented resource"
            record_refusal(store, consent, url, clock())
            outcome.inputs.clear()  # a partial read of a withdrawn person is not used
            outcome.skipped = f"the pod refused the read of {url}; recorded as withdrawn"
        except solid_errors.SolidError as exc:
            outcome.inputs.clear()
            outcome.skipped = f"the pod could not be read: {exc}"
        log.info(
            "pulled",
            extra={
                "consent": consent.iri,
                "inputs": len(outcome.inputs),
                "skipped": outcome.skipped,
            },
        )
    return outcomes


def _members(cage: SolidClient, container: str) -> list[str]:
    found = []
    for entry in cage.walk(container, limit=MAX_MEMBERS):
        if not entry.is_container:
            found.append(entry.url)
    return sorted(found)
