"""Consent bound to the terms the person saw, on a real CSS.

The owner edits an active space (another purpose, runs that recur); the participants approve
again; the next run reads only the people who renewed under the new terms. Everyone else sees
"Needs your renewal" with what changed, and gets a notification where their profile names an
inbox.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from rdflib import Graph, URIRef

from connectors.solid import SolidClient
from connectors.solid import errors as solid_errors
from server import create_app
from server.consent.authority import RegistryAuthority, consents_for_run
from server.consent.give import give_consent
from server.consent.model import ConsentState, PodResource
from server.datacage.pull import pull
from server.services import services
from server.spaces.validation import check_space
from tests.support.consent_space import make_active_space
from tests.support.pod_sessions import with_pod_session
from vocab import AS

CUSTOMERS = b'<#me> <http://schema.org/email> "ana@example.org" .\n'
REQUEST = [{"kind": "path", "target": "contacts/customers.ttl", "description": "Customers"}]
ACL = "http://www.w3.org/ns/auth/acl#"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(make_user, tmp_path):
    owner, alice, bob, cage = (make_user(n) for n in ("owner", "alice", "bob", "cage"))
    app = create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": "http://localhost/",
            "DATA_DIR": str(tmp_path / "data"),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": cage.webid,
        }
    )
    for person in (alice, bob):
        person.client.put(person.pod + "contacts/customers.ttl", CUSTOMERS, "text/turtle")
    _give_inbox(alice)
    space = make_active_space(app, owner.webid, REQUEST)
    return app, space, owner, (alice, bob), cage


def _give_inbox(person) -> None:
    """An LDN inbox anyone may append to, named by the profile (`ldp:inbox`)."""
    inbox = person.pod + "inbox/"
    person.client.create_container(inbox)
    person.client.put(
        inbox + ".acl",
        f"""@prefix acl: <{ACL}>.
<#owner> a acl:Authorization; acl:agent <{person.webid}>; acl:accessTo <./>; acl:default <./>;
  acl:mode acl:Read, acl:Write, acl:Control.
<#anyone> a acl:Authorization; acl:agentClass <http://xmlns.com/foaf/0.1/Agent>;
  acl:accessTo <./>; acl:mode acl:Append.""",
        "text/turtle",
    )
    person.client.patch_sparql(
        person.pod + "profile/card",
        f"INSERT DATA {{ <{person.webid}> <http://www.w3.org/ns/ldp#inbox> <{inbox}> . }}",
    )


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


def edit_terms(app, space, owner):
    """The owner adds a purpose and makes runs recur; then approves the new terms again."""
    fields = check_space(
        name=space.name,
        description=space.description,
        purposes=["Marketing", "PersonalisedAdvertising"],
        legal_basis="Consent",
        retention="P90D",
        data_requests=REQUEST,
        recurring=True,
    )
    spaces = services(app).spaces
    edited = spaces.update(space.id, owner.webid, fields)
    assert edited.terms_digest != space.terms_digest
    return spaces.approve(space.id, owner.webid, edited.terms_digest)


def can_read(client: SolidClient, url: str) -> bool:
    try:
        client.get(url)
    except solid_errors.Forbidden:
        return False
    return True


def test_after_a_change_of_terms_a_run_reads_only_the_renewed_consents(world):
    app, space, owner, (alice, bob), cage = world
    clock, store = Clock(), services(app).consents
    give(app, space, alice, cage, clock)
    give(app, space, bob, cage, clock)

    space = edit_terms(app, space, owner)
    with app.app_context():
        run = services(app).runs.start(space.id, owner.webid)
    assert run.terms_digest == space.terms_digest
    planned = consents_for_run(store, space.iri, clock(), terms_digest=run.terms_digest)
    assert planned.included == []  # nobody saw the new terms yet: nobody's data is read
    assert {e.reason for e in planned.excluded} == {
        "the consent was given under earlier terms and awaits renewal"
    }

    renewed = give(app, space, alice, cage, clock)  # one consent flow, no withdrawal first
    assert renewed.number == 2
    assert renewed.terms_digest == run.terms_digest
    history = store.history(space.iri, alice.webid)
    assert [c.state for c in history.consents] == [ConsentState.WITHDRAWN, ConsentState.GIVEN]
    assert history.consents[0].withdrawal_reason.startswith("Renewed")
    assert history.consents[0].grant_removed_at is not None  # its own grant left the pod

    planned = consents_for_run(store, space.iri, clock(), terms_digest=run.terms_digest)
    assert [c.subject for c in planned.included] == [alice.webid]
    [excluded] = planned.excluded
    assert excluded.consent.subject == bob.webid
    outcomes = pull(
        cage.client, RegistryAuthority(store, clock), planned.included, allow_plain_http=True
    )
    assert [o.consent.subject for o in outcomes] == [alice.webid]
    assert [i.url for i in outcomes[0].inputs] == [alice.pod + "contacts/customers.ttl"]
    assert can_read(cage.client, alice.pod + "contacts/customers.ttl")  # the renewal's grant


def test_a_consent_read_earlier_in_a_run_stops_counting_once_the_terms_change(world):
    """A run planned before the edit re-reads the record before each pull: the digest of the
    consent it holds still matches its own, but the person's record is what counts."""
    app, space, owner, (alice, _bob), cage = world
    clock, store = Clock(), services(app).consents
    give(app, space, alice, cage, clock)
    old_run = consents_for_run(store, space.iri, clock(), terms_digest=space.terms_digest)
    space = edit_terms(app, space, owner)
    give(app, space, alice, cage, clock)  # renewed: the old consent is replaced
    outcomes = pull(
        cage.client, RegistryAuthority(store, clock), old_run.included, allow_plain_http=True
    )
    assert outcomes[0].inputs == []  # the consent it planned with no longer counts


