"""Verifying real Solid access tokens from the Community Solid Server, as our API will.

Each user logs in to CSS with client credentials and gets a real DPoP-bound access token; the
requests are to our (not running) API: verification is local, plus fetching CSS's
configuration, keys and the WebID profile.
"""

from __future__ import annotations

import base64
import json

import pytest

from connectors.solid import DPoPKey, Http, ProofFactory, errors
from connectors.solid.oidc import AccessTokenVerifier, www_authenticate

API = "http://localhost:5999/api/spaces"


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def verifier(alice) -> AccessTokenVerifier:
    return AccessTokenVerifier(Http(), trusted_issuers=[alice.credentials.issuer])


def signed_request(user, method: str = "GET", url: str = API, token: str | None = None) -> dict:
    token = token or user.session.access_token()
    return {
        "authorization": f"DPoP {token}",
        "dpop": user.session.proofs.proof(method, url, token),
    }


def refused(verifier, headers: dict, reason: str, error: str, method="GET", url=API):
    with pytest.raises(errors.InvalidAccessToken, match=reason) as caught:
        verifier.verify(method=method, url=url, **headers)
    assert caught.value.error == error
    assert f'error="{error}"' in www_authenticate(caught.value)


def test_a_real_token_and_proof_verify_to_the_users_webid(verifier, alice):
    access = verifier.verify(method="GET", url=API, **signed_request(alice))
    assert access.webid == alice.webid
    assert access.issuer == alice.credentials.issuer
    assert access.client_id == alice.credentials.id
    assert access.jkt == alice.session.key.thumbprint
    # The next request is checked from the caches, and still has to be fresh.
    again = verifier.verify(method="POST", url=API, **signed_request(alice, "POST"))
    assert again == access


def test_a_proof_made_with_another_key_is_refused(verifier, alice):
    token = alice.session.access_token()
    thief = ProofFactory(DPoPKey.generate())
    headers = {"authorization": f"DPoP {token}", "dpop": thief.proof("GET", API, token)}
    refused(verifier, headers, "bound to another key", "invalid_token")


def test_another_users_token_is_refused_with_this_users_proof(verifier, alice, make_user):
    bob = make_user("bob")
    headers = signed_request(alice, token=bob.session.access_token())
    refused(verifier, headers, "bound to another key", "invalid_token")


def test_a_proof_for_another_url_or_method_is_refused(verifier, alice):
    other_url = signed_request(alice, url="http://localhost:5999/api/registry")
    refused(verifier, other_url, "another URL", "invalid_dpop_proof")
    refused(verifier, signed_request(alice, "DELETE"), "another HTTP method", "invalid_dpop_proof")


def test_a_replayed_request_is_refused(verifier, alice):
    headers = signed_request(alice)
    verifier.verify(method="GET", url=API, **headers)
    refused(verifier, headers, "already used", "invalid_dpop_proof")


def test_a_tampered_token_is_refused(verifier, alice):
    header, payload, signature = alice.session.access_token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["webid"] = alice.pod + "someone-else#me"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    token = f"{header}.{forged}.{signature}"
    refused(
        verifier, signed_request(alice, token=token), "signature does not verify", "invalid_token"
    )


def test_a_server_expecting_another_audience_refuses_the_token(alice):
    verifier = AccessTokenVerifier(Http(), audience="http://localhost:5999/")
    refused(verifier, signed_request(alice), "not meant for this server", "invalid_token")


def test_the_real_token_as_a_bearer_token_is_refused(verifier, alice):
    headers = signed_request(alice)
    headers["authorization"] = headers["authorization"].replace("DPoP", "Bearer", 1)
    refused(verifier, headers, "DPoP-bound", "invalid_token")


def test_an_issuer_outside_the_trusted_list_is_refused(alice):
    verifier = AccessTokenVerifier(Http(), trusted_issuers=["https://idp.example/"])
    refused(verifier, signed_request(alice), "not one this server trusts", "invalid_token")
