"""DPoP proofs (RFC 9449 section 4) and the challenge-retry logic, checked with real keys."""

import hashlib
import time

import jwt
import pytest
import responses

from connectors.solid.dpop import (
    SKEW_TOLERANCE_SECONDS,
    DPoPAuth,
    DPoPKey,
    ProofFactory,
    ServerState,
    access_token_hash,
    b64url,
    htu_of,
    jwk_thumbprint,
    parse_challenges,
)
from connectors.solid.http import Http


def decode(proof: str) -> tuple[dict, dict]:
    header = jwt.get_unverified_header(proof)
    key = jwt.PyJWK(header["jwk"]).key
    return header, jwt.decode(proof, key=key, algorithms=["ES256"])


def test_proof_has_the_required_header_and_claims():
    factory = ProofFactory(DPoPKey.generate())
    header, claims = decode(factory.proof("get", "https://pod.example/a/b?x=1#frag"))
    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == "ES256"
    assert set(header["jwk"]) == {"kty", "crv", "x", "y"}  # public members only
    assert claims["htm"] == "GET"
    assert claims["htu"] == "https://pod.example/a/b"
    assert abs(claims["iat"] - time.time()) < 5
    assert "ath" not in claims
    assert "nonce" not in claims


def test_every_proof_has_a_fresh_jti():
    factory = ProofFactory(DPoPKey.generate())
    jtis = {decode(factory.proof("GET", "https://p.example/"))[1]["jti"] for _ in range(50)}
    assert len(jtis) == 50


def test_ath_is_the_base64url_sha256_of_the_token():
    factory = ProofFactory(DPoPKey.generate())
    _, claims = decode(factory.proof("GET", "https://p.example/r", access_token="tok.en"))
    assert claims["ath"] == b64url(hashlib.sha256(b"tok.en").digest())
    assert claims["ath"] == access_token_hash("tok.en")


