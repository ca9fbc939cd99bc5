"""The JSON API through Flask's test client: the whole flow, its refusals, and its OpenAPI document.

Hermetic: the registry is in memory, bundles go to tmp_path, sign-ins are set in the session
(the API accepts a browser session with its CSRF token as well as a DPoP token), and the check
that an invitee's WebID profile names an identity provider is switched off.
"""

# ruff: noqa: F811 - the shared fixtures (tests/support) are parameters of the tests

from __future__ import annotations

import json
import re

import pytest

from server.web.api import CREATE_FIELDS, SPACE_FIELDS
from server.web.openapi import PATHS, SCHEMAS
from tests.support.web_api import (  # noqa: F401 - shared, fixtures by name
    ALICE,
    BOB,
    FORM,
    OWNER,
    PROBLEM,
    PUBLIC_URL,
    SHAPE,
    SPACE,
    STRANGER,
    Caller,
    app,
    bundle,
    callers,
    clean_environment,
    create,
    problem,
    register,
    space,
    wrong_state,
)

# --- The whole flow ----------------------------------------------------------------------------


def test_create_invite_accept_register_submit_approve_then_a_new_bundle_voids_approvals(callers):
    owner, alice, bob = callers[OWNER], callers[ALICE], callers[BOB]
    response = owner.post("/api/spaces", json={**SPACE, "roles": ["data-consumer"]})
    assert response.status_code == 201
    space = response.get_json()
    url = f"/api/spaces/{space['id']}"
    assert response.headers["Location"] == PUBLIC_URL + url.lstrip("/")
    assert space["iri"] == f"{PUBLIC_URL}spaces/{space['id']}"
    assert space["links"] == {
        "self": PUBLIC_URL + url[1:],
        "html": space["iri"],
        "turtle": space["iri"],
    }
    assert (space["status"], space["owner"], space["terms_digest"]) == ("draft", OWNER, None)
    assert space["purposes"] == [
        {"iri": "https://w3id.org/dpv#Marketing", "key": "Marketing", "label": "Marketing"}
    ]
    assert space["legal_basis"]["key"] == "Consent"
    assert space["data_requests"] == SPACE["data_requests"]
    assert space["participants"] == [
        {
            "webid": OWNER,
            "roles": ["data-consumer"],
            "approved": False,
            "joined_at": space["created_at"],
        }
    ]
    assert "A code provider must register the algorithm." in space["missing"]

    invited = {}
    for webid, role in ((ALICE, "data-provider"), (BOB, "code-provider")):
        response = owner.post(f"{url}/invitations", json={"webid": webid, "roles": [role]})
        assert response.status_code == 201
        invitation = invited[webid] = response.get_json()
        assert {"webid": webid, "roles": [role], "status": "pending"}.items() <= invitation.items()
        assert response.headers["Location"] == f"{space['iri']}/invitations/{invitation['id']}"
    assert alice.get(url).get_json()["invitations"][0]["status"] == "pending"  # invitees may look
    assert [s["id"] for s in alice.get("/api/spaces").get_json()["spaces"]] == [space["id"]]
    for caller in (alice, bob):
        response = caller.post(f"{url}/invitations/{invited[caller.webid]['id']}/accept")
        assert response.status_code == 200

    algorithm = register(bob, space, bundle("1.0.0"))
    expected = {"name": "churn-count", "version": "1.0.0", "entry_point": "mod:run"}
    assert expected.items() <= algorithm.items()
    assert (algorithm["events"], algorithm["registered_by"]) == (["EVENT_A"], BOB)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", algorithm["digest"])
    assert register(bob, space, bundle("1.0.0"), status=200)["digest"] == algorithm["digest"]

    space = owner.post(f"{url}/submit").get_json()
    assert space["status"] == "awaiting-approval"
    assert space["algorithm"]["digest"] == algorithm["digest"]
    assert f"{ALICE} has not approved the current terms yet." in space["missing"]
    digest = space["terms_digest"]
    for caller in (owner, alice, bob):
        response = caller.post(f"{url}/approvals", json={"terms_digest": digest})
        assert response.status_code == 200
    space = owner.get(url).get_json()
    assert (space["status"], space["missing"]) == ("active", [])
    assert all(p["approved"] for p in space["participants"])

    register(bob, space, bundle("2.0.0"))
    space = alice.get(url).get_json()
    assert space["status"] == "awaiting-approval"
    assert space["terms_digest"] != digest
    assert not any(p["approved"] for p in space["participants"])
    assert len(space["missing"]) == 3


