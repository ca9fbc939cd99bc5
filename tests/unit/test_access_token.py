"""Verifying DPoP-bound Solid access tokens as a resource server, with real keys.

The caller's identity provider (configuration and JWKS) and WebID profile are served by
`responses`, so discovery runs through the real HTTP layer, and every test can count what was
fetched. The caller makes its proofs with our own `ProofFactory`. Time is always passed in.
"""

import json
import threading

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from connectors.solid import errors
from connectors.solid.dpop import DPoPKey, ProofFactory, ServerState
from connectors.solid.dpop_verify import ReplayCache
from connectors.solid.http import Http
from connectors.solid.oidc import AccessTokenVerifier, VerifiedAccess, www_authenticate

NOW = 1_700_000_000.0
ISSUER = "https://idp.example/"
WEBID = "https://pod.example/alice/profile/card#me"
PROFILE = "https://pod.example/alice/profile/card"
CLIENT_ID = "alices-script"
API = "https://datacage.example/api/spaces"


class Clock:
    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Provider:
    """The caller's identity provider: one signing key, its configuration, its JWKS."""

    def __init__(self, issuer: str = ISSUER):
        self.issuer = issuer
        self.key = ec.generate_private_key(ec.SECP256R1())

    def serve(self, mock: responses.RequestsMock) -> None:
        mock.get(
            self.issuer + ".well-known/openid-configuration",
            json={
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "auth",
                "token_endpoint": self.issuer + "token",
                "jwks_uri": self.issuer + "jwks",
            },
        )
        jwk = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        mock.get(self.issuer + "jwks", json={"keys": [{**jwk, "kid": "k1", "use": "sig"}]})

    def token(self, dpop_key: DPoPKey, signer=None, alg="ES256", **changes) -> str:
        claims = {
            "iss": self.issuer,
            "aud": "solid",
            "webid": WEBID,
            "client_id": CLIENT_ID,
            "sub": CLIENT_ID,
            "iat": NOW - 10,
            "exp": NOW + 600,
            "cnf": {"jkt": dpop_key.thumbprint},
        }
        claims.update(changes)
        claims = {name: value for name, value in claims.items() if value is not None}
        # PyJWS rather than jwt.encode, which would refuse to sign the malformed claims we test.
        payload = json.dumps(claims).encode()
        headers = {"kid": "k1", "typ": "at+jwt"}
        return jwt.api_jws.encode(payload, signer or self.key, alg, headers=headers)


def profile(*issuers: str) -> str:
    trusted = "".join(f"<#me> solid:oidcIssuer <{issuer}> .\n" for issuer in issuers)
    return f"@prefix solid: <http://www.w3.org/ns/solid/terms#> .\n{trusted}"


class Caller:
    """A script with its DPoP key, making a fresh proof per request."""

    def __init__(self, clock: Clock):
        self.key = DPoPKey.generate()
        self.proofs = ProofFactory(self.key, ServerState(clock))

    def headers(self, token: str, method: str = "GET", url: str = API) -> dict[str, str]:
        return {
            "authorization": f"DPoP {token}",
            "dpop": self.proofs.proof(method, url, token),
        }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
def web(provider):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        provider.serve(mock)
        mock.get(PROFILE, body=profile(ISSUER), content_type="text/turtle")
        yield mock


@pytest.fixture
def caller(clock) -> Caller:
    return Caller(clock)


@pytest.fixture
def verifier(web, clock) -> AccessTokenVerifier:
    return AccessTokenVerifier(Http(), clock=clock)


def verify(verifier, headers: dict[str, str], method: str = "GET", url: str = API):
    return verifier.verify(method=method, url=url, **headers)


def refused(verifier, headers, reason: str, error: str | None = "invalid_token", **request):
    with pytest.raises(errors.InvalidAccessToken, match=reason) as caught:
        verify(verifier, headers, **request)
    assert caught.value.error == error
    assert caught.value.http_status == 401
    return caught.value


def fetched(web) -> list[str]:
    return [call.request.url for call in web.calls]


# --- Accepted -----------------------------------------------------------------------------


def test_a_good_token_and_proof_give_the_callers_webid(verifier, provider, caller, web):
    access = verify(verifier, caller.headers(provider.token(caller.key)))
    assert access == VerifiedAccess(
        webid=WEBID, issuer=ISSUER, client_id=CLIENT_ID, jkt=caller.key.thumbprint
    )
    assert fetched(web) == [
        ISSUER + ".well-known/openid-configuration",
        ISSUER + "jwks",
        PROFILE,
    ]