@pytest.mark.parametrize(
    ("url", "htu"),
    [
        ("https://user:pw@Pod.Example:8443/a?q#f", "https://pod.example:8443/a"),
        ("http://localhost:3000", "http://localhost:3000/"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_htu_drops_userinfo_query_and_fragment(url, htu):
    assert htu_of(url) == htu


def test_thumbprint_matches_rfc7638_example():
    # RFC 7638 section 3.1 uses an RSA key; this EC key's value was computed independently
    # with `jwcrypto` on the canonical JSON {"crv","kty","x","y"}.
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    }
    canonical = (
        '{"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",'
        '"y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}'
    )
    assert jwk_thumbprint(jwk) == b64url(hashlib.sha256(canonical.encode()).digest())


def test_key_round_trips_through_pem_with_and_without_password():
    key = DPoPKey.generate()
    assert DPoPKey.from_pem(key.to_pem()).thumbprint == key.thumbprint
    sealed = key.to_pem(password=b"correct horse")
    assert b"ENCRYPTED" in sealed
    assert DPoPKey.from_pem(sealed, password=b"correct horse").thumbprint == key.thumbprint


def test_clock_skew_is_adopted_from_the_date_header_only_when_far_off():
    fake_now = 1_700_000_000.0
    state = ServerState(clock=lambda: fake_now)
    origin = "https://pod.example"
    near = "Tue, 14 Nov 2023 22:13:22 GMT"  # fake_now + 2 s
    assert not state.observe_date(origin, near)
    assert state.now(origin) == fake_now
    far = "Tue, 14 Nov 2023 22:23:20 GMT"  # fake_now + 600 s
    assert state.observe_date(origin, far)
    assert state.now(origin) == pytest.approx(fake_now + 600)
    assert state.now("https://other.example") == fake_now  # per origin
    assert SKEW_TOLERANCE_SECONDS > 1


def test_challenges_are_attributed_to_their_scheme():
    header = (
        'Bearer realm="pod", error="invalid_token", '
        'DPoP algs="ES256 PS256", error="use_dpop_nonce", error_description="fresh, please"'
    )
    challenges = parse_challenges(header)
    assert challenges["bearer"] == {"realm": "pod", "error": "invalid_token"}
    assert challenges["dpop"]["error"] == "use_dpop_nonce"
    assert challenges["dpop"]["algs"] == "ES256 PS256"
    assert challenges["dpop"]["error_description"] == "fresh, please"


class _Tokens:
    def __init__(self):
        self.issued = ["first"]

    def access_token(self):
        return self.issued[-1]

    def renew(self, rejected):
        self.issued.append("second")
        return True


@responses.activate
def test_a_nonce_challenge_is_retried_once_with_the_nonce():
    url = "https://pod.example/r"
    responses.get(
        url,
        status=401,
        headers={"WWW-Authenticate": 'DPoP error="use_dpop_nonce"', "DPoP-Nonce": "n-1"},
    )
    responses.get(url, status=200, body="ok")
    response = Http().request(
        "GET", url, auth=DPoPAuth(ProofFactory(DPoPKey.generate()), _Tokens())
    )
    assert response.status_code == 200
    assert len(responses.calls) == 2
    _, first = decode(responses.calls[0].request.headers["DPoP"])
    _, second = decode(responses.calls[1].request.headers["DPoP"])
    assert "nonce" not in first
    assert second["nonce"] == "n-1"
    assert first["jti"] != second["jti"]


@responses.activate
def test_a_server_that_keeps_asking_for_nonces_is_not_retried_forever():
    url = "https://pod.example/r"
    for n in range(5):
        responses.get(
            url,
            status=401,
            headers={"WWW-Authenticate": 'DPoP error="use_dpop_nonce"', "DPoP-Nonce": f"n-{n}"},
        )
    response = Http().request(
        "GET", url, auth=DPoPAuth(ProofFactory(DPoPKey.generate()), _Tokens())
    )
    assert response.status_code == 401
    assert len(responses.calls) == 2


@responses.activate
def test_an_authorization_server_nonce_challenge_is_a_400_with_json():
    url = "https://idp.example/token"
    responses.post(
        url, status=400, json={"error": "use_dpop_nonce"}, headers={"DPoP-Nonce": "as-1"}
    )
    responses.post(url, status=200, json={"access_token": "a", "token_type": "DPoP"})
    response = Http().request(
        "POST",
        url,
        auth=DPoPAuth(ProofFactory(DPoPKey.generate())),
        data={"grant_type": "client_credentials"},
    )
    assert response.status_code == 200
    assert decode(responses.calls[1].request.headers["DPoP"])[1]["nonce"] == "as-1"
    assert responses.calls[1].request.body == responses.calls[0].request.body


@responses.activate
def test_a_refused_token_is_renewed_once():
    url = "https://pod.example/r"
    responses.get(url, status=401, headers={"WWW-Authenticate": 'DPoP error="invalid_token"'})
    responses.get(url, status=200)
    tokens = _Tokens()
    response = Http().request("GET", url, auth=DPoPAuth(ProofFactory(DPoPKey.generate()), tokens))
    assert response.status_code == 200
    assert responses.calls[0].request.headers["Authorization"] == "DPoP first"
    assert responses.calls[1].request.headers["Authorization"] == "DPoP second"


@responses.activate
def test_a_proof_refused_because_of_our_clock_is_retried_on_the_servers_clock():
    url = "https://pod.example/r"
    server_time = "Tue, 14 Nov 2023 22:23:20 GMT"
    responses.get(
        url,
        status=401,
        headers={"WWW-Authenticate": 'DPoP error="invalid_dpop_proof"', "Date": server_time},
    )
    responses.get(url, status=200)
    local_now = 1_700_000_000.0 - 3600  # our clock is an hour behind
    factory = ProofFactory(DPoPKey.generate(), ServerState(clock=lambda: local_now))
    response = Http().request("GET", url, auth=DPoPAuth(factory, _Tokens()))
    assert response.status_code == 200
    _, retried = decode(responses.calls[1].request.headers["DPoP"])
    assert retried["iat"] == 1_700_000_600


def test_nonces_are_kept_per_origin_and_server_role():
    from connectors.solid.dpop import AUTHORIZATION_SERVER, RESOURCE_SERVER

    state = ServerState()
    origin = "http://localhost:3000"
    state.remember_nonce(origin, "as-1", AUTHORIZATION_SERVER)
    state.remember_nonce(origin, "rs-1", RESOURCE_SERVER)
    assert state.nonce(origin, AUTHORIZATION_SERVER) == "as-1"
    assert state.nonce(origin, RESOURCE_SERVER) == "rs-1"
    factory = ProofFactory(DPoPKey.generate(), state)
    assert decode(factory.proof("POST", origin + "/.oidc/token"))[1]["nonce"] == "as-1"
    assert decode(factory.proof("GET", origin + "/alice/", "tok"))[1]["nonce"] == "rs-1"


@responses.activate
def test_a_bearer_challenge_without_an_error_code_renews_a_token_once():
    """What Community Solid Server sends for any refused token."""
    url = "https://pod.example/r"
    for _ in range(3):
        responses.get(url, status=401, headers={"WWW-Authenticate": 'Bearer scope="openid webid"'})
    tokens = _Tokens()
    response = Http().request("GET", url, auth=DPoPAuth(ProofFactory(DPoPKey.generate()), tokens))
    assert response.status_code == 401
    assert len(responses.calls) == 2  # one renewal, one retry, no loop
    assert responses.calls[1].request.headers["Authorization"] == "DPoP second"
