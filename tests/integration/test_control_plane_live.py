"""The control plane served for real, called by real Solid clients and a plain HTTP client.

- Organisations' scripts call the JSON API with DPoP-bound tokens from the real CSS: the
  whole flow, and the refusals (403 stranger, 409 wrong transition, 422 invalid input).
- Spaces, algorithms and approvals are dereferenceable as Turtle and JSON-LD.
- A tampered session cookie and a forged form post change nothing and say why.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rdflib import Graph, URIRef

from server import create_app
from server.algorithms import build_bundle
from tests.support.live_server import serve_wsgi
from vocab import DCG, RDF

SECRET = "k" * 64
BUNDLE = build_bundle(Path(__file__).parents[1] / "fixtures" / "bundles" / "common-customers")
SPACE = {
    "name": "Common customers",
    "description": "Customers two shops share.",
    "purposes": ["Marketing"],
    "legal_basis": "Consent",
    "retention": "P30D",
    "data_requests": [{"kind": "path", "target": "customers.ttl", "description": "Customers"}],
}


@pytest.fixture
def control_plane(tmp_path: Path) -> Iterator[str]:
    config = {"DATA_DIR": str(tmp_path), "REGISTRY_PATH": ":memory:", "SECRET_KEY": SECRET}
    with serve_wsgi(build=lambda base: create_app({**config, "PUBLIC_URL": base})) as base:
        yield base


class Api:
    """One organisation's script: its own Solid identity, DPoP proofs on every call."""

    def __init__(self, base: str, user):
        self.base, self.user = base + "api/", user

    def __call__(self, method: str, path: str, body=None, content_type="application/json"):
        data = json.dumps(body) if content_type == "application/json" else body
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        response = self.user.session.request(method, self.base + path, headers=headers, data=data)
        response.body = response.json() if response.content else None
        return response


@pytest.fixture
def orgs(control_plane, make_user):
    return {name: Api(control_plane, make_user(name)) for name in ("owner", "coder", "buyer")}


def test_organisations_run_the_whole_flow_through_the_api_with_dpop_tokens(orgs, make_user):
    owner, coder, buyer = orgs["owner"], orgs["coder"], orgs["buyer"]
    assert owner("GET", "me").body == {"webid": owner.user.webid}

    created = owner("POST", "spaces", {**SPACE, "roles": ["data-provider"]})
    assert created.status_code == 201, created.body
    space = created.body
    path = f"spaces/{space['id']}"
    for api, role in ((coder, "code-provider"), (buyer, "data-consumer")):
        # The invitee's real WebID profile is read to check it names an identity provider.
        invited = owner("POST", f"{path}/invitations", {"webid": api.user.webid, "roles": [role]})
        assert invited.status_code == 201, invited.body
    for api in (coder, buyer):
        invitation = next(
            i for i in owner("GET", path).body["invitations"] if i["webid"] == api.user.webid
        )
        assert api("POST", f"{path}/invitations/{invitation['id']}/accept").status_code == 200

    stranger = Api(owner.base.removesuffix("api/"), make_user("stranger"))
    assert stranger("GET", path).status_code == 403
    assert stranger("POST", f"{path}/close").status_code == 403
    assert buyer("PUT", f"{path}/algorithm", BUNDLE, "application/zip").status_code == 403

    registered = coder("PUT", f"{path}/algorithm", BUNDLE, "application/zip")
    assert registered.status_code == 201, registered.body
    assert owner("POST", f"{path}/approvals", {"terms_digest": "x"}).status_code == 409
    digest = owner("POST", f"{path}/submit").body["terms_digest"]
    assert owner("POST", f"{path}/submit").status_code == 409
    for api in (owner, coder, buyer):
        assert api("POST", f"{path}/approvals", {"terms_digest": digest}).status_code == 200
    assert owner("GET", path).body["status"] == "active"

    bad = owner("PUT", path, {**SPACE, "purposes": ["Gossip"]})
    assert bad.status_code == 422
    assert "Gossip" in bad.body["errors"]["purposes"][0]
    assert owner("GET", path).body["status"] == "active"  # nothing changed


def test_a_proof_for_another_address_is_refused_with_a_dpop_challenge(control_plane, make_user):
    user = make_user("replayer")
    token = user.session.access_token()
    proof = user.session.proofs.proof("GET", control_plane + "api/spaces", access_token=token)
    response = requests.get(
        control_plane + "api/me",
        headers={"Authorization": f"DPoP {token}", "DPoP": proof},
        timeout=10,
    )
    assert response.status_code == 401
    assert 'error="invalid_dpop_proof"' in response.headers["WWW-Authenticate"]
    assert response.headers["Content-Type"] == "application/problem+json"