def test_an_audience_list_containing_solid_is_accepted(verifier, provider, caller):
    token = provider.token(caller.key, aud=["solid", CLIENT_ID])
    assert verify(verifier, caller.headers(token)).webid == WEBID


def test_the_scheme_name_is_case_insensitive(verifier, provider, caller):
    token = provider.token(caller.key)
    headers = caller.headers(token)
    headers["authorization"] = f"dpop {token}"
    verify(verifier, headers)


def test_a_second_request_fetches_nothing_until_the_cache_expires(
    verifier, provider, caller, web, clock
):
    token = provider.token(caller.key)
    verify(verifier, caller.headers(token))
    verify(verifier, caller.headers(token))
    assert len(web.calls) == 3
    clock.now += 301
    verify(verifier, caller.headers(provider.token(caller.key, iat=clock.now)))
    assert len(web.calls) == 6


def test_a_trusted_issuer_may_be_named_without_its_trailing_slash(web, clock, provider, caller):
    verifier = AccessTokenVerifier(Http(), trusted_issuers=["https://idp.example"], clock=clock)
    verify(verifier, caller.headers(provider.token(caller.key)))


def test_an_http_localhost_issuer_is_allowed_for_development(web, clock, caller):
    local = Provider("http://localhost:3000/")
    local.serve(web)
    web.replace(responses.GET, PROFILE, body=profile(local.issuer), content_type="text/turtle")
    verifier = AccessTokenVerifier(Http(), clock=clock)
    assert verify(verifier, caller.headers(local.token(caller.key))).issuer == local.issuer


# --- Refused before any network call ----------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "  "])
def test_no_credentials_is_refused_without_an_error_code(verifier, authorization, web):
    error = refused(
        verifier, {"authorization": authorization, "dpop": None}, "No credentials", None
    )
    assert www_authenticate(error).startswith('DPoP algs="ES256 ')
    assert fetched(web) == []


def test_a_bearer_token_is_refused_because_solid_tokens_are_dpop_bound(
    verifier, provider, caller, web
):
    headers = caller.headers(provider.token(caller.key))
    headers["authorization"] = headers["authorization"].replace("DPoP ", "Bearer ")
    refused(verifier, headers, "DPoP-bound: send Authorization: DPoP")
    assert fetched(web) == []


@pytest.mark.parametrize(
    "authorization", ["Basic dXNlcjpwdw==", "DPoP", "DPoP a b", "DPoP " + "a" * 17000]
)
def test_other_schemes_and_malformed_tokens_are_refused(verifier, authorization):
    refused(verifier, {"authorization": authorization, "dpop": "x"}, "scheme|missing or malformed")


def test_a_token_without_a_proof_is_refused(verifier, provider, caller):
    headers = {"authorization": f"DPoP {provider.token(caller.key)}", "dpop": None}
    refused(verifier, headers, "needs a DPoP proof", "invalid_dpop_proof")


def test_a_proof_for_another_url_is_refused(verifier, provider, caller, web):
    headers = caller.headers(provider.token(caller.key), url="https://datacage.example/api/other")
    refused(verifier, headers, "another URL", "invalid_dpop_proof")
    assert fetched(web) == []


def test_a_proof_for_another_method_is_refused(verifier, provider, caller):
    headers = caller.headers(provider.token(caller.key), method="POST")
    refused(verifier, headers, "another HTTP method", "invalid_dpop_proof")


def test_a_proof_for_another_token_is_refused(verifier, provider, caller):
    headers = caller.headers(provider.token(caller.key))
    headers["authorization"] = f"DPoP {provider.token(caller.key, exp=NOW + 500)}"
    refused(verifier, headers, "another access token", "invalid_dpop_proof")


@pytest.mark.parametrize("alg", ["HS256", "none"])
def test_symmetric_or_no_signatures_are_refused(verifier, caller, alg, web):
    key = "shared-secret-of-at-least-32-bytes!!" if alg == "HS256" else None
    claims = {"iss": ISSUER, "aud": "solid", "webid": WEBID, "cnf": {"jkt": caller.key.thumbprint}}
    token = jwt.encode(claims, key, alg)
    refused(verifier, caller.headers(token), f"refused algorithm \\({alg}\\)")
    assert fetched(web) == []


def test_an_issuer_outside_the_trusted_list_causes_no_http_call(web, clock, provider, caller):
    verifier = AccessTokenVerifier(
        Http(), trusted_issuers=["https://other-idp.example/"], clock=clock
    )
    refused(verifier, caller.headers(provider.token(caller.key)), "not one this server trusts")
    assert fetched(web) == []


