"""The individual's pages refuse bad input with a clear page and leave nothing half-done.

A Flask test client stands in for the browser; WebID profiles, identity providers and pods are
the real CSS. A person's pod session is made from their client-credentials token and DPoP key,
exactly as the sign-in callback keeps it.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from server import create_app
from server.consent.model import ConsentState
from server.services import services
from tests.support.consent_space import make_active_space
from tests.support.pod_sessions import (
    with_pod_session,
)

REQUESTS = [
    {"kind": "path", "target": "contacts/customers.ttl", "description": "Your customer record"}
]
CUSTOMERS = b'<#me> <http://schema.org/email> "ana@example.org" .\n'


@pytest.fixture
def setup(make_user, tmp_path):
    owner, person, cage = make_user("owner"), make_user("person"), make_user("cage")
    app = create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": "http://localhost/",
            "DATA_DIR": str(tmp_path / "data"),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": cage.webid,
        }
    )
    person.client.put(person.pod + "contacts/customers.ttl", CUSTOMERS, "text/turtle")
    space = make_active_space(app, owner.webid, REQUESTS)
    return app, space, person, cage


def browser(app, webid: str | None = None):
    client = app.test_client()
    with client.session_transaction() as session:
        session["csrf_token"] = "t"
        if webid:
            session.update(webid=webid, signed_in_at=time.time())
    return client


def post(client, path: str, **form):
    return client.post(path, data={"csrf_token": "t", **form})


def test_the_invitation_is_public_and_a_qr_code_carries_its_link(setup):
    app, space, _, _ = setup
    page = app.test_client().get(f"/spaces/{space.id}/join")
    assert page.status_code == 200
    assert space.algorithm.digest in page.text
    qr = app.test_client().get(f"/spaces/{space.id}/join/qr.svg")
    assert qr.mimetype == "image/svg+xml"
    assert qr.data.startswith(b"<?xml") or b"<svg" in qr.data[:200]


def test_a_space_not_yet_active_says_it_takes_no_consent(setup, make_user):
    app, space, person, _ = setup
    services(app).spaces.close(space.id, space.owner)
    page = app.test_client().get(f"/spaces/{space.id}/join")
    assert page.status_code == 409
    assert "takes no more consent" in page.text
    refused = post(browser(app), f"/spaces/{space.id}/join", webid=person.webid)
    assert refused.status_code == 409


def test_a_webid_that_does_not_resolve_is_named_as_such(setup, css):
    app, space, _, _ = setup
    page = post(browser(app), f"/spaces/{space.id}/join", webid=css.base_url + "nobody/card#me")
    assert page.status_code == 422
    assert "could not read the profile of this WebID" in page.text


def test_a_webid_without_an_identity_provider_is_named_as_such(setup):
    app, space, person, _ = setup
    profile = person.pod + "public/me.ttl"
    person.client.put(profile, "<#me> a <http://xmlns.com/foaf/0.1/Person> .", "text/turtle")
    _make_public(person, profile)
    page = post(browser(app), f"/spaces/{space.id}/join", webid=profile + "#me")
    assert page.status_code == 422
    assert "names no identity provider" in page.text


def test_an_identity_provider_that_fails_discovery_is_named_as_such(setup):
    app, space, person, _ = setup
    profile = person.pod + "public/me.ttl"
    person.client.put(
        profile,
        "<#me> <http://www.w3.org/ns/solid/terms#oidcIssuer> <http://localhost:9/> .",
        "text/turtle",
    )
    _make_public(person, profile)
    page = post(browser(app), f"/spaces/{space.id}/join", webid=profile + "#me")
    assert page.status_code == 422
    assert "could not reach your identity provider" in page.text


def test_the_redirect_goes_to_the_persons_own_provider_with_pkce(setup):
    app, space, person, _ = setup
    sent = post(browser(app), f"/spaces/{space.id}/join", webid=person.webid)
    assert sent.status_code == 303
    target = urlsplit(sent.location)
    query = parse_qs(target.query)
    assert sent.location.startswith(person.credentials.issuer)
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["openid webid"]  # no refresh token for a one-off space


def test_a_callback_with_a_wrong_state_or_replayed_is_refused_and_keeps_nothing(setup):
    app, space, person, _ = setup
    client = browser(app)
    post(client, f"/spaces/{space.id}/join", webid=person.webid)
    wrong = client.get("/login/callback?state=not-ours&code=abc")
    assert wrong.status_code == 400
    assert "not the one we started" in wrong.text
    replay = client.get("/login/callback?state=not-ours&code=abc")
    assert replay.status_code == 400
    assert "already been used" in replay.text
    with client.session_transaction() as session:
        assert "pod_flow" not in session
        assert "webid" not in session


def test_a_callback_whose_pkce_verifier_is_missing_is_refused(setup):
    app, space, person, _ = setup
    client = browser(app)
    post(client, f"/spaces/{space.id}/join", webid=person.webid)
    with client.session_transaction() as session:
        pending = session["pending_login"]
        del pending["code_verifier"]
        session["pending_login"] = pending
        state = pending["state"]
    page = client.get(f"/login/callback?state={state}&code=abc")
    assert page.status_code == 400
    assert "stored state is incomplete" in page.text


def test_the_consent_page_needs_a_sign_in_for_consent(setup):
    app, space, person, _ = setup
    page = browser(app, person.webid).get(f"/spaces/{space.id}/consent")
    assert page.status_code == 409
    assert "start from the invitation page" in page.text


def test_declining_grants_nothing_records_nothing_and_forgets_the_tokens(setup):
    app, space, person, cage = setup
    client = browser(app, person.webid)
    with_pod_session(app, client, person)
    shown = client.get(f"/spaces/{space.id}/consent")
    assert shown.status_code == 200
    assert "ana@example.org" in shown.text
    declined = post(client, f"/spaces/{space.id}/consent", answer="decline")
    assert "Nothing was read, granted or recorded" in declined.text
    with app.app_context():
        assert services(app).pod_sessions.get("flow-1") is None
        assert services(app).consents.history(space.iri, person.webid).consents == []
    assert _cage_modes(person, cage) == set()


def test_accepting_what_was_not_shown_is_refused(setup):
    app, space, person, cage = setup
    client = browser(app, person.webid)
    with_pod_session(app, client, person)
    page = post(
        client,
        f"/spaces/{space.id}/consent",
        answer="accept",
        terms_digest=space.terms_digest,
        resource=person.pod + "contacts/",  # more than the page offered
    )
    assert page.status_code == 409
    assert "changed since the page was shown" in page.text
    assert _cage_modes(person, cage) == set()


def test_accepting_then_withdrawing_through_the_pages(setup):
    app, space, person, cage = setup
    client = browser(app, person.webid)
    with_pod_session(app, client, person)
    accepted = post(
        client,
        f"/spaces/{space.id}/consent",
        answer="accept",
        terms_digest=space.terms_digest,
        resource=person.pod + "contacts/customers.ttl",
    )
    assert accepted.status_code == 303
    assert _cage_modes(person, cage) == {"Read"}
    with app.app_context():
        assert services(app).pod_sessions.get("flow-1") is None  # tokens gone after the flow
        [history] = services(app).consents.of_subject(person.webid)
    mine = client.get("/my-data")
    assert "your consent to Common customers is recorded" in mine.text
    consent = history.consents[0]
    withdrawn = post(client, f"/my-data/consents/{consent.key}/withdraw")
    # Not recurring, so no token was kept: the person is sent to sign in to clean their pod.
    assert withdrawn.status_code == 303
    assert withdrawn.location.startswith(person.credentials.issuer)
    with app.app_context():
        stored = services(app).consents.history(space.iri, person.webid).consents[0]
    assert stored.state is ConsentState.WITHDRAWN  # the registry at once, before the pod
    mine = client.get("/my-data")
    assert "Remove access from my pod" in mine.text


def _cage_modes(person, cage) -> set[str]:
    control = person.client.access_control(person.pod + "contacts/customers.ttl")
    return {mode.value for mode in control.agent_modes(cage.webid)}


def _make_public(person, url: str) -> None:
    person.client.put(
        url + ".acl",
        f"""@prefix acl: <http://www.w3.org/ns/auth/acl#>.
