"""Giving and withdrawing consent against a real CSS: all or nothing, and never twice at once.

The person's side runs with their own DPoP-bound session (client credentials stand in for the
browser sign-in, which tests/browser/test_consent_in_browser.py drives); the datacage reads as
itself. Each case checks the pod, the receipt and the registry, not just the answer.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from connectors.solid import SolidClient, SolidSession
from connectors.solid import errors as solid_errors
from server import create_app
from server.consent.authority import RegistryAuthority, consents_for_run
from server.consent.give import _reserve, give_consent
from server.consent.model import ConsentState, PodResource
from server.consent.resolve import find_requested, storage_of
from server.consent.usage import record_use, uses_of
from server.datacage.pull import pull
from server.errors import PodRefused, WrongState
from server.services import services
from tests.support.consent_space import make_active_space

CUSTOMERS = b'<#me> <http://schema.org/email> "ana@example.org" .\n'
REQUESTS = [
    {"kind": "path", "target": "contacts/customers.ttl", "description": "Your customer record"},
    {"kind": "path", "target": "shop/", "description": "Your shop folder"},
]
ACL = "http://www.w3.org/ns/auth/acl#"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(make_user, tmp_path):
    owner, person, cage = make_user("owner"), make_user("person"), make_user("cage")
    app = create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": "http://dc.example/",
            "DATA_DIR": str(tmp_path / "data"),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": cage.webid,
        }
    )
    pod = person.pod
    person.client.put(pod + "contacts/customers.ttl", CUSTOMERS, "text/turtle")
    person.client.put(pod + "contacts/private.ttl", CUSTOMERS, "text/turtle")
    person.client.put(pod + "shop/orders.csv", b"order,amount\n1,2\n", "text/csv")
    space = make_active_space(app, owner.webid, REQUESTS)
    return app, space, person, cage


def resources_of(person) -> list[PodResource]:
    return [
        PodResource(person.pod + "contacts/customers.ttl"),
        PodResource(person.pod + "shop/", True),
    ]


def give(app, space, person, cage, clock, client=None):
    return give_consent(
        services(app).consents,
        space,
        client or person.client,
        grantee=cage.webid,
        resources=resources_of(person),
        storage=person.pod,
        clock=clock,
    )


def can_read(client: SolidClient, url: str) -> bool:
    try:
        client.get(url)
    except solid_errors.Forbidden:
        return False
    return True


def test_the_consent_page_finds_exactly_the_requested_resources_in_the_persons_pod(world):
    _app, space, person, _ = world
    found = find_requested(person.client, person.webid, space.terms.data_requests)
    assert [f.resource for f in found] == resources_of(person)
    assert "1 statements" in found[0].preview.summary
    assert found[1].preview.sample == ("orders.csv",)
    assert storage_of(person.client, person.webid) == person.pod


def test_a_missing_resource_is_shown_and_never_granted(world):
    _app, space, person, _ = world
    person.client.delete(person.pod + "contacts/customers.ttl")
    found = find_requested(person.client, person.webid, space.terms.data_requests)
    assert found[0].resource is None
    assert "Not in your pod" in found[0].problem
    assert [f.shareable for f in found] == [False, True]


def test_a_pod_that_refuses_the_acl_write_leaves_nothing_granted_or_recorded(world):
    app, space, person, cage = world
    # The person took their own Control off the shop folder: CSS will refuse our ACL edit there.
    shop_acl = person.pod + "shop/.acl"
    person.client.put(
        shop_acl,
        f"""@prefix acl: <{ACL}>.
<#owner> a acl:Authorization; acl:agent <{person.webid}>; acl:accessTo <./>; acl:default <./>;
  acl:mode acl:Read, acl:Write.""",
        "text/turtle",
    )
    with pytest.raises(PodRefused, match="Nothing was granted and nothing was recorded"):
        give(app, space, person, cage, Clock())
    datacage = cage.client
    assert not can_read(datacage, person.pod + "contacts/customers.ttl")  # rolled back
    assert not person.client.exists(person.pod + "consent-receipts/" + f"{space.id}-1.ttl")
    history = services(app).consents.history(space.iri, person.webid)
    assert history.consents == []


def test_a_receipt_that_cannot_be_written_rolls_the_grants_back(world):
    app, space, person, cage = world
    receipts = person.pod + "consent-receipts/"
    person.client.create_container(receipts)
    person.client.put(
        receipts + ".acl",
        f"""@prefix acl: <{ACL}>.
