"""Solid-OIDC and DPoP against the real Community Solid Server.

The authorization-code test serves the real Flask control plane in a thread, so CSS reads our
actual Client ID Document, and it completes the flow through CSS's own login and consent API.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import jwt
import pytest
import requests

from connectors.solid import DPoPKey, Http, ProofFactory, SolidClient, SolidSession, errors
from connectors.solid.css import PodAccount, complete_password_login
from connectors.solid.oidc import (
    ClientAuth,
    IssuerMetadata,
    JwksCache,
    PendingLogin,
    begin_login,
    check_issuer_for_webid,
    complete_login,
    fetch_issuer_metadata,
    refresh_grant,
    validate_id_token,
)
from server import create_app
from tests.support.live_server import serve_wsgi

# --- Client credentials and DPoP --------------------------------------------------------------


def test_client_credentials_login_gives_a_dpop_bound_session_for_the_webid(make_user):
    alice = make_user("alice")
    assert alice.session.webid == alice.webid
    assert alice.session.tokens.token_type == "DPoP"
    # Writing needs the owner's identity: proof that the pod accepts our tokens and proofs.
    alice.client.put(alice.pod + "hello.txt", "hi", "text/plain")
    with pytest.raises(errors.Unauthenticated):
        SolidClient().get(alice.pod + "hello.txt")


def _raw_authenticated_get(user, url: str, proof_url: str | None = None, method: str = "GET"):
    token = user.session.access_token()
    proof = user.session.proofs.proof(method, proof_url or url, token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    return headers, requests.get(url, headers=headers, timeout=10)


def test_css_refuses_a_replayed_proof(make_user):
    alice = make_user("alice")
    url = alice.pod + "profile/"
    headers, first = _raw_authenticated_get(alice, url)
    assert first.status_code == 200
    replay = requests.get(url, headers=headers, timeout=10)
    assert replay.status_code == 401


@pytest.mark.parametrize("wrong", ["other-url", "other-method"])
def test_css_refuses_a_misaddressed_proof(make_user, wrong):
    alice = make_user("alice")
    url = alice.pod + "profile/"
    if wrong == "other-url":
        _, response = _raw_authenticated_get(alice, url, proof_url=alice.pod + "elsewhere/")
    else:
        _, response = _raw_authenticated_get(alice, url, method="POST")
    assert response.status_code == 401


def test_css_refuses_the_token_without_its_proof(make_user):
    alice = make_user("alice")
    token = alice.session.access_token()
    for scheme in ("DPoP", "Bearer"):
        response = requests.get(
            alice.pod + "profile/", timeout=10, headers={"Authorization": f"{scheme} {token}"}
        )
        assert response.status_code == 401


def test_css_refuses_a_proof_signed_by_another_key(make_user):
    alice = make_user("alice")
    token = alice.session.access_token()
    url = alice.pod + "profile/"
    stranger = ProofFactory(DPoPKey.generate()).proof("GET", url, token)
    response = requests.get(
        url, timeout=10, headers={"Authorization": f"DPoP {token}", "DPoP": stranger}
    )
    assert response.status_code == 401


def test_wrong_client_secret_is_a_clear_token_error(
    make_user, make_account, make_client_credentials
):
    account = make_account("mallory")
    credentials = make_client_credentials(account)
    with pytest.raises(errors.TokenRequestFailed, match="refused the client_credentials grant"):
        SolidSession.from_client_credentials(credentials.issuer, credentials.id, "wrong-secret")


# --- Authorization code + PKCE + DPoP, through the real control plane's Client ID Document ----


@pytest.fixture(scope="module")
def control_plane() -> Iterator[str]:
    """The real Flask app on a loopback port; CSS dereferences its Client ID Document."""
    with serve_wsgi(build=lambda base: create_app({"TESTING": True, "PUBLIC_URL": base})) as base:
        yield base


@dataclass
class BrowserLogin:
    """A person who went through CSS's login screens; `finish` is our side of the callback."""

    person: PodAccount
    http: Http
    metadata: IssuerMetadata
    pending: PendingLogin
    callback: dict[str, str]

    def finish(self, key: DPoPKey | None = None, callback: dict[str, str] | None = None):
        return complete_login(
            self.http,
            self.metadata,
            self.pending,
            self.callback if callback is None else callback,
            ProofFactory(key or DPoPKey.generate()),
            self.jwks(),
        )

    def jwks(self) -> JwksCache:
        return JwksCache(self.http, self.metadata.jwks_uri)


@pytest.fixture
def browser_login(css, make_account, control_plane) -> BrowserLogin:
    """A person logs in through CSS's screens, up to the redirect back to us."""
    person = make_account("person")
    http = Http()
    metadata = fetch_issuer_metadata(http, css.issuer)
    pending = begin_login(
        metadata,
        client_id=control_plane + "clientid.jsonld",
        redirect_uri=control_plane + "login/callback",
    )
    callback = complete_password_login(
        pending.authorization_url,
        email=person.email,
        password=person.password,
        webid=person.webid,
        redirect_uri=pending.redirect_uri,
    )
    return BrowserLogin(person, http, metadata, pending, callback)


