"""The OpenAPI document against the server it describes.

Three checks, each of which a drifting document fails: it lists exactly the `/api` routes and
methods Flask serves (both ways); it is a valid OpenAPI 3.1 document (`openapi-spec-validator`);
and the answers of a real flow (spaces, consents, a run through the whole job protocol, push,
refusals as problem documents) each match the schema documented for their status and media
type (JSON Schema 2020-12, the dialect of OpenAPI 3.1, checked with `jsonschema`).
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from server import create_app
from server.attestation import EnclaveKey, Measurement, SoftwareAttestationProvider
from server.attestation.measurement import measure_datacage_code
from server.consent.model import Consent, ConsentHistory, ConsentState, PodResource
from server.consent.rdf import history_iri
from server.services import services
from server.spaces.actions import Spaces
from server.spaces.model import Role
from server.web.openapi import document

PUBLIC_URL = "http://localhost:5000/"
OWNER = "https://owner.example/profile/card#me"
ALICE = "https://alice.example/profile/card#me"
CAGE = "https://cage.example/profile/card#me"
CONSUMER = "https://consumer.example/profile/card#me"
STRANGER = "https://stranger.example/profile/card#me"
SHAPE = b"""@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <https://example.org/ns#> .
ex:CountShape a sh:NodeShape ; sh:targetClass ex:Count ;
  sh:property [ sh:path ex:value ; sh:datatype <http://www.w3.org/2001/XMLSchema#integer> ] .
"""
SPACE = {
    "name": "Churn study",
    "description": "Which customers leave, and why.",
    "purposes": ["Marketing"],
    "legal_basis": "Consent",
    "retention": "P90D",
    "roles": [r.slug for r in Role],
    "data_requests": [{"kind": "path", "target": "shop/orders.csv", "description": "Orders"}],
}


def _bundle() -> bytes:
    manifest = b"""[algorithm]
name = "churn-count"
version = "1.0.0"
description = "Counts customers who left."
entry_point = "mod:run"
events = ["EVENT_A"]
output_shape = "shape.ttl"
"""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.toml", manifest)
        archive.writestr("mod.py", b"def run(ctx):\n    return 0\n")
        archive.writestr("shape.ttl", SHAPE)
    return buffer.getvalue()


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setattr(Spaces, "_check_webid_can_sign_in", lambda self, webid: None)
    return create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": PUBLIC_URL,
            "DATA_DIR": str(tmp_path),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": CAGE,
        }
    )


def _template(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


# --- The document and the routes ----------------------------------------------------------------


def test_the_document_lists_exactly_the_api_routes_and_methods_both_ways(app):
    served: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
            served.setdefault(_template(rule.rule), set()).update(methods)
    paths = document(PUBLIC_URL)["paths"]
    documented = {
        p: set(item) - {"parameters"} for p, item in paths.items() if p.startswith("/api/")
    }
    assert sorted(set(served) - set(documented)) == [], "served but not documented"
    assert sorted(set(documented) - set(served)) == [], "documented but not served"
    assert {p: m for p, m in documented.items() if served[p] != m} == {}, "methods differ"


def test_the_document_is_valid_openapi_3_1():
    validate_spec(document(PUBLIC_URL))  # raises with the offending pointer


# --- Real answers against the documented schemas ------------------------------------------------


class Answers:
    """Checks each answer against the document: its status must be documented for the
    operation, its media type for that status, and its body must match the schema."""

    def __init__(self, app):
        self.app = app
        self.document = document(PUBLIC_URL)
        self.checked: set[tuple[str, str, int]] = set()

    def caller(self, webid: str | None):
        made = self.app.test_client()
        if webid:
            with made.session_transaction() as session:
                session.update(webid=webid, signed_in_at=time.time(), csrf_token="t")
        return made

    def call(self, webid: str | None, method: str, url: str, status: int, **kwargs: Any):
        headers = {"X-CSRF-Token": "t", **kwargs.pop("headers", {})}
        response = getattr(self.caller(webid), method)(url, headers=headers, **kwargs)
        assert response.status_code == status, (method, url, response.get_data(as_text=True))
        self._check(method, url.split("?")[0], response)
        return response

    def _operation(self, method: str, path: str) -> tuple[str, dict]:
        for template, item in self.document["paths"].items():
            pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, path) and method in item:
                return template, item[method]
        raise AssertionError(f"{method.upper()} {path} is not in the document")

    def _check(self, method: str, path: str, response) -> None:
        template, operation = self._operation(method, path)
        where = ["paths", template, method, "responses", str(response.status_code)]
        answer = operation["responses"].get(str(response.status_code))
        assert answer is not None, f"{response.status_code} undocumented for {method} {template}"
        if "$ref" in answer:
            where = answer["$ref"].removeprefix("#/").split("/")
            answer = self._at(where)
        self.checked.add((method, template, response.status_code))
        if response.status_code == 204 or "content" not in answer:
            assert not response.get_data(), f"{method} {template}: a body where none is documented"
            return
        assert response.mimetype in answer["content"], (method, template, response.mimetype)
        pointer = "/".join(
            part.replace("~", "~0").replace("/", "~1")
            for part in [*where, "content", response.mimetype, "schema"]
        )
        # The whole document is the root, so every `#/components/...` reference resolves.
        validator = Draft202012Validator({**self.document, "$ref": "#/" + pointer})
        if response.mimetype == "application/x-ndjson":
            text = response.get_data(as_text=True)
            bodies = [json.loads(line) for line in text.splitlines()]  # one schema per line
        elif response.mimetype.endswith("json"):
            bodies = [json.loads(response.get_data(as_text=True))]
        else:
            return  # a download (a bundle): its media type is what the document can say
        for body in bodies:
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
            assert errors == [], (method, template, response.status_code, errors)

    def _at(self, parts: list[str]) -> dict:
        node: Any = self.document
        for part in parts:
            node = node[part]
        return node


def _consent(app, space: dict, subject: str, terms_digest: str) -> str:
    """A consent given by `subject` to `space`, as the consent flow records it."""
    store = services(app).consents
    now = datetime.now(UTC).replace(microsecond=0)
    history = ConsentHistory(
        history_iri(store.public_url, space["iri"], subject), space["iri"], subject
    )
    pod = subject.split("/profile")[0]
    made = Consent(
        iri=f"{history.iri}/1",
        number=1,
        space_iri=space["iri"],
        space_id=space["id"],
        space_name=space["name"],
        subject=subject,
        grantee=CAGE,
        resources=(PodResource(pod + "/shop/orders.csv"),),
        purposes=tuple(p["iri"] for p in space["purposes"]),
        legal_basis=space["legal_basis"]["iri"],
        controller=OWNER,
        consumers=(OWNER,),
        algorithm_digest=space["algorithm"]["digest"],
        terms_digest=terms_digest,
        recurring=False,
        started_at=now - timedelta(days=1),
        expires_at=now + timedelta(days=30),
        state=ConsentState.GIVEN,
        given_at=now - timedelta(days=1),
        usage_records=pod + "/datacage/usage/",
    )
    history.consents.append(replace(made))
    store.write(history)
    return made.iri


def test_real_answers_match_the_documented_schemas(app, tmp_path):
    api = Answers(app)
    api.call(None, "get", "/api/openapi.json", 200)
    api.call(OWNER, "get", "/api/me", 200)
    api.call(None, "get", "/api/me", 401)

    # Spaces: the lifecycle, and refusals as problem documents.
    space = api.call(OWNER, "post", "/api/spaces", 201, json=SPACE).get_json()
    sid = space["id"]
    api.call(OWNER, "post", "/api/spaces", 422, json={"name": ""})
    api.call(OWNER, "get", "/api/spaces", 200)
    api.call(OWNER, "get", "/api/spaces/nope", 404)
    terms = {k: v for k, v in SPACE.items() if k != "roles"}
    api.call(OWNER, "put", f"/api/spaces/{sid}", 200, json={**terms, "name": "Churn"})
    invited = {"webid": ALICE, "roles": ["data-provider"]}
    api.call(OWNER, "post", f"/api/spaces/{sid}/invitations", 201, json=invited)
    api.call(STRANGER, "put", f"/api/spaces/{sid}", 403, json=terms)
    other = {"webid": STRANGER, "roles": ["data-consumer"]}
    stranger = api.call(OWNER, "post", f"/api/spaces/{sid}/invitations", 201, json=other)
    stranger_id = stranger.get_json()["id"]
    api.call(OWNER, "delete", f"/api/spaces/{sid}/invitations/{stranger_id}", 200)
    alice_invitation = next(
        i["id"]
        for i in api.call(ALICE, "get", f"/api/spaces/{sid}", 200).get_json()["invitations"]
        if i["webid"] == ALICE
    )
    api.call(ALICE, "post", f"/api/spaces/{sid}/invitations/{alice_invitation}/accept", 200)
    zipped = {"data": _bundle(), "content_type": "application/zip"}
    api.call(OWNER, "put", f"/api/spaces/{sid}/algorithm", 201, **zipped)
    api.call(OWNER, "put", f"/api/spaces/{sid}/algorithm", 200, **zipped)
    api.call(
        OWNER, "put", f"/api/spaces/{sid}/algorithm", 415, data=b"x", content_type="text/plain"
    )
    api.call(OWNER, "post", f"/api/spaces/{sid}/submit", 200)
    api.call(OWNER, "post", f"/api/spaces/{sid}/submit", 409)
    digest = api.call(OWNER, "get", f"/api/spaces/{sid}", 200).get_json()["terms_digest"]
    api.call(OWNER, "post", f"/api/spaces/{sid}/approvals", 200, json={"terms_digest": digest})
    api.call(ALICE, "post", f"/api/spaces/{sid}/approvals", 200, json={"terms_digest": digest})
    api.call(ALICE, "delete", f"/api/spaces/{sid}/approvals/mine", 200)
    space = api.call(
        ALICE, "post", f"/api/spaces/{sid}/approvals", 200, json={"terms_digest": digest}
    ).get_json()
    assert space["status"] == "active"

    # Consents: the person's own list and withdrawal; the datacage reads the others'.
    people = [f"https://p{n}.example/profile/card#me" for n in range(3)]
    iris = [_consent(app, space, person, digest) for person in [*people, ALICE]]
    mine = api.call(ALICE, "get", "/api/consents", 200).get_json()["consents"]
    api.call(ALICE, "post", f"/api/consents/{mine[0]['key']}/withdraw", 200)
    api.call(STRANGER, "post", f"/api/consents/{mine[0]['key']}/withdraw", 404)

    # Push: the datacage publishes evidence; providers read it and list datasets.
    key = EnclaveKey.generate()
    measurement = Measurement(measure_datacage_code(), space["algorithm"]["digest"])
    evidence = SoftwareAttestationProvider(tmp_path / "attestation").attest(key, measurement)
    evidence_text = evidence.to_bytes().decode()
    pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    api.call(CAGE, "get", "/api/datacage/push/wanted", 200)
    published = {"evidence": evidence_text, "public_key": pem.decode()}
    api.call(CAGE, "post", "/api/datacage/push/evidence", 204, json=published)
    api.call(OWNER, "post", "/api/datacage/push/evidence", 403, json=published)
    api.call(OWNER, "get", f"/api/spaces/{sid}/push/evidence", 200)
    api.call(OWNER, "get", f"/api/spaces/{sid}/datasets", 200)
    api.call(OWNER, "post", f"/api/spaces/{sid}/datasets", 422, json={"name": "x"})

    # The schedule's ticks: nothing is due in this space, and only the datacage may tick.
    api.call(CAGE, "post", "/api/datacage/schedule/recurring", 200)
    api.call(CAGE, "post", "/api/datacage/schedule/expiry", 200)
    api.call(OWNER, "post", "/api/datacage/schedule/recurring", 403)

    # A run through the whole job protocol.
    run = services(app).runs.start(sid, OWNER)
    api.call(CAGE, "get", "/api/datacage/next", 200)
    api.call(CAGE, "get", "/api/datacage/waiting", 200)
    api.call(CAGE, "get", f"/api/datacage/bundles/{space['algorithm']['digest']}", 200)
    api.call(CAGE, "get", "/api/datacage/bundles/sha256:" + "0" * 64, 404)
    api.call(CAGE, "post", "/api/datacage/claim", 422, json={"evidence": "{}"})
    claimed = api.call(CAGE, "post", "/api/datacage/claim", 200, json={"evidence": evidence_text})
    header = json.loads(claimed.get_data(as_text=True).splitlines()[0])["job"]
    api.call(CAGE, "post", "/api/datacage/claim", 204, json={"evidence": evidence_text})
    api.call(
        CAGE, "post", f"/api/datacage/runs/{run.id}/claim", 204, json={"evidence": evidence_text}
    )
    lease = {"Datacage-Lease": header["lease"]["token"]}
    base = f"/api/datacage/runs/{run.id}"
    api.call(CAGE, "post", f"{base}/lease", 200, headers=lease)
    api.call(CAGE, "post", f"{base}/lease", 409, headers={"Datacage-Lease": "stolen"})
    api.call(CAGE, "post", f"{base}/consents/check", 200, json={"consents": iris}, headers=lease)
    api.call(CAGE, "post", f"{base}/consents/check", 422, json={"consents": []}, headers=lease)
    api.call(CAGE, "get", f"{base}/consent?iri={iris[0]}", 200, headers=lease)
    orders = people[0].split("/profile")[0] + "/shop/orders.csv"
    api.call(
        CAGE, "post", f"{base}/progress", 204, json={"stage": "running", "step": 2}, headers=lease
    )
    refusal = {"consent": iris[1], "url": people[1].split("/profile")[0] + "/shop/orders.csv"}
    api.call(CAGE, "post", f"{base}/refusals", 204, json=refusal, headers=lease)
    reads = {"consent": iris[0], "reads": [{"url": orders, "version": None}]}
    api.call(CAGE, "post", f"{base}/usage", 204, json=reads, headers=lease)
    counts = {"pod_servers": [{"read": 1, "failed": 0} for _ in header["pod_servers"]]}
    api.call(CAGE, "post", f"{base}/pull-progress", 204, json=counts, headers=lease)
    api.call(STRANGER, "post", f"{base}/pull-progress", 403, json=counts, headers=lease)
    finish = {
        "outcome": "succeeded",
        "refusal": None,
        "notes": [],
        "individuals_read": 3,
        "result_digest": "sha256:" + "d" * 64,
        "result_size": 120,
        "pull_transport": "tls",
    }
    api.call(CAGE, "post", f"{base}/finish", 422, json={**finish, "log": "alice"}, headers=lease)
    api.call(CAGE, "post", f"{base}/finish", 204, json=finish, headers=lease)
    delivered = {
        "consumer": OWNER,
        "state": "delivered",
        "attempts": 1,
        "location": "https://owner.example/results/1",
        "detail": "",
        "notified": False,
    }
    api.call(CAGE, "post", f"{base}/deliveries", 204, json=delivered)

    api.call(OWNER, "post", f"/api/spaces/{sid}/close", 200)
    api.call(OWNER, "post", f"/api/spaces/{sid}/close", 409)

    # Every documented route was answered at least once in this flow.
    documented = {
        (method, path)
        for path, item in api.document["paths"].items()
        if path.startswith("/api/")
        for method in item
        if method != "parameters"
    }
    assert documented - {(m, p) for m, p, _ in api.checked} == set()
