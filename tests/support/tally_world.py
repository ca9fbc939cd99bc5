"""People giving and withdrawing consents in one space, straight through the consent store: the
world the registry's counter and in-force-index tests share."""

from __future__ import annotations

from datetime import UTC, datetime

from server.consent.model import Consent, ConsentHistory, ConsentState, PodResource
from server.consent.store import ConsentStore
from server.registry import EmbeddedRegistry, Registry, RegistryError

PUBLIC = "https://dc.example/"
SPACE = PUBLIC + "spaces/abc"
NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def webid(n: int) -> str:
    return f"https://p{n}.example/profile/card#me"


def new_consent(history: ConsentHistory, given: datetime, ends: datetime) -> Consent:
    number = history.next_number
    return Consent(
        iri=f"{history.iri}/{number}",
        number=number,
        space_iri=SPACE,
        space_id="abc",
        space_name="Common customers",
        subject=history.subject,
        grantee="https://cage.example/profile/card#me",
        resources=(PodResource(f"https://p{number}.example/a.ttl"),),
        purposes=("https://w3id.org/dpv#Marketing",),
        legal_basis="https://w3id.org/dpv#Consent",
        controller="https://shop.example/profile/card#me",
        consumers=("https://insights.example/profile/card#me",),
        algorithm_digest="sha256:" + "1" * 64,
        terms_digest="sha256:" + "2" * 64,
        recurring=False,
        started_at=given,
        expires_at=ends,
        state=ConsentState.GIVEN,
        given_at=given,
    )


def give(store: ConsentStore, n: int, given: datetime, ends: datetime) -> None:
    store.change(SPACE, webid(n), lambda h: h.consents.append(new_consent(h, given, ends)))


def withdraw(store: ConsentStore, n: int, at: datetime) -> None:
    def change(history: ConsentHistory) -> None:
        if history.consents and history.consents[-1].state is ConsentState.GIVEN:
            history.consents[-1].state = ConsentState.WITHDRAWN
            history.consents[-1].withdrawn_at = at

    store.change(SPACE, webid(n), change)


class TwoStepRegistry(EmbeddedRegistry):
    """A back end with only the contract's default `write_counted` (record, then counters),
    which can crash in between."""

    crash = False

    def write(self, name, graph, *, expected_revision):
        return super().write_counted(name, graph, expected_revision=expected_revision, deltas={})

    def write_counted(self, name, graph, *, expected_revision, deltas):
        return Registry.write_counted(
            self, name, graph, expected_revision=expected_revision, deltas=deltas
        )

    def execute_update(self, update: str) -> None:
        if self.crash:
            raise RegistryError("crashed between the record and its counters")
        super().execute_update(update)