def test_spaces_algorithms_and_approvals_are_linked_data(orgs):
    owner = orgs["owner"]
    space = owner("POST", "spaces", {**SPACE, "roles": ["code-provider", "data-consumer"]}).body
    path = f"spaces/{space['id']}"
    owner("PUT", f"{path}/algorithm", BUNDLE, "application/zip")
    assert owner("POST", f"{path}/approvals", {}).status_code == 422  # no terms digest given
    iri = space["iri"]

    def fetch(url: str, accept: str) -> Graph:
        response = owner.user.session.request("GET", url, headers={"Accept": accept})
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith(accept)
        fmt = {"text/turtle": "turtle", "application/ld+json": "json-ld"}[accept]
        return Graph().parse(data=response.text, format=fmt, publicID=url)

    turtle, json_ld = fetch(iri, "text/turtle"), fetch(iri, "application/ld+json")
    assert (URIRef(iri), RDF.type, DCG.CollaborationSpace) in turtle
    assert len(turtle) == len(json_ld) > 20
    algorithm = turtle.value(URIRef(iri), DCG.algorithm)
    described = fetch(str(algorithm), "text/turtle")
    assert (algorithm, DCG.digest, None) in described
    assert (URIRef(iri), RDF.type, DCG.CollaborationSpace) not in described

    # A browser asking for the same address gets the page.
    page = owner.user.session.request("GET", iri, headers={"Accept": "text/html"})
    assert page.headers["Content-Type"].startswith("text/html")


def signed_in_cookie(secret: str, webid: str) -> str:
    """A real session cookie, sealed by the app's own session interface with the same key."""
    app = create_app({"TESTING": True, "SECRET_KEY": secret})
    with app.test_request_context():
        session = app.session_interface.session_class(
            {"webid": webid, "signed_in_at": time.time(), "csrf_token": "t"}
        )
        session.modified = True
        response = app.response_class()
        app.session_interface.save_session(app, session, response)
    return response.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]


def test_a_tampered_session_cookie_is_no_session_and_a_forged_post_changes_nothing(
    control_plane,
):
    webid = "https://someone.example/profile/card#me"
    cookie = signed_in_cookie(SECRET, webid)
    signed_in = requests.get(control_plane, cookies={"session": cookie}, timeout=10)
    assert "Signed in as" in signed_in.text
    assert webid in signed_in.text

    flipped = cookie[:20] + ("A" if cookie[20] != "A" else "B") + cookie[21:]
    tampered = requests.get(control_plane, cookies={"session": flipped}, timeout=10)
    assert tampered.status_code == 200
    assert "Sign in with your WebID" in tampered.text  # simply not signed in: no error page
    assert webid not in tampered.text

    forged = requests.post(
        control_plane + "spaces",
        cookies={"session": cookie},
        data={"name": "Forged", "csrf_token": "guess"},
        headers={"Accept": "text/html"},
        timeout=10,
    )
    assert forged.status_code == 403
    assert "out of date or did not come from this site" in forged.text
    cross_site = requests.post(
        control_plane + "spaces",
        cookies={"session": cookie},
        data={"name": "Forged", "csrf_token": "t"},
        headers={"Origin": "https://evil.example", "Accept": "text/html"},
        timeout=10,
    )
    assert cross_site.status_code == 403
    assert "came from another site" in cross_site.text
    mine = requests.get(control_plane, cookies={"session": cookie}, timeout=10)
    assert "You are not in any space yet" in mine.text  # neither post created anything


def test_inviting_a_webid_that_cannot_sign_in_is_refused_with_the_reason(orgs):
    owner = orgs["owner"]
    path = "spaces/" + owner("POST", "spaces", SPACE).body["id"]
    no_profile = owner.user.pod + "nobody/profile/card#me"
    roles = ["data-provider"]
    refused = owner("POST", f"{path}/invitations", {"webid": no_profile, "roles": roles})
    assert refused.status_code == 422
    assert "could not read the WebID profile" in refused.body["errors"]["webid"][0]

    # A readable RDF document that names no identity provider: the pod's public root listing.
    no_issuer = owner.user.pod + "#me"
    refused = owner("POST", f"{path}/invitations", {"webid": no_issuer, "roles": roles})
    assert refused.status_code == 422
    assert "names no Solid identity provider" in refused.body["errors"]["webid"][0]
    assert owner("GET", path).body["invitations"] == []


def test_an_oversized_upload_is_refused_before_it_is_read(orgs):
    owner = orgs["owner"]
    path = "spaces/" + owner("POST", "spaces", {**SPACE, "roles": ["code-provider"]}).body["id"]
    huge = b"\0" * (11 * 2**20)
    refused = owner("PUT", f"{path}/algorithm", huge, "application/zip")
    assert refused.status_code == 413
    assert "larger than this server accepts (10 MiB)" in refused.body["detail"]
    assert owner("GET", path).body["algorithm"] is None
