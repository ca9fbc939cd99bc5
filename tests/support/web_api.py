"""The control plane's web API as people call it in unit tests: an app on an in-memory registry,
one signed-in caller per person, and a space with everyone in it. Test modules import the
fixtures by name."""

from __future__ import annotations

import io
import os
import time
import zipfile

import pytest

from server import create_app
from server.spaces.actions import Spaces

PUBLIC_URL = "http://localhost:5000/"


OWNER = "https://owner.example/profile/card#me"


ALICE = "https://alice.example/profile/card#me"


BOB = "https://bob.example/profile/card#me"


STRANGER = "https://stranger.example/profile/card#me"


PROBLEM = "application/problem+json"


SPACE = {
    "name": "Churn study",
    "description": "Which customers leave, and why.",
    "purposes": ["Marketing"],
    "legal_basis": "Consent",
    "retention": "P90D",
    "data_requests": [
        {"kind": "path", "target": "contacts/customers.ttl", "description": "Your customer list"}
    ],
}


SHAPE = b"""@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <https://example.org/ns#> .
ex:CountShape a sh:NodeShape ; sh:targetClass ex:Count ;
  sh:property [ sh:path ex:value ; sh:datatype <http://www.w3.org/2001/XMLSchema#integer> ] .
"""


def bundle(version: str = "1.0.0", **changes: bytes) -> bytes:
    manifest = f"""[algorithm]
name = "churn-count"
version = "{version}"
description = "Counts customers who left."
entry_point = "mod:run"
events = ["EVENT_A"]
output_shape = "shape.ttl"
""".encode()
    files = {"manifest.toml": manifest, "mod.py": b"def run(ctx):\n    return 0\n"}
    files["shape.ttl"] = SHAPE
    files.update(changes)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return buffer.getvalue()


class Caller:
    """One person's browser: its own cookie jar, signed in as `webid`, sending the CSRF token."""

    def __init__(self, app, webid: str | None):
        self.client = app.test_client()
        self.webid = webid
        if webid:
            with self.client.session_transaction() as session:
                session.update(webid=webid, signed_in_at=time.time(), csrf_token="t")

    def __getattr__(self, method: str):
        def send(path: str, **kwargs):
            kwargs.setdefault("headers", {}).setdefault("X-CSRF-Token", "t")
            return getattr(self.client, method)(path, **kwargs)

        return send


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in [n for n in os.environ if n.startswith("DATACAGE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(Spaces, "_check_webid_can_sign_in", lambda self, webid: None)


@pytest.fixture
def app(tmp_path):
    return create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": PUBLIC_URL,
            "DATA_DIR": str(tmp_path),
            "REGISTRY_PATH": ":memory:",
        }
    )


def sparql_app(oxigraph, data_dir):
    """A control plane on a shared `oxigraph serve` registry (one per process it stands for)."""
    return create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": PUBLIC_URL,
            "DATA_DIR": str(data_dir),
            "REGISTRY_SPARQL_QUERY_URL": oxigraph.query_url,
            "REGISTRY_SPARQL_UPDATE_URL": oxigraph.update_url,
        }
    )


@pytest.fixture
def callers(app) -> dict[str, Caller]:
    return {w: Caller(app, w) for w in (OWNER, ALICE, BOB, STRANGER)} | {
        "nobody": Caller(app, None)
    }


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    return body


def create(caller: Caller, **changes) -> dict:
    response = caller.post("/api/spaces", json={**SPACE, "roles": ["data-consumer"], **changes})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def space(callers) -> dict:
    """A space with everyone in it: Alice provides data, Bob the code, the owner consumes."""
    owner = callers[OWNER]
    space = create(owner)
    for webid, role in ((ALICE, "data-provider"), (BOB, "code-provider")):
        invited = owner.post(
            f"/api/spaces/{space['id']}/invitations", json={"webid": webid, "roles": [role]}
        )
        assert invited.status_code == 201
        accepted = callers[webid].post(
            f"/api/spaces/{space['id']}/invitations/{invited.get_json()['id']}/accept"
        )
        assert accepted.status_code == 200
    return space


def register(caller: Caller, space: dict, data: bytes, status: int = 201) -> dict:
    response = caller.put(
        f"/api/spaces/{space['id']}/algorithm", data=data, content_type="application/zip"
    )
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


FORM = {
    "name": "Churn study",
    "purposes": "Marketing",
    "legal_basis": "Consent",
    "retention_amount": "90",
    "retention_unit": "D",
    "consent_period_amount": "6",
    "consent_period_unit": "M",
    "recurring": "yes",
    "min_individuals": "5",
}


def wrong_state(response) -> str:
    body = problem(response, 409)
    assert body["type"] == "/api/problems/wrong-state"
    return body["detail"]
