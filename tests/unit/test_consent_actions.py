"""Consent goes through one action per view (`server.consent.actions`), as spaces do.

The views only parse, call one action and render: a view that runs the "what you saw is what
you grant" check, gives consent, marks a withdrawal or builds a pod client from a kept token
itself is a second copy of a rule, and the copies drift. The rules themselves are tested here
through the actions, over a real (in-memory) registry; the flows through a real pod are in
tests/integration/test_consent_*.py.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.consent.actions import ClosedToConsent, ConsentActions, Removal
from server.consent.model import Consent, ConsentHistory, ConsentState, PodResource
from server.consent.rdf import history_iri
from server.consent.store import ConsentStore
from server.consent.vault import TokenVault
from server.errors import NotFound, WrongState
from server.registry import open_registry
from server.spaces.model import SpaceStatus

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "https://dc.example/"
SPACE = "https://dc.example/spaces/s1"
ALICE = "https://alice.example/profile/card#me"
BOB = "https://bob.example/profile/card#me"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

#: The work a consent view must leave to `server.consent.actions`.
WORK = {
    "give_consent",
    "mark_withdrawn",
    "remove_from_pod",
    "find_requested",
    "storage_of",
    "check_consent",
    "SolidSession",
    "fetch_webid_profile",
}
VIEWS = ["server/web/consent.py", "server/web/my_data.py", "server/web/api.py"]


@pytest.mark.parametrize("view", VIEWS)
def test_consent_views_leave_the_work_to_the_actions(view):
    tree = ast.parse((ROOT / view).read_text())
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported & WORK == set(), f"{view} does consent work itself"
    # Nor does a view reach into the token vault: keeping and using tokens is the actions'.
    vault = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "vault"
    ]
    assert vault == [], f"{view} uses the token vault itself (lines {vault})"


@pytest.fixture
def store():
    with open_registry(path=":memory:") as registry:
        yield ConsentStore(lambda: registry, PUBLIC)


def actions(store, tmp_path, *, datacage: str = "https://cage.example/profile/card#me"):
    def no_provider(issuer: str):
        raise AssertionError("no sign-in expected")

    return ConsentActions(
        store,
        TokenVault(tmp_path),
        http=None,  # type: ignore[arg-type]  # no test here reaches the network
        issuer_metadata=no_provider,
        datacage_webid=lambda: datacage,
        clock=lambda: NOW,
    )


def given(store, subject: str = ALICE, **changes) -> Consent:
    history = ConsentHistory(history_iri(PUBLIC, SPACE, subject), SPACE, subject)
    made = Consent(
        iri=f"{history.iri}/1",
        number=1,
        space_iri=SPACE,
        space_id="s1",
        space_name="Survey",
        subject=subject,
        grantee="https://cage.example/profile/card#me",
        resources=(PodResource("https://alice.example/shop/orders.csv"),),
        purposes=("https://w3id.org/dpv#Marketing",),
        legal_basis="https://w3id.org/dpv#Consent",
        controller="https://owner.example/profile/card#me",
        consumers=(),
        algorithm_digest="sha256:" + "c" * 64,
        terms_digest="sha256:" + "a" * 64,
        recurring=False,
        started_at=NOW - timedelta(days=3),
        expires_at=NOW + timedelta(days=30),
        state=ConsentState.GIVEN,
        given_at=NOW - timedelta(days=3),
    )
    history.consents.append(replace(made, **changes))
    store.write(history)
    return history.consents[0]


def test_withdraw_stops_the_consent_counting_and_is_the_subjects_alone(store, tmp_path):
    consent = given(store)
    done = actions(store, tmp_path)
    with pytest.raises(NotFound):
        done.withdraw(consent.key, BOB)
    assert store.find(consent.key, ALICE)[1].counts_at(NOW)  # Bob changed nothing
    withdrawn = done.withdraw(consent.key, ALICE)
    assert withdrawn.consent.state is ConsentState.WITHDRAWN
    assert withdrawn.consent.withdrawal_reason == "You withdrew it."
    assert withdrawn.removal is None  # the API's withdrawal does not touch the pod
    assert not store.find(consent.key, ALICE)[1].counts_at(NOW)


def test_withdrawing_with_no_grant_in_the_pod_has_nothing_to_clean(store, tmp_path):
    consent = given(store, access_system="")  # never granted in the pod
    withdrawn = actions(store, tmp_path).withdraw(consent.key, ALICE, clean_pod=True)
    assert withdrawn.removal == Removal()  # not attempted, no sign-in asked for


def test_a_grant_is_not_removed_while_its_consent_still_counts(store, tmp_path):
    consent = given(store, access_system="WAC")
    with pytest.raises(WrongState, match="still counts"):
        actions(store, tmp_path).remove_grant(consent.key, ALICE)


def test_a_space_that_is_not_open_or_has_no_datacage_takes_no_consent(store, tmp_path):
    class Space:
        status = SpaceStatus.ACTIVE

    assert actions(store, tmp_path).why_closed(Space()) is None  # type: ignore[arg-type]
    assert "no datacage" in actions(store, tmp_path, datacage="").why_closed(Space())  # type: ignore[arg-type,operator]
    Space.status = SpaceStatus.CLOSED
    with pytest.raises(ClosedToConsent, match="closed"):
        actions(store, tmp_path).accept(Space(), None, terms_digest="", resources=[])  # type: ignore[arg-type]
