"""The ordinary entrance's check: no access token naming a datacage's WebID gets through.

Attacks: the datacage's own token under every scheme spelling, hidden behind another
credential in the same header or in a second header, a forged (unsigned) token naming the
datacage, and an oversized header meant to be passed unread.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from server.attestation import TrustPolicy
from server.attestation.admission import (
    ENTRANCE_CHECK,
    PolicyError,
    PolicyInForce,
    create_app,
    load_policy,
    policy_document,
)
from server.attestation.entrance import (
    MAX_AUTHORIZATION,
    UnreadableCredentials,
    webids_in_authorization,
)

CAGE = "https://pods.example/datacage/profile/card#me"
ALICE = "https://pods.example/alice/profile/card#me"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def token(webid: str, signature: str = "c2lnbmF0dXJl") -> str:
    """A JWT shaped like CSS's access tokens (RFC 9068, Solid-OIDC `webid` claim)."""
    header = _b64({"alg": "ES256", "typ": "at+jwt"})
    claims = _b64({"webid": webid, "client_id": "x", "iss": "https://pods.example/"})
    return f"{header}.{claims}.{signature}"


@pytest.fixture
def client():
    policy = TrustPolicy(frozenset(), frozenset(), datacage_webids=frozenset({CAGE}))
    return create_app(policy).test_client()


def _status(
    client, *authorization: str, method: str | None = "GET", uri: str = "/alice/data.ttl"
) -> int:
    headers = [("Authorization", a) for a in authorization]
    headers.append(("X-Original-URI", uri))
    if method is not None:
        headers.append(("X-Original-Method", method))
    return client.get(ENTRANCE_CHECK, headers=headers).status_code


@pytest.mark.parametrize(
    "authorization",
    [
        f"DPoP {token(CAGE)}",
        f"Bearer {token(CAGE)}",
        f"dpop {token(CAGE)}",
        f"DPOP   {token(CAGE)}",
        f"Basic Zm9vOmJhcg==, DPoP {token(CAGE)}",  # a second credential in the same header
        f"DPoP {token(CAGE, signature='')}",  # forged: unsigned, still names the datacage
    ],
)
def test_a_token_naming_the_datacage_is_refused(client, authorization, caplog):
    assert _status(client, authorization) == 403
    message = caplog.records[-1].getMessage()
    assert message.startswith("refused /alice/data.ttl: at the ordinary entrance: a GET")
    assert CAGE in message
    assert "eyJ" not in message  # the token itself is never logged


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "DELETE", "get", "PROPFIND", None])
def test_the_datacage_may_not_read_or_delete_through_the_entrance(client, method):
    # A missing or unknown method is a read until shown otherwise.
    assert _status(client, f"DPoP {token(CAGE)}", method=method) == 403


@pytest.mark.parametrize("method", ["PUT", "POST", "PATCH", "patch"])
def test_the_datacages_writes_go_to_the_pods_own_access_control(client, method):
    # Delivering results and notifications: nothing is read out; CSS decides the write.
    assert _status(client, f"DPoP {token(CAGE)}", method=method) == 204


def test_the_datacage_token_in_a_second_header_is_refused(client):
    assert _status(client, f"DPoP {token(ALICE)}", f"DPoP {token(CAGE)}") == 403


def test_people_and_anonymous_requests_pass(client):
    assert _status(client, f"DPoP {token(ALICE)}") == 204
    assert _status(client) == 204
    assert _status(client, "Basic Zm9vOmJhcg==") == 204
    assert _status(client, "DPoP not.a-jwt.at-all") == 204  # the pod server refuses it


def test_an_oversized_authorization_is_refused_not_passed_unread(client):
    padding = "x" * MAX_AUTHORIZATION
    assert _status(client, f"DPoP {token(CAGE)} {padding}") == 403
    with pytest.raises(UnreadableCredentials):
        webids_in_authorization([padding + "y"])


def test_the_token_is_read_for_webid_and_sub():
    sub_only = f"{_b64({'alg': 'none'})}.{_b64({'sub': CAGE})}."
    assert webids_in_authorization([f"Bearer {sub_only}"]) == {CAGE}
    assert webids_in_authorization([f"DPoP {token(ALICE)}"]) == {ALICE}
    listed = f"{_b64({'alg': 'none'})}.{base64.urlsafe_b64encode(b'[1]').decode()}."
    assert webids_in_authorization([listed]) == set()


def test_the_entrance_follows_the_policy_in_force():
    held = PolicyInForce(TrustPolicy(frozenset(), frozenset()))
    app = create_app(held).test_client()
    authorization = {"Authorization": f"DPoP {token(CAGE)}", "X-Original-Method": "GET"}
    assert app.get(ENTRANCE_CHECK, headers=authorization).status_code == 204
    held.replace(TrustPolicy(frozenset(), frozenset(), datacage_webids=frozenset({CAGE})))
    assert app.get(ENTRANCE_CHECK, headers=authorization).status_code == 403


def test_datacage_webids_come_from_the_policy_file(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(f'datacage_webids = ["{CAGE}"]\n')
    assert load_policy(path).datacage_webids == {CAGE}
    path.write_text(f'datacage_webids = "{CAGE}"\n')
    with pytest.raises(PolicyError, match="datacage_webids must be a list of strings"):
        load_policy(path)


def test_a_policy_document_reads_back_as_the_same_policy(tmp_path):
    policy = TrustPolicy(
        frozenset({"sha256:" + "c" * 64}),
        frozenset({"sha256:" + "b" * 64}),
        allow_software=True,
        max_age=timedelta(minutes=5),
        datacage_webids=frozenset({CAGE}),
    )
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy_document(policy)))
    assert load_policy(path) == policy


@pytest.mark.parametrize("uri", ["/.well-known/solid", "/bob/.well-known/solid"])
def test_the_datacage_may_read_a_pods_storage_description_to_deliver(client, uri):
    assert _status(client, f"DPoP {token(CAGE)}", uri=uri) == 204
    assert _status(client, f"DPoP {token(CAGE)}", method="HEAD", uri=uri) == 204


@pytest.mark.parametrize(
    ("method", "uri"),
    [
        # Attack: spellings that a pod server would resolve to another resource.
        ("GET", "/bob/.well-known/solid/../contacts/customers.ttl"),
        ("GET", "/bob/../alice/data.ttl#/.well-known/solid"),
        ("GET", "/bob/.well-known/solid?/alice/data.ttl"),
        ("GET", "/bob/%2e%2e/alice/.well-known/solid"),
        ("GET", "/bob/../.well-known/solid"),
        ("GET", "/bob/./.well-known/solid"),
        ("GET", "/bob/.well-known/solid/"),
        ("DELETE", "/bob/.well-known/solid"),
        ("OPTIONS", "/bob/.well-known/solid"),
    ],
)
def test_no_other_read_passes_as_a_storage_description(client, method, uri):
    assert _status(client, f"DPoP {token(CAGE)}", method=method, uri=uri) == 403
