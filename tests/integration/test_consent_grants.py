"""Grants that follow consents, on real CSS pods with WAC and with ACP.

Two spaces reading the same file hold a grant each: withdrawing (or expiring) one consent
takes out that consent's access alone, and the other space's next read still succeeds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.solid import AccessMode, SolidClient
from connectors.solid import errors as solid_errors
from server import create_app
from server.consent.authority import RegistryAuthority, consents_for_run
from server.consent.give import give_consent
from server.consent.model import ConsentState, PodResource
from server.consent.withdraw import mark_withdrawn, remove_from_pod
from server.datacage.pull import pull
from server.services import services
from tests.support.consent_space import make_active_space

CUSTOMERS = b'<#me> <http://schema.org/email> "ana@example.org" .\n'
REQUEST = [{"kind": "path", "target": "contacts/customers.ttl", "description": "Customers"}]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["WAC", "ACP"])
def two_spaces(request, tmp_path):
    factory = request.getfixturevalue("make_user" if request.param == "WAC" else "make_acp_user")
    owner, person, cage = factory("owner"), factory("person"), factory("cage")
    app = create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": "http://dc.example/",
            "DATA_DIR": str(tmp_path / "data"),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": cage.webid,
        }
    )
    person.client.put(person.pod + "contacts/customers.ttl", CUSTOMERS, "text/turtle")
    common = make_active_space(app, owner.webid, REQUEST, name="Common customers")
    joint = make_active_space(app, owner.webid, REQUEST, name="Joint statistics")
    return request.param, app, (common, joint), person, cage


def give(app, space, person, cage, clock):
    return give_consent(
        services(app).consents,
        space,
        person.client,
        grantee=cage.webid,
        resources=[PodResource(person.pod + "contacts/customers.ttl")],
        storage=person.pod,
        clock=clock,
    )


def can_read(client: SolidClient, url: str) -> bool:
    try:
        client.get(url)
    except solid_errors.Forbidden:
        return False
    return True


def test_withdrawing_one_consent_leaves_the_other_spaces_read_in_place(two_spaces):
    system, app, (common, joint), person, cage = two_spaces
    clock, store = Clock(), services(app).consents
    url = person.pod + "contacts/customers.ttl"
    kept = give(app, common, person, cage, clock)
    dropped = give(app, joint, person, cage, clock)
    assert kept.access_system == dropped.access_system == system

    dropped = mark_withdrawn(store, dropped, reason="You withdrew it.", now=clock())
    assert remove_from_pod(store, person.client, dropped, clock) == []

    assert can_read(cage.client, url)  # Common customers still holds its own grant
    control = person.client.access_control(url)
    assert control.labelled_modes(cage.webid, kept.iri) == {AccessMode.READ}
    assert control.labelled_modes(cage.webid, dropped.iri) == frozenset()
    run = consents_for_run(store, common.iri, clock(), terms_digest=common.terms_digest)
    [outcome] = pull(
        cage.client, RegistryAuthority(store, clock), run.included, allow_plain_http=True
    )
    assert [i.url for i in outcome.inputs] == [url]  # the next run reads: no false withdrawal
    assert store.history(common.iri, person.webid).consents[-1].state is ConsentState.GIVEN

    kept = mark_withdrawn(store, kept, reason="You withdrew it.", now=clock())
    assert remove_from_pod(store, person.client, kept, clock) == []
    assert not can_read(cage.client, url)  # the last consent gone, so is every Read


def test_an_expiring_consent_leaves_the_other_spaces_read_in_place(two_spaces):
    """What the expiry sweep does with a kept sign-in (`expire_consents`): mark it expired,
    then take its grants out with the person's session (here their client credentials)."""
    _system, app, (common, joint), person, cage = two_spaces
    clock, store = Clock(), services(app).consents
    url = person.pod + "contacts/customers.ttl"
    give(app, common, person, cage, clock)
    old = give(app, joint, person, cage, lambda: clock() - timedelta(days=366))
    old = mark_withdrawn(
        store, old, reason="The consent period ended.", now=clock(), state=ConsentState.EXPIRED
    )
    assert remove_from_pod(store, person.client, old, clock) == []
    assert can_read(cage.client, url)
    assert [c.space_iri for c in store.in_force(common.iri, clock())] == [common.iri]


def test_a_legacy_shared_grant_stays_while_another_consent_needs_it(two_spaces):
    """Grants written before labels existed are one entry for both consents: withdrawing one
    keeps it (another live consent reads the file); withdrawing both removes it."""
    _system, app, (common, joint), person, cage = two_spaces
    clock, store = Clock(), services(app).consents
    url = person.pod + "contacts/customers.ttl"
    first = give(app, common, person, cage, clock)
    second = give(app, joint, person, cage, clock)
    control = person.client.access_control(url)
    for consent in (first, second):  # as the old code left them: one unlabelled grant
        control.revoke(cage.webid, [AccessMode.READ], label=consent.iri)
    control.grant(cage.webid, [AccessMode.READ])
    assert can_read(cage.client, url)

    second = mark_withdrawn(store, second, reason="You withdrew it.", now=clock())
    assert remove_from_pod(store, person.client, second, clock) == []
    assert can_read(cage.client, url)
    first = mark_withdrawn(store, first, reason="You withdrew it.", now=clock())
    assert remove_from_pod(store, person.client, first, clock) == []
    assert not can_read(cage.client, url)


def test_a_folder_consent_and_a_file_consent_inside_it_end_independently(request, tmp_path):
    """WAC copies a folder's inherited grants into a member's first own access list (here made
    by a second consent on one file in it). Withdrawing the file consent must keep the folder
    consent's copy there (or the folder's next run is refused for that file); withdrawing the
    folder consent must then take the copy out (or the datacage keeps reading the file)."""
    owner, person, cage = (request.getfixturevalue("make_user")(n) for n in "opc")
    app = create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": "http://dc.example/",
            "DATA_DIR": str(tmp_path / "data"),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": cage.webid,
        }
    )
    orders, other = person.pod + "shop/orders.csv", person.pod + "shop/other.csv"
    person.client.put(orders, b"order\n1\n", "text/csv")
    person.client.put(other, b"order\n2\n", "text/csv")
    folder_space = make_active_space(
        app, owner.webid, [{"kind": "path", "target": "shop/", "description": "Shop"}]
    )
    file_space = make_active_space(
        app,
        owner.webid,
        [{"kind": "path", "target": "shop/orders.csv", "description": "Orders"}],
        name="Orders only",
    )
    clock, store = Clock(), services(app).consents

    def consent(space, resource):
        return give_consent(
            store,
            space,
            person.client,
            grantee=cage.webid,
            resources=[resource],
            storage=person.pod,
            clock=clock,
        )

    whole = consent(folder_space, PodResource(person.pod + "shop/", is_container=True))
    one = consent(file_space, PodResource(orders))
    one = mark_withdrawn(store, one, reason="You withdrew it.", now=clock())
    assert remove_from_pod(store, person.client, one, clock) == []
    assert can_read(cage.client, orders)  # the folder consent still covers it
    whole = mark_withdrawn(store, whole, reason="You withdrew it.", now=clock())
    assert remove_from_pod(store, person.client, whole, clock) == []
    assert not can_read(cage.client, other)
    assert not can_read(cage.client, orders)  # no copy of the folder's grant stayed behind