def test_authorization_code_flow_with_pkce_and_dpop(browser_login):
    login = browser_login
    assert set(login.callback) >= {"code", "state", "iss"}
    key = DPoPKey.generate()
    result = login.finish(key)
    assert result.webid == login.person.webid
    assert result.tokens.refresh_token, "offline_access + prompt=consent yields a refresh token"
    client_auth = ClientAuth(login.pending.client_id)
    session = SolidSession.from_login(
        result, metadata=login.metadata, key=key, client=client_auth, http=login.http
    )
    note = login.person.pod_url + "private/note.txt"
    SolidClient(session).put(note, "mine", "text/plain")
    assert SolidClient(session).get(note).text() == "mine"

    # The stored state (refresh token + its key) resumes the session in a new process.
    resumed = SolidSession.from_refresh_state(session.refresh_state())
    assert SolidClient(resumed).get(note).text() == "mine"


def test_the_refresh_token_only_works_with_its_own_dpop_key(browser_login):
    login = browser_login
    key = DPoPKey.generate()
    first = login.finish(key).tokens
    refresh_token = first.refresh_token
    client = ClientAuth(login.pending.client_id)
    stranger = ProofFactory(DPoPKey.generate())
    with pytest.raises(errors.TokenRequestFailed):
        refresh_grant(login.http, login.metadata, refresh_token, client, stranger)
    fresh = refresh_grant(login.http, login.metadata, refresh_token, client, ProofFactory(key))
    assert fresh.access_token
    assert fresh.access_token != first.access_token


def test_a_code_cannot_be_exchanged_twice(browser_login):
    browser_login.finish()
    with pytest.raises(errors.TokenRequestFailed):
        browser_login.finish()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"state": "forged"}, "not the one we started"),
        ({"iss": "http://localhost:1/"}, "another identity provider"),
        ({"error": "access_denied", "error_description": "User said no"}, "User said no"),
    ],
)
def test_a_callback_that_does_not_match_the_login_is_refused(browser_login, change, message):
    with pytest.raises(errors.LoginFailed, match=message):
        browser_login.finish(callback={**browser_login.callback, **change})


@pytest.fixture
def real_id_token(browser_login):
    return browser_login.finish(), browser_login.jwks(), browser_login.pending


def test_a_real_id_token_validates(real_id_token):
    result, jwks, pending = real_id_token
    claims = validate_id_token(
        result.tokens.id_token,
        jwks=jwks,
        issuer=pending.issuer,
        client_id=pending.client_id,
        nonce=pending.nonce,
        now=result.id_token.issued_at + 1,
    )
    assert claims.webid == result.webid


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"client_id": "http://localhost:9/other-app"}, "another application"),
        ({"issuer": "http://localhost:9/"}, "not by"),
        ({"nonce": "a-different-nonce"}, "nonce mismatch"),
        ({"now_offset": 24 * 3600}, "expired"),
        ({"now_offset": -3600}, "in the future"),
    ],
)
def test_our_code_rejects_a_real_id_token_that_does_not_fit(real_id_token, override, message):
    result, jwks, pending = real_id_token
    arguments = {
        "jwks": jwks,
        "issuer": override.get("issuer", pending.issuer),
        "client_id": override.get("client_id", pending.client_id),
        "nonce": override.get("nonce", pending.nonce),
        "now": result.id_token.issued_at + override.get("now_offset", 1),
    }
    with pytest.raises(errors.InvalidIdToken, match=message):
        validate_id_token(result.tokens.id_token, **arguments)


def test_our_code_rejects_a_tampered_id_token(real_id_token):
    result, jwks, pending = real_id_token
    header, _payload, signature = result.tokens.id_token.split(".")
    claims = jwt.decode(result.tokens.id_token, options={"verify_signature": False})
    forged_payload = jwt.utils.base64url_encode(
        jwt.api_jws.json.dumps({**claims, "webid": "https://evil.example/me"}).encode()
    ).decode()
    with pytest.raises(errors.InvalidIdToken, match="signature"):
        validate_id_token(
            f"{header}.{forged_payload}.{signature}",
            jwks=jwks,
            issuer=pending.issuer,
            client_id=pending.client_id,
            nonce=pending.nonce,
            now=result.id_token.issued_at + 1,
        )


def test_a_webid_is_only_believed_from_an_issuer_its_profile_trusts(css, make_account):
    person = make_account("person")
    http = Http()
    check_issuer_for_webid(http, person.webid, css.issuer)
    with pytest.raises(errors.LoginFailed, match="not one that"):
        check_issuer_for_webid(http, person.webid, "https://idp.attacker.example/")


def test_session_renews_its_token_before_expiry(make_user):
    alice = make_user("alice")
    session = alice.session
    first = session.tokens
    # Pretend the token is about to expire: the next request must renew it first.
    session._tokens = replace(first, expires_at=0.0)
    alice.client.get(alice.pod + "profile/card")
    assert session.tokens.access_token != first.access_token
    assert session.tokens.expires_at > first.expires_at - 600