def test_withdrawing_an_invitation_and_an_approval(callers, space):
    owner, alice, url = callers[OWNER], callers[ALICE], f"/api/spaces/{space['id']}"
    invitation = owner.post(
        f"{url}/invitations", json={"webid": STRANGER, "roles": ["data-provider"]}
    ).get_json()
    withdrawn = owner.delete(f"{url}/invitations/{invitation['id']}")
    assert withdrawn.status_code == 200
    assert withdrawn.get_json()["invitations"][-1]["status"] == "withdrawn"
    problem(callers[STRANGER].get(url), 403)

    register(callers[BOB], space, bundle())
    digest = owner.post(f"{url}/submit").get_json()["terms_digest"]
    alice.post(f"{url}/approvals", json={"terms_digest": digest})
    space = alice.delete(f"{url}/approvals/mine").get_json()
    assert not any(p["approved"] for p in space["participants"])
    assert "no standing approval" in problem(alice.delete(f"{url}/approvals/mine"), 409)["detail"]


def test_the_consent_terms_round_trip_and_default_when_left_out(callers):
    owner = callers[OWNER]
    space = create(owner)
    assert (space["consent_period"], space["recurring"]) == ("P1Y", False)
    url = f"/api/spaces/{space['id']}"
    changed = owner.put(url, json={**SPACE, "consent_period": "p6m", "recurring": True})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    for read in (changed.get_json(), owner.get(url).get_json()):
        assert (read["consent_period"], read["recurring"]) == ("P6M", True)
    turtle = owner.get(f"/spaces/{space['id']}", headers={"Accept": "text/turtle"})
    assert 'consentPeriod "P6M"^^xsd:duration' in turtle.get_data(as_text=True)
    # PUT replaces the terms: leaving the two out sets them back to the defaults.
    again = owner.put(url, json=SPACE).get_json()
    assert (again["consent_period"], again["recurring"]) == ("P1Y", False)


def test_the_smallest_group_round_trips_and_defaults_to_five(callers):
    owner = callers[OWNER]
    space = create(owner)
    assert space["min_individuals"] == 5
    url = f"/api/spaces/{space['id']}"
    changed = owner.put(url, json={**SPACE, "min_individuals": 20})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    for read in (changed.get_json(), owner.get(url).get_json()):
        assert read["min_individuals"] == 20
    turtle = owner.get(f"/spaces/{space['id']}", headers={"Accept": "text/turtle"})
    assert "minimumIndividuals 20" in turtle.get_data(as_text=True)
    assert owner.put(url, json=SPACE).get_json()["min_individuals"] == 5


def test_a_dpop_authenticated_request_acts_as_the_token_webid_without_a_csrf_token(
    app, monkeypatch
):
    from connectors.solid.oidc.access_token import VerifiedAccess
    from server.services import services

    with app.app_context():
        verifier = services(app).access_tokens
    seen = {}

    def verify(**request):
        seen.update(request)
        return VerifiedAccess(webid=ALICE, issuer="https://idp.example/", client_id=None, jkt="k")

    monkeypatch.setattr(verifier, "verify", verify)
    headers = {"Authorization": "DPoP token", "DPoP": "proof"}
    assert app.test_client().get("/api/me", headers=headers).get_json() == {"webid": ALICE}
    response = app.test_client().post("/api/spaces", json=SPACE, headers=headers)
    assert response.status_code == 201
    assert response.get_json()["owner"] == ALICE
    assert {
        "method": "POST",
        "url": PUBLIC_URL + "api/spaces",
        "dpop": "proof",
    }.items() <= seen.items()


