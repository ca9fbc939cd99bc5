"""Rate limits under attack: a burst of sign-ins, API writes and audit queries gets 429."""

from __future__ import annotations

import pytest

from server import create_app
from server.config import ConfigError
from server.web.ratelimits import action_of

LIMITS = "signin=3/60 api-write=2/60 audit-query=2/60 join=2/60 invitations=2/60"


def _app(tmp_path, **config):
    return create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path),
            "REGISTRY_PATH": ":memory:",
            "RATE_LIMITS": LIMITS,
            "EGRESS_ALLOW": "",
            **config,
        }
    )


def _sign_in(client):
    with client.session_transaction() as session:
        session["csrf_token"] = "t"
    return client.post("/login", data={"csrf_token": "t", "webid": "http://10.0.0.1/#me"})


def test_a_burst_of_sign_ins_gets_429_with_retry_after_and_a_page(tmp_path):
    client = _app(tmp_path).test_client()
    statuses = [_sign_in(client).status_code for _ in range(3)]
    assert 429 not in statuses
    refused = _sign_in(client)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Too many requests" in refused.get_data(as_text=True)


def test_api_clients_get_problem_json(tmp_path):
    client = _app(tmp_path).test_client()
    answers = [
        client.post("/api/spaces", json={}, headers={"Accept": "application/json"})
        for _ in range(3)
    ]
    assert [a.status_code for a in answers][:2] != [429, 429]
    last = answers[-1]
    assert last.status_code == 429
    assert last.mimetype == "application/problem+json"
    assert last.get_json()["status"] == 429
    assert "Retry-After" in last.headers


def test_the_limit_is_shared_by_every_worker_process(tmp_path):
    one, two = _app(tmp_path).test_client(), _app(tmp_path).test_client()
    for client in (one, two, one):
        assert _sign_in(client).status_code != 429
    assert _sign_in(two).status_code == 429


def test_reads_are_not_limited(tmp_path):
    client = _app(tmp_path).test_client()
    assert all(client.get("/login").status_code == 200 for _ in range(10))


def test_a_limit_that_cannot_work_stops_the_app(tmp_path):
    with pytest.raises(ConfigError, match="RATE_LIMITS"):
        _app(tmp_path, RATE_LIMITS="signin=lots")


@pytest.mark.parametrize(
    ("method", "rule", "action"),
    [
        ("POST", "/login", "signin"),
        ("GET", "/login/callback", "signin"),
        ("POST", "/spaces/<space_id>/join", "join"),
        ("POST", "/spaces/<space_id>/invitations", "invitations"),
        ("POST", "/api/spaces/<space_id>/invitations/<invitation_id>/accept", "invitations"),
        ("GET", "/spaces/<space_id>/audit/sparql", "audit-query"),
        ("PUT", "/api/spaces/<space_id>", "api-write"),
        ("GET", "/api/spaces", None),
    ],
)
def test_what_counts_as_what(method, rule, action):
    assert action_of(method, rule) == action


CAGE = "https://cage.example/profile/card#me"


def _as(monkeypatch, app, webid: str) -> None:
    """Tokens verified as `webid` (DPoP itself is proven in test_dpop*, test_access_token*)."""
    from types import SimpleNamespace

    from server.services import services

    with app.app_context():
        tokens = services(app).access_tokens
    monkeypatch.setattr(tokens, "verify", lambda **_: SimpleNamespace(webid=webid))


def _report(client, run: str = "r1"):
    return client.post(
        f"/api/datacage/runs/{run}/progress",
        json={"stage": "pulling", "step": 1},
        headers={"Authorization": "DPoP token", "DPoP": "proof", "Accept": "application/json"},
    )


def test_the_datacage_reporting_a_large_run_is_not_limited(tmp_path, monkeypatch):
    """A run of thousands of people reports a usage record each: past `api-write`, a refused
    report would fail the run (found running a fleet of 200 people a server)."""
    app = _app(tmp_path, DATACAGE_WEBID=CAGE)
    _as(monkeypatch, app, CAGE)
    client = app.test_client()
    assert [_report(client).status_code for _ in range(6)].count(429) == 0


def test_anyone_else_on_the_datacage_routes_is_counted(tmp_path, monkeypatch):
    app = _app(tmp_path, DATACAGE_WEBID=CAGE)
    _as(monkeypatch, app, "https://mallory.example/profile/card#me")
    client = app.test_client()
    assert _report(client).status_code == 403
    assert [_report(client).status_code for _ in range(2)][-1] == 429


def test_a_session_naming_the_datacage_is_counted(tmp_path):
    """Only a DPoP-proven datacage is let through: a browser session never speaks for it."""
    app = _app(tmp_path, DATACAGE_WEBID=CAGE)
    client = app.test_client()
    with client.session_transaction() as session:
        import time

        session.update(webid=CAGE, signed_in_at=time.time(), csrf_token="t")
    headers = {"X-CSRF-Token": "t", "Accept": "application/json"}
    answers = [
        client.post("/api/datacage/runs/r1/progress", json={}, headers=headers).status_code
        for _ in range(3)
    ]
    assert answers[-1] == 429