@pytest.mark.parametrize(
    "iss",
    [
        "http://idp.example/",
        "http://10.0.0.1/",
        "http://localhost.evil.example/",
        "file:///etc/passwd",
        "https://user@idp.example/",
        "https://idp.example/?q=1",
        "https://idp.example:99999/",
        None,
        42,
    ],
)
def test_issuers_we_must_not_contact_are_refused_without_any_http_call(
    verifier, provider, caller, web, iss
):
    refused(verifier, caller.headers(provider.token(caller.key, iss=iss)), "issuer")
    assert fetched(web) == []


def test_a_malformed_token_is_refused(verifier, caller):
    refused(verifier, caller.headers("not.a.jwt"), "not a well-formed JWT")


# --- Refused after checking with the issuer ---------------------------------------------------


def test_another_audience_is_refused(verifier, provider, caller):
    token = provider.token(caller.key, aud="https://another-server.example/")
    refused(verifier, caller.headers(token), "not meant for this server")


def test_a_server_with_its_own_audience_refuses_solid_tokens(web, clock, provider, caller):
    verifier = AccessTokenVerifier(Http(), audience="https://datacage.example/", clock=clock)
    refused(verifier, caller.headers(provider.token(caller.key)), "aud lacks")


def test_an_expired_token_is_refused(verifier, provider, caller):
    refused(verifier, caller.headers(provider.token(caller.key, exp=NOW - 31)), "has expired")


def test_a_token_expired_within_the_leeway_is_accepted(verifier, provider, caller):
    verify(verifier, caller.headers(provider.token(caller.key, exp=NOW - 29)))


def test_a_token_issued_in_the_future_is_refused(verifier, provider, caller):
    token = provider.token(caller.key, iat=NOW + 120)
    refused(verifier, caller.headers(token), "issued in the future")


@pytest.mark.parametrize("claim", ["exp", "iat"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), "soon", True])
def test_times_that_are_not_finite_numbers_are_refused(verifier, provider, caller, claim, value):
    token = provider.token(caller.key, **{claim: value})
    refused(verifier, caller.headers(token), "exp or iat is not a number")


@pytest.mark.parametrize("claim", ["exp", "iat", "aud"])
def test_a_token_missing_a_required_claim_is_refused(verifier, provider, caller, claim):
    token = provider.token(caller.key, **{claim: None})
    refused(verifier, caller.headers(token), f"not acceptable.*{claim}")


def test_a_token_signed_by_another_key_is_refused(verifier, provider, caller):
    impostor = ec.generate_private_key(ec.SECP256R1())
    token = provider.token(caller.key, signer=impostor)
    refused(verifier, caller.headers(token), "signature does not verify")


def test_a_tampered_token_is_refused(verifier, provider, caller):
    header, _, signature = provider.token(caller.key).split(".")
    forged_claims = jwt.encode({"iss": ISSUER, "webid": "https://pod.example/bob#me"}, "x" * 32)
    forged = f"{header}.{forged_claims.split('.')[1]}.{signature}"
    refused(verifier, caller.headers(forged), "signature does not verify")


def test_a_token_signed_with_an_unpublished_kid_is_refused(verifier, provider, caller):
    claims = jwt.decode(provider.token(caller.key), options={"verify_signature": False})
    token = jwt.encode(claims, provider.key, "ES256", headers={"kid": "rotated-away"})
    refused(verifier, caller.headers(token), "key its issuer does not publish")


def test_a_token_bound_to_another_key_is_refused(verifier, provider, caller, clock):
    thief = Caller(clock)
    stolen = provider.token(caller.key)
    refused(verifier, thief.headers(stolen), "bound to another key", "invalid_token")


def test_a_token_that_is_not_dpop_bound_is_refused(verifier, provider, caller):
    refused(verifier, caller.headers(provider.token(caller.key, cnf=None)), "not DPoP-bound")


@pytest.mark.parametrize(
    ("webid", "reason"),
    [
        (None, "names no WebID"),
        ("alice", "not an http"),
        (7, "no WebID"),
        ("http://[::1/", "not an http"),
        ("https://pod.example/" + "a" * 3000, "too long"),
    ],
)
def test_a_missing_or_invalid_webid_is_refused(verifier, provider, caller, webid, reason):
    refused(verifier, caller.headers(provider.token(caller.key, webid=webid)), reason)


def test_a_webid_whose_profile_does_not_list_the_issuer_is_refused(web, verifier, provider, caller):
    web.replace(
        responses.GET,
        PROFILE,
        body=profile("https://elsewhere.example/"),
        content_type="text/turtle",
    )
    error = refused(verifier, caller.headers(provider.token(caller.key)), "solid:oidcIssuer")
    assert "does not vouch for its issuer" in error.message