# --- Who may do what -----------------------------------------------------------------------------


def test_without_sign_in_reading_is_a_401_with_a_dpop_challenge(callers, space):
    nobody, url = callers["nobody"], f"/api/spaces/{space['id']}"
    for response in (nobody.get("/api/me"), nobody.get("/api/spaces"), nobody.get(url)):
        body = problem(response, 401)
        assert body["type"] == "/api/problems/not-signed-in"
        assert response.headers["WWW-Authenticate"].startswith("DPoP")
    assert nobody.get("/api/openapi.json").status_code == 200


def test_without_sign_in_changing_is_refused_and_changes_nothing(callers, space):
    nobody, url = callers["nobody"], f"/api/spaces/{space['id']}"
    for response in (nobody.post("/api/spaces", data="not json"), nobody.post(f"{url}/close")):
        assert problem(response, 401)["type"] == "/api/problems/not-signed-in"
        assert response.headers["WWW-Authenticate"].startswith("DPoP")
    assert callers[OWNER].get(url).get_json()["status"] == "draft"


def test_a_token_that_is_not_dpop_bound_is_refused_with_a_challenge(app):
    response = app.test_client().get("/api/me", headers={"Authorization": "Bearer abc"})
    problem(response, 401)
    assert "DPoP" in response.headers["WWW-Authenticate"]


def test_strangers_and_participants_without_the_right_role_are_refused(callers, space):
    url = f"/api/spaces/{space['id']}"
    stranger, alice = callers[STRANGER], callers[ALICE]
    assert problem(stranger.get(url), 403)["type"] == "/api/problems/not-authorized"
    problem(stranger.post(f"{url}/submit"), 403)
    problem(stranger.post(f"{url}/approvals", json={"terms_digest": "x"}), 403)
    assert [s["id"] for s in stranger.get("/api/spaces").get_json()["spaces"]] == []
    problem(
        alice.post(f"{url}/invitations", json={"webid": STRANGER, "roles": ["data-provider"]}), 403
    )
    problem(alice.put(url, json=SPACE), 403)
    problem(alice.post(f"{url}/close"), 403)
    registering = alice.put(f"{url}/algorithm", data=bundle(), content_type="application/zip")
    body = problem(registering, 403)
    assert "code provider" in body["detail"]
    assert callers[OWNER].get(url).get_json()["algorithm"] is None


def test_an_unknown_space_or_invitation_is_a_404(callers, space):
    owner = callers[OWNER]
    assert problem(owner.get("/api/spaces/nosuchspace"), 404)["type"] == "/api/problems/not-found"
    problem(owner.delete(f"/api/spaces/{space['id']}/invitations/nosuch"), 404)
    problem(owner.get("/api/no-such-route"), 404)


def test_a_cookie_request_without_the_csrf_token_changes_nothing(callers):
    owner = callers[OWNER]
    response = owner.client.post("/api/spaces", json={**SPACE, "roles": []})
    assert problem(response, 403)["type"] == "/api/problems/csrf"
    response = owner.client.post(
        "/api/spaces", json=SPACE, headers={"X-CSRF-Token": "t", "Origin": "https://evil.example"}
    )
    problem(response, 403)
    assert owner.get("/api/spaces").get_json() == {"spaces": []}


# --- Transitions the state does not allow --------------------------------------------------------