<#owner> a acl:Authorization; acl:agent <{person.webid}>; acl:accessTo <{url}>;
  acl:mode acl:Read, acl:Write, acl:Control.
<#public> a acl:Authorization; acl:agentClass <http://xmlns.com/foaf/0.1/Agent>;
  acl:accessTo <{url}>; acl:mode acl:Read.""",
        "text/turtle",
    )


def test_participants_find_the_invitation_link_and_counts_but_not_who_consented(setup):
    app, space, person, _ = setup
    client = browser(app, person.webid)
    with_pod_session(app, client, person)
    post(
        client,
        f"/spaces/{space.id}/consent",
        answer="accept",
        terms_digest=space.terms_digest,
        resource=person.pod + "contacts/customers.ttl",
    )
    overview = browser(app, space.owner).get(f"/spaces/{space.id}")
    assert f"/spaces/{space.id}/join" in overview.text
    assert "Given: 1" in overview.text
    assert person.webid not in overview.text


def test_the_api_lists_a_persons_consents_and_withdraws_one(setup):
    app, space, person, _cage = setup
    client = browser(app, person.webid)
    with_pod_session(app, client, person)
    post(
        client,
        f"/spaces/{space.id}/consent",
        answer="accept",
        terms_digest=space.terms_digest,
        resource=person.pod + "contacts/customers.ttl",
    )
    listed = client.get("/api/consents").get_json()["consents"]
    assert [(c["state"], c["access_system"]) for c in listed] == [("given", "WAC")]
    assert listed[0]["resources"] == [
        {"url": person.pod + "contacts/customers.ttl", "container": False}
    ]
    assert browser(app, space.owner).get("/api/consents").get_json() == {"consents": []}
    stranger = browser(app, space.owner).post(
        f"/api/consents/{listed[0]['key']}/withdraw", headers={"X-CSRF-Token": "t"}
    )
    assert stranger.status_code == 404  # someone else's consent does not exist for them
    answer = client.post(
        f"/api/consents/{listed[0]['key']}/withdraw", headers={"X-CSRF-Token": "t"}
    )
    assert answer.status_code == 200
    assert answer.get_json()["state"] == "withdrawn"
    assert answer.get_json()["grant_may_remain"] is True


def test_a_consent_iri_answers_its_subject_with_the_record_and_nobody_else(setup):
    app, space, person, _ = setup
    client = browser(app, person.webid)
    with_pod_session(app, client, person)
    post(
        client,
        f"/spaces/{space.id}/consent",
        answer="accept",
        terms_digest=space.terms_digest,
        resource=person.pod + "contacts/customers.ttl",
    )
    [consent] = client.get("/api/consents").get_json()["consents"]
    path = urlsplit(consent["iri"]).path
    turtle = client.get(path, headers={"Accept": "text/turtle"})
    assert turtle.mimetype == "text/turtle"
    assert "dpv:ConsentGiven" in turtle.text
    assert client.get(path).status_code == 303  # a browser goes to My data
    assert browser(app, space.owner).get(path, headers={"Accept": "text/turtle"}).status_code == 404
    assert app.test_client().get(path).status_code in (303, 401)  # signed out: sign in first
