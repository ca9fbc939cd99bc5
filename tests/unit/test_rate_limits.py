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


@pytest.mark.parametrize(
    "rule",
    [
        "/api/datacage/runs/<run_id>/usage",
        "/api/datacage/runs/<run_id>/consents/check",
        "/api/datacage/runs/<run_id>/pull-progress",
    ],
)
def test_a_run_of_two_thousand_people_is_not_refused_half_way(tmp_path, rule):
    """A run reports a usage record per person read and re-checks before the reads: counted
    as api-write (300 a minute), a run of 2,000 people was refused at its 301st report."""
    from server.ratelimit import DEFAULT_LIMITS, RateLimiter, parse_limits

    limiter = RateLimiter(tmp_path / "limits.sqlite3", parse_limits(DEFAULT_LIMITS))
    action = action_of("POST", rule)
    assert action is not None  # still counted: a flood of them is refused too
    for _ in range(2000):
        limiter.hit(action, ["address 127.0.0.1", "webid https://cage.example/#me"])


def test_claims_and_other_api_writes_keep_their_limit():
    assert action_of("POST", "/api/datacage/runs/<run_id>/claim") == "api-write"
    assert action_of("POST", "/api/datacage/claim") == "api-write"
    assert action_of("POST", "/api/datacage/push/evidence") == "api-write"