def test_a_draft_cannot_be_approved_nor_submitted_twice(callers, space):
    owner, alice, url = callers[OWNER], callers[ALICE], f"/api/spaces/{space['id']}"
    assert "register the algorithm" in wrong_state(owner.post(f"{url}/submit"))
    register(callers[BOB], space, bundle())
    draft = owner.get(url).get_json()
    approving = alice.post(f"{url}/approvals", json={"terms_digest": draft["terms_digest"]})
    assert "ask for approval first" in wrong_state(approving)
    assert owner.post(f"{url}/submit").status_code == 200
    assert "already" in wrong_state(owner.post(f"{url}/submit"))


def test_an_invitation_cannot_be_accepted_twice(callers, space):
    owner, alice, url = callers[OWNER], callers[ALICE], f"/api/spaces/{space['id']}"
    accepted = next(i for i in owner.get(url).get_json()["invitations"] if i["webid"] == ALICE)
    assert "already accepted" in wrong_state(
        alice.post(f"{url}/invitations/{accepted['id']}/accept")
    )


@pytest.mark.parametrize(
    "change",
    [{"retention": "P30D"}, {"consent_period": "P6M"}, {"recurring": True}, {"min_individuals": 9}],
)
def test_approving_terms_that_changed_since_they_were_read_is_refused(callers, space, change):
    owner, alice, url = callers[OWNER], callers[ALICE], f"/api/spaces/{space['id']}"
    register(callers[BOB], space, bundle())
    seen = owner.post(f"{url}/submit").get_json()["terms_digest"]
    assert owner.put(url, json={**SPACE, **change}).status_code == 200
    approving = alice.post(f"{url}/approvals", json={"terms_digest": seen})
    assert "terms changed" in wrong_state(approving)


def test_nothing_changes_in_a_closed_space(callers, space):
    owner, alice, bob, url = (
        callers[OWNER],
        callers[ALICE],
        callers[BOB],
        f"/api/spaces/{space['id']}",
    )
    register(bob, space, bundle())
    owner.post(f"{url}/submit")
    closed = owner.post(f"{url}/close").get_json()
    assert (closed["status"], closed["missing"]) == ("closed", [])
    invitation = {"webid": STRANGER, "roles": ["data-provider"]}
    for response in (
        owner.put(url, json=SPACE),
        owner.post(f"{url}/invitations", json=invitation),
        owner.post(f"{url}/submit"),
        owner.post(f"{url}/close"),
        alice.post(f"{url}/approvals", json={"terms_digest": closed["terms_digest"]}),
        bob.put(f"{url}/algorithm", data=bundle("3.0.0"), content_type="application/zip"),
    ):
        assert "closed" in wrong_state(response)


# --- Input that cannot be accepted ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"purposes": ["Astrology"]}, "purposes", "not a purpose"),
        ({"retention": "90 days"}, "retention", "ISO 8601"),
        ({"consent_period": "one year"}, "consent_period", "consent period as a number of"),
        ({"consent_period": "P0D"}, "consent_period", "longer than zero"),
        ({"consent_period": "P20Y"}, "consent_period", "ten years or less"),
        ({"consent_period": 365}, "consent_period", "should be a string, not a number"),
        ({"recurring": "true"}, "recurring", "should be true or false, not a string"),
        ({"recurring": 1}, "recurring", "should be true or false, not a number"),
        ({"min_individuals": 4}, "min_individuals", "must be 5 people or more"),
        ({"min_individuals": 2_000_000}, "min_individuals", "1,000,000 people or fewer"),
        ({"min_individuals": True}, "min_individuals", "a whole number, not true or false"),
        ({"min_individuals": "10"}, "min_individuals", "a whole number, not a string"),
        ({"min_individuals": 7.5}, "min_individuals", "a whole number, not a number with a"),
        ({"min_individuals": 7.0}, "min_individuals", "a whole number, not a decimal number"),
        ({"roles": ["admin"]}, "roles", "not a role"),
        ({"nmae": "typo"}, "nmae", "not a field"),
        ({"name": 42}, "name", "should be a string"),
        ({"purposes": "Marketing"}, "purposes", "should be an array"),
        (
            {"data_requests": [{"kind": "path", "taget": "x", "description": "d"}]},
            "data_requests-0-taget",
            "not a field",
        ),
        (
            {"data_requests": [{"kind": "path", "target": "/etc/passwd", "description": "d"}]},
            "data_requests-0-target",
            "relative",
        ),
    ],
)
def test_invalid_space_fields_are_422s_naming_the_field(callers, changes, field, words):
    response = callers[OWNER].post("/api/spaces", json={**SPACE, **changes})
    body = problem(response, 422)
    assert body["type"] == "/api/problems/invalid-input"
    assert words in " ".join(body["errors"][field])
    assert callers[OWNER].get("/api/spaces").get_json() == {"spaces": []}