def test_a_webid_without_a_profile_is_refused(web, verifier, provider, caller):
    web.replace(responses.GET, PROFILE, status=404)
    refused(verifier, caller.headers(provider.token(caller.key)), "does not vouch.*404")


def test_an_issuer_without_a_configuration_is_refused(web, verifier, provider, caller):
    web.replace(responses.GET, ISSUER + ".well-known/openid-configuration", status=404)
    refused(verifier, caller.headers(provider.token(caller.key)), "no usable OpenID configuration")


def test_an_http_jwks_uri_elsewhere_is_refused(web, verifier, provider, caller):
    config = {"issuer": ISSUER, "authorization_endpoint": "a", "token_endpoint": "t"}
    web.replace(
        responses.GET,
        ISSUER + ".well-known/openid-configuration",
        json={**config, "jwks_uri": "http://169.254.169.254/keys"},
    )
    refused(verifier, caller.headers(provider.token(caller.key)), "jwks_uri must be an https URL")


# --- Upstream trouble stays upstream trouble -------------------------------------------------


def test_an_unavailable_issuer_is_an_upstream_error(web, verifier, provider, caller):
    web.replace(responses.GET, ISSUER + ".well-known/openid-configuration", status=503)
    with pytest.raises(errors.UpstreamUnavailable):
        verify(verifier, caller.headers(provider.token(caller.key)))


def test_an_unreachable_issuer_is_an_upstream_error(web, verifier, provider, caller):
    web.replace(
        responses.GET,
        ISSUER + "jwks",
        body=requests.ConnectionError("refused"),
    )
    with pytest.raises(errors.UpstreamUnavailable):
        verify(verifier, caller.headers(provider.token(caller.key)))


# --- Replay -------------------------------------------------------------------------------------


def test_a_replayed_request_is_refused(verifier, provider, caller):
    headers = caller.headers(provider.token(caller.key))
    verify(verifier, headers)
    refused(verifier, headers, "already used", "invalid_dpop_proof")


def test_requests_refused_for_other_reasons_leave_the_replay_cache_alone(
    web, clock, provider, caller
):
    replay = ReplayCache()
    verifier = AccessTokenVerifier(Http(), replay=replay, clock=clock)
    refused(verifier, caller.headers(provider.token(caller.key, aud="other")), "not meant")
    refused(verifier, Caller(clock).headers(provider.token(caller.key)), "another key")
    assert replay.size == 0
    verify(verifier, caller.headers(provider.token(caller.key)))
    assert replay.size == 1


def test_one_request_sent_from_many_threads_is_accepted_once(verifier, provider, caller):
    headers, outcomes = caller.headers(provider.token(caller.key)), []
    verify(verifier, caller.headers(provider.token(caller.key)))  # warm the caches
    barrier = threading.Barrier(6)

    def attempt():
        barrier.wait()
        try:
            verify(verifier, headers)
            outcomes.append("ok")
        except errors.InvalidAccessToken as exc:
            outcomes.append(exc.error)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["invalid_dpop_proof"] * 5 + ["ok"]


def test_one_trusted_issuer_as_a_bare_string_is_a_configuration_error():
    with pytest.raises(TypeError, match="not one string"):
        AccessTokenVerifier(Http(), trusted_issuers=ISSUER)


def test_a_replay_window_shorter_than_a_proofs_life_is_a_configuration_error():
    with pytest.raises(ValueError, match="shorter"):
        AccessTokenVerifier(Http(), replay=ReplayCache(window_seconds=60))


# --- The challenge header ---------------------------------------------------------------------


def test_www_authenticate_names_the_error_and_the_proof_algorithms():
    error = errors.InvalidAccessToken("The access token has expired.")
    assert www_authenticate(error) == (
        'DPoP error="invalid_token", error_description="The access token has expired.", '
        'algs="ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512 EdDSA"'
    )
    proof_error = errors.InvalidDPoPProof("The DPoP proof is too old (iat).")
    assert www_authenticate(proof_error).startswith('DPoP error="invalid_dpop_proof", ')
    assert www_authenticate(None) == www_authenticate(errors.UpstreamUnavailable("down"))


def test_www_authenticate_keeps_caller_chosen_text_out_of_the_header_syntax():
    error = errors.InvalidAccessToken('issuer "https://x/"\r\nSet-Cookie: a=b\\ é')
    value = www_authenticate(error)
    assert value.isascii()
    assert "\r" not in value
    assert "\n" not in value
    assert 'error_description="issuer https://x/Set-Cookie: a=b "' in value