<#owner> a acl:Authorization; acl:agent <{person.webid}>; acl:accessTo <./>; acl:default <./>;
  acl:mode acl:Read, acl:Control.""",
        "text/turtle",
    )
    with pytest.raises(PodRefused, match="Nothing was granted"):
        give(app, space, person, cage, Clock())
    assert not can_read(cage.client, person.pod + "contacts/customers.ttl")
    assert not can_read(cage.client, person.pod + "shop/orders.csv")
    assert services(app).consents.history(space.iri, person.webid).consents == []


def test_two_consents_at_once_for_the_same_space_give_one_consent(world):
    app, space, person, cage = world
    outcomes: list[object] = []
    barrier = threading.Barrier(2)
    sessions = [
        SolidClient(
            SolidSession.from_client_credentials(
                person.credentials.issuer, person.credentials.id, person.credentials.secret
            )
        )
        for _ in range(2)
    ]

    def attempt(client):
        barrier.wait()
        try:
            outcomes.append(give(app, space, person, cage, Clock(), client))
        except (WrongState, PodRefused) as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=attempt, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1, outcomes
    assert "another window" in str(refused[0]) or "already consent" in str(refused[0])
    history = services(app).consents.history(space.iri, person.webid)
    assert [c.state for c in history.consents] == [ConsentState.GIVEN]
    assert can_read(cage.client, person.pod + "contacts/customers.ttl")


def test_a_flow_abandoned_mid_way_is_taken_over_and_its_grants_cleaned(world):
    app, space, person, cage = world
    clock = Clock()
    store = services(app).consents
    # A consent reserved 20 minutes ago, on other terms, whose tab was closed after its grant.
    private = person.pod + "contacts/private.ttl"
    store.change(
        space.iri,
        person.webid,
        lambda h: _reserve(
            h,
            space,
            person.webid,
            cage.webid,
            [PodResource(private)],
            clock() - timedelta(minutes=20),
        ),
    )
    person.client.access_control(private).grant(cage.webid, ["Read"])
    assert can_read(cage.client, private)
    consent = give(app, space, person, cage, clock)
    history = store.history(space.iri, person.webid)
    assert [c.state for c in history.consents] == [ConsentState.WITHDRAWN, ConsentState.GIVEN]
    assert history.consents[0].withdrawal_reason.startswith("It was never completed")
    assert consent.number == 2
    assert not can_read(cage.client, private)  # the abandoned flow's grant was taken back
    assert can_read(cage.client, person.pod + "contacts/customers.ttl")


def test_an_expired_consent_is_excluded_from_a_run_and_a_refused_read_counts_as_withdrawal(
    world, make_user
):
    app, space, person, cage = world
    clock = Clock()
    store = services(app).consents
    give(app, space, person, cage, clock)
    other = make_user("other")
    other.client.put(other.pod + "contacts/customers.ttl", CUSTOMERS, "text/turtle")
    other.client.put(other.pod + "shop/orders.csv", b"order\n9\n", "text/csv")
    give_consent(
        store,
        space,
        other.client,
        grantee=cage.webid,
        resources=resources_of(other),
        storage=other.pod,
        clock=lambda: clock() - timedelta(days=366),  # given more than the year it lasts
    )

    run = consents_for_run(store, space.iri, clock(), terms_digest=space.terms_digest)
    assert [c.subject for c in run.included] == [person.webid]
    assert [e.consent.subject for e in run.excluded] == [other.webid]
    assert "expired" in run.excluded[0].reason

    outcomes = pull(
        cage.client, RegistryAuthority(store, clock), run.included, allow_plain_http=True
    )
    assert [i.url for i in outcomes[0].inputs] == [
        person.pod + "contacts/customers.ttl",
        person.pod + "shop/orders.csv",
    ]
    assert all(i.version for i in outcomes[0].inputs)
    record_use(
        services(app).registry,
        "http://dc.example/runs/r1",
        run.included[0],
        outcomes[0].reads,
        clock(),
        space.algorithm.digest,
    )
    [use] = uses_of(services(app).registry, person.webid)
    assert [r.url for r in use.reads] == [i.url for i in outcomes[0].inputs]

    # The person takes the grant back in their pod, outside this server: the next pull sees 403,
    # records a withdrawal, and the run after that no longer includes them.
    person.client.access_control(person.pod + "contacts/customers.ttl").revoke(cage.webid)
    outcomes = pull(
        cage.client, RegistryAuthority(store, clock), run.included, allow_plain_http=True
    )
    assert outcomes[0].inputs == []
    assert "refused" in outcomes[0].skipped
    history = store.history(space.iri, person.webid)
    assert history.consents[-1].state is ConsentState.WITHDRAWN
    assert "refused" in history.consents[-1].withdrawal_reason
    assert (
        consents_for_run(store, space.iri, clock(), terms_digest=space.terms_digest).included == []
    )


def test_a_request_for_a_kind_of_data_is_found_through_the_persons_type_index(make_user, tmp_path):
    owner, person, cage = make_user("owner"), make_user("person"), make_user("cage")
    app = create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": "http://dc.example/",
            "DATA_DIR": str(tmp_path / "data"),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": cage.webid,
        }
    )
    pod = person.pod
    person.client.put(pod + "orders/2026-01.csv", b"order,amount\n1,2\n", "text/csv")
    index = pod + "settings/publicTypeIndex.ttl"
    person.client.put(
        index,
        """@prefix solid: <http://www.w3.org/ns/solid/terms#>.
<#orders> a solid:TypeRegistration; solid:forClass <http://schema.org/Order>;
    solid:instanceContainer <../orders/>.""",
        "text/turtle",
    )
    person.client.patch_sparql(
        pod + "profile/card",
        f"INSERT DATA {{ <{person.webid}> <http://www.w3.org/ns/solid/terms#publicTypeIndex> "
        f"<{index}> . }}",
    )
    space = make_active_space(
        app,
        owner.webid,
        [{"kind": "class", "target": "http://schema.org/Order", "description": "Your orders"}],
    )
    [found] = find_requested(person.client, person.webid, space.terms.data_requests)
    assert found.resource == PodResource(pod + "orders/", is_container=True)
    assert found.preview.sample == ("2026-01.csv",)
    give_consent(
        services(app).consents,
        space,
        person.client,
        grantee=cage.webid,
        resources=[found.resource],
        storage=pod,
        clock=Clock(),
    )
    assert can_read(cage.client, pod + "orders/2026-01.csv")  # members of the folder, as shown
    assert not can_read(cage.client, index)