@pytest.mark.parametrize(
    ("data", "content_type", "words"),
    [
        ("{not json", "application/json", "not valid JSON"),
        ("[1, 2]", "application/json", "not an array"),
        ('"name"', "application/json", "not a string"),
        ("name=x", "application/x-www-form-urlencoded", "Content-Type: application/json"),
        ("", None, "Content-Type: application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_422_problem_not_an_html_page(
    callers, data, content_type, words
):
    response = callers[OWNER].post("/api/spaces", data=data, content_type=content_type)
    assert words in " ".join(problem(response, 422)["errors"][""])


def test_invitations_and_approvals_check_their_bodies(callers, space):
    owner, url = callers[OWNER], f"/api/spaces/{space['id']}"
    assert "errors" in problem(
        owner.post(f"{url}/invitations", json={"webid": STRANGER, "roles": []}), 422
    )
    assert (
        "webid"
        in problem(
            owner.post(
                f"{url}/invitations", json={"webid": "not a url", "roles": ["data-provider"]}
            ),
            422,
        )["errors"]
    )
    assert (
        "webid"
        in problem(
            owner.post(f"{url}/invitations", json={"webid": ALICE, "roles": ["data-provider"]}), 422
        )["errors"]
    )
    assert "terms_digest" in problem(owner.post(f"{url}/approvals", json={}), 422)["errors"]


def test_a_bad_bundle_lists_its_problems_and_other_content_types_are_415(callers, space):
    bob, url = callers[BOB], f"/api/spaces/{space['id']}/algorithm"
    broken = bundle(**{"mod.py": b"def walk(ctx):\n    pass\n", "shape.ttl": b"this is not turtle"})
    body = problem(bob.put(url, data=broken, content_type="application/zip"), 422)
    assert len(body["errors"]["bundle"]) >= 2
    assert any("mod.py" in p for p in body["errors"]["bundle"])
    problem(bob.put(url, data=b"", content_type="application/zip"), 422)
    problem(bob.put(url, data=bundle(), content_type="text/plain"), 415)
    problem(bob.put(url, json={"bundle": "x"}), 415)
    assert callers[OWNER].get(f"/api/spaces/{space['id']}").get_json()["algorithm"] is None


def test_a_bundle_over_the_size_limit_is_a_413_problem(app, callers, space):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    oversized = bundle(**{"data.bin": bytes(range(256)) * 64})
    response = callers[BOB].put(
        f"/api/spaces/{space['id']}/algorithm", data=oversized, content_type="application/zip"
    )
    assert "larger than this server accepts" in problem(response, 413)["detail"]


# --- The same terms through the HTML form -------------------------------------------------------


def test_the_form_sets_the_consent_terms_and_shows_them_back(callers):
    owner = callers[OWNER]
    new = owner.get("/spaces/new").get_data(as_text=True)
    assert re.search(r'name="consent_period_amount"[^>]*value="1"', new)
    created = owner.post("/spaces", data=FORM)
    assert created.status_code == 303, created.get_data(as_text=True)
    page = owner.get(created.headers["Location"]).get_data(as_text=True)
    assert "<dd>6 months</dd>" in page
    assert "Yes: each run reads" in page
    space = owner.get("/api/spaces").get_json()["spaces"][0]
    assert (space["consent_period"], space["recurring"]) == ("P6M", True)
    edit = owner.get(f"/spaces/{space['id']}/edit").get_data(as_text=True)
    assert re.search(r'id="recurring"[^>]*checked', edit)
    # An unticked checkbox is not sent at all: that means the runs do not repeat.
    unticked = {k: v for k, v in FORM.items() if k != "recurring"}
    assert owner.post(f"/spaces/{space['id']}/edit", data=unticked).status_code == 303
    assert owner.get(f"/api/spaces/{space['id']}").get_json()["recurring"] is False


def test_a_bad_consent_period_in_the_form_is_shown_next_to_it(callers):
    response = callers[OWNER].post("/spaces", data={**FORM, "consent_period_amount": "0"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="consent_period-error">The consent period must be longer than zero.' in page
    assert 'href="#consent_period"' in page  # the error summary's link has a target:
    assert 'id="consent_period"' in page
    assert 'value="0"' in page  # what was typed stays


def test_the_form_sets_the_smallest_group_and_shows_it_back(callers):
    owner = callers[OWNER]
    new = owner.get("/spaces/new").get_data(as_text=True)
    assert re.search(r'type="number" id="min_individuals"[^>]*value="5"', new)
    assert "Smallest group in a result" in new
    created = owner.post("/spaces", data={**FORM, "min_individuals": "12"})
    assert created.status_code == 303, created.get_data(as_text=True)
    page = owner.get(created.headers["Location"]).get_data(as_text=True)
    assert "<dt>Smallest group in a result</dt><dd>12 people" in page
    space = owner.get("/api/spaces").get_json()["spaces"][0]
    assert space["min_individuals"] == 12
    edit = owner.get(f"/spaces/{space['id']}/edit").get_data(as_text=True)
    assert re.search(r'id="min_individuals"[^>]*value="12"', edit)


@pytest.mark.parametrize(
    ("typed", "words"), [("3", "must be 5 people or more"), ("lots", "as a whole number")]
)
def test_a_bad_smallest_group_in_the_form_is_shown_next_to_it(callers, typed, words):
    response = callers[OWNER].post("/spaces", data={**FORM, "min_individuals": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="min_individuals-error">[^<]*' + words, page)
    assert 'href="#min_individuals"' in page
    assert f'value="{typed}"' in page  # what was typed stays


# --- The OpenAPI document ------------------------------------------------------------------------


def test_the_openapi_document_lists_exactly_the_api_routes_and_methods(app):
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
            routes.setdefault(path, set()).update(methods)
    documented = {path: set(item) - {"parameters"} for path, item in PATHS.items()}
    assert documented == routes


def test_the_openapi_schemas_name_exactly_the_fields_read_and_written(space):
    json_types = {str: "string", list: "array", bool: "boolean", int: "integer", dict: "object"}
    for schema, fields in (("SpaceUpdate", SPACE_FIELDS), ("SpaceCreate", CREATE_FIELDS)):
        properties = SCHEMAS[schema]["properties"]
        assert {n: p.get("type") for n, p in properties.items()} == {
            n: json_types[kind] for n, kind in fields.items()
        }, schema
    assert set(SCHEMAS["Space"]["properties"]) == set(space)


def test_the_openapi_document_is_public_json_whose_references_all_resolve(callers):
    response = callers["nobody"].get("/api/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.get_data(as_text=True))
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": PUBLIC_URL.rstrip("/")}]
    dpop = document["components"]["securitySchemes"]["dpop"]
    assert (dpop["type"], dpop["scheme"]) == ("http", "DPoP")
    assert "DPoP" in dpop["description"]
    for reference in re.findall(r'"\$ref": "#/([^"]+)"', response.get_data(as_text=True)):
        node = document
        for part in reference.split("/"):
            node = node[part]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters" and path != "/api/openapi.json":
                assert "401" in operation["responses"], (method, path)