def test_my_data_says_needs_your_renewal_with_what_changed_and_the_inbox_is_told(world):
    app, space, owner, (alice, bob), cage = world
    clock = Clock()
    give(app, space, alice, cage, clock)
    give(app, space, bob, cage, clock)
    edit_terms(app, space, owner)

    # Alice's profile names an inbox: the notice is there, naming the space and My data.
    inbox = alice.pod + "inbox/"
    [notice_url] = [m.url for m in alice.client.list_container(inbox)]
    notice, _ = alice.client.get_graph(notice_url)
    assert isinstance(notice, Graph)
    assert (None, AS.object, URIRef(space.iri)) in notice
    assert (None, AS.url, URIRef("http://localhost/my-data")) in notice
    assert not bob.client.exists(bob.pod + "inbox/")  # no inbox named: no notice, no error

    client = app.test_client()
    with client.session_transaction() as session:
        session.update(webid=bob.webid, signed_in_at=time.time(), csrf_token="t")
    page = client.get("/my-data").text
    assert "Needs your renewal" in page
    assert "Marketing, Personalised advertising" in page  # the purposes now
    assert "repeatedly, reading your data again at each run" in page  # recurrence changed
    assert f"/spaces/{space.id}/join" in page  # renew: one consent flow
    assert "Not checked: this page has no session with your pod" in page


def test_renewing_through_the_consent_page_and_checking_the_pod(world):
    app, space, owner, (_alice, bob), cage = world
    give(app, space, bob, cage, Clock())
    space = edit_terms(app, space, owner)
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(webid=bob.webid, signed_in_at=time.time(), csrf_token="t")
    with_pod_session(app, client, bob)
    shown = client.get(f"/spaces/{space.id}/consent").text
    assert "This renews your consent under new terms" in shown
    assert "repeatedly, reading your data again at each run" in shown  # what changed
    answered = client.post(
        f"/spaces/{space.id}/consent",
        data={
            "csrf_token": "t",
            "answer": "accept",
            "terms_digest": space.terms_digest,
            "resource": bob.pod + "contacts/customers.ttl",
        },
    )
    assert answered.status_code == 303
    with app.app_context():
        history = services(app).consents.history(space.iri, bob.webid)
    assert [c.state for c in history.consents] == [ConsentState.WITHDRAWN, ConsentState.GIVEN]
    page = client.get("/my-data").text
    assert "Needs your renewal" not in page
    assert "Renewed: replaced by your consent" in page

    # Check my pod: with the person's own session, the access list is read and compared.
    with_pod_session(app, client, bob)
    with client.session_transaction() as session:
        session["checking_pod"] = "1"
    page = client.get("/my-data").text
    assert "by this consent's own entry" in page
    assert "Your pod differs from our record" not in page
    # The person takes the grant back in their pod by hand: the page says the pod differs.
    bob.client.access_control(bob.pod + "contacts/customers.ttl").revoke(cage.webid)
    with_pod_session(app, client, bob)
    with client.session_transaction() as session:
        session["checking_pod"] = "1"
    page = client.get("/my-data").text
    assert "Your pod differs from our record" in page
    assert "Not checked" not in page
