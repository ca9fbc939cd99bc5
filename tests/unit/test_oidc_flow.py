"""The browser login's pure parts (RFC 6749 4.1, RFC 7636, RFC 9207) and discovery's refusals."""

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.solid import errors
from connectors.solid.dpop import DPoPKey, ProofFactory
from connectors.solid.http import Http
from connectors.solid.oidc import (
    SOLID_OIDC_CONTEXT,
    IssuerMetadata,
    JwksCache,
    PendingLogin,
    begin_login,
    client_id_document,
    complete_login,
    fetch_issuer_metadata,
    issuers_of_webid,
)

ISSUER = "https://idp.example/"
CLIENT_ID = "https://app.example/clientid.jsonld"
REDIRECT_URI = "https://app.example/login/callback"
WEBID = "https://pod.example/alice/profile/card#me"
PROFILE = "https://pod.example/alice/profile/card"


def metadata(**raw) -> IssuerMetadata:
    return IssuerMetadata(
        issuer=ISSUER,
        authorization_endpoint=ISSUER + ".oidc/auth",
        token_endpoint=ISSUER + ".oidc/token",
        jwks_uri=ISSUER + ".oidc/jwks",
        raw=raw,
    )


def query_of(url: str) -> dict[str, str]:
    params = parse_qs(urlsplit(url).query, strict_parsing=True)
    assert all(len(values) == 1 for values in params.values())
    return {name: values[0] for name, values in params.items()}


def login() -> PendingLogin:
    return begin_login(metadata(), client_id=CLIENT_ID, redirect_uri=REDIRECT_URI)


# --- begin_login --------------------------------------------------------------------------


def test_the_authorization_url_asks_for_a_code_with_an_s256_challenge_and_consent():
    pending = login()
    assert pending.authorization_url.startswith(ISSUER + ".oidc/auth?")
    params = query_of(pending.authorization_url)
    expected_challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(pending.code_verifier.encode()).digest())
        .rstrip(b"=")
        .decode()
    )
    assert params == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid webid offline_access",
        "state": pending.state,
        "nonce": pending.nonce,
        "code_challenge": expected_challenge,
        "code_challenge_method": "S256",
        "prompt": "consent",
    }
    assert pending.code_verifier not in pending.authorization_url


def test_the_pkce_verifier_is_within_rfc7636_bounds_and_alphabet():
    verifier = login().code_verifier
    assert 43 <= len(verifier) <= 128
    unreserved = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    assert set(verifier) <= unreserved


def test_state_nonce_and_verifier_are_long_random_and_fresh_for_every_login():
    logins = [login() for _ in range(20)]
    values = [v for p in logins for v in (p.state, p.nonce, p.code_verifier)]
    assert len(set(values)) == len(values)
    for pending in logins:
        assert len(pending.state) >= 43  # 32 random bytes, base64url
        assert len(pending.nonce) >= 43
        assert len(set(pending.state)) > 16  # not a repeated or counter-like value


def test_an_authorization_endpoint_with_a_query_keeps_it():
    meta = IssuerMetadata(ISSUER, ISSUER + "auth?tenant=7", ISSUER + "token", ISSUER + "jwks")
    pending = begin_login(meta, client_id=CLIENT_ID, redirect_uri=REDIRECT_URI, prompt=None)
    params = query_of(pending.authorization_url)
    assert params["tenant"] == "7"
    assert params["response_type"] == "code"
    assert "prompt" not in params


def test_a_pending_login_round_trips_through_a_dict_and_hides_its_secrets_in_repr():
    pending = login()
    stored = pending.to_dict()
    assert PendingLogin.from_dict(stored) == pending
    assert set(stored) == {
        "issuer",
        "client_id",
        "redirect_uri",
        "state",
        "nonce",
        "code_verifier",
        "authorization_url",
    }
    shown = repr(pending)
    assert ISSUER in shown
    for secret in (pending.state, pending.nonce, pending.code_verifier):
        assert secret not in shown


# --- complete_login: callback checks that need no network ---------------------------------


@pytest.fixture
def no_http():
    """Any HTTP request made under this fixture fails the test: nothing is registered."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        assert len(mock.calls) == 0, "the callback was not refused before any HTTP call"


def finish(pending: PendingLogin, callback: dict, meta: IssuerMetadata | None = None):
    meta = meta or metadata()
    http = Http()
    return complete_login(
        http,
        meta,
        pending,
        callback,
        ProofFactory(DPoPKey.generate()),
        JwksCache(http, meta.jwks_uri),
        now=1_700_000_000.0,
    )


OUR_STATE = "<the state this login sent>"


@pytest.mark.parametrize(
    ("callback", "message"),
    [
        ({"code": "c", "state": "forged", "iss": ISSUER}, "not the one we started"),
        ({"code": "c", "iss": ISSUER}, "not the one we started"),
        ({"error": "access_denied", "iss": ISSUER}, "not the one we started"),
        ({"error": "access_denied", "state": OUR_STATE}, "did not sign you in: access_denied."),
        (
            {"error": "access_denied", "error_description": "Alice said no", "state": OUR_STATE},
            "did not sign you in: Alice said no.",
        ),
        (
            {"code": "c", "state": OUR_STATE, "iss": "https://evil.example/"},
            "came from another identity provider",
        ),
        ({"state": OUR_STATE, "iss": ISSUER}, "carries no authorization code"),
        ({"code": "", "state": OUR_STATE, "iss": ISSUER}, "carries no authorization code"),
    ],
)
def test_a_callback_that_does_not_fit_is_refused_before_any_request(no_http, callback, message):
    pending = login()
    callback = {k: pending.state if v == OUR_STATE else v for k, v in callback.items()}
    with pytest.raises(errors.LoginFailed, match=message):
        finish(pending, callback)


def test_a_callback_without_iss_is_refused_when_the_issuer_promises_to_send_it(no_http):
    pending = login()
    meta = metadata(authorization_response_iss_parameter_supported=True)
    with pytest.raises(errors.LoginFailed, match="does not say which issuer sent it"):
        finish(pending, {"code": "c", "state": pending.state}, meta)


# --- Discovery ----------------------------------------------------------------------------

CONFIGURATION = ISSUER + ".well-known/openid-configuration"


def configuration(**changes) -> dict:
    document = {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + ".oidc/auth",
        "token_endpoint": ISSUER + ".oidc/token",
        "jwks_uri": ISSUER + ".oidc/jwks",
        "scopes_supported": ["openid", "webid", "offline_access"],
    }
    document.update(changes)
    return {name: value for name, value in document.items() if value is not None}


@responses.activate
def test_issuer_metadata_is_read_from_the_well_known_configuration():
    responses.get(CONFIGURATION, json=configuration())
    meta = fetch_issuer_metadata(Http(), "https://idp.example")  # trailing slash forgiven
    assert meta.token_endpoint == ISSUER + ".oidc/token"
    assert meta.scopes_supported == ("openid", "webid", "offline_access")


@responses.activate
def test_a_configuration_naming_another_issuer_is_refused():
    responses.get(CONFIGURATION, json=configuration(issuer="https://evil.example/"))
    with pytest.raises(errors.DiscoveryError) as raised:
        fetch_issuer_metadata(Http(), ISSUER)
    assert "names a different issuer (https://evil.example/)" in str(raised.value)
    assert "OpenID Connect Discovery section 4.3" in str(raised.value)


@pytest.mark.parametrize("missing", ["issuer", "token_endpoint", "jwks_uri"])
@responses.activate
def test_an_incomplete_configuration_is_refused_naming_what_is_missing(missing):
    responses.get(CONFIGURATION, json=configuration(**{missing: None}))
    with pytest.raises(errors.DiscoveryError, match=f"incomplete configuration.*{missing}"):
        fetch_issuer_metadata(Http(), ISSUER)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>hello</html>", "answered with invalid JSON"),
        ("[1, 2, 3]", "is not a JSON object"),
    ],
)
@responses.activate
def test_a_configuration_that_is_not_a_json_object_is_refused(body, message):
    responses.get(CONFIGURATION, body=body, content_type="application/json")
    with pytest.raises(errors.DiscoveryError, match=message):
        fetch_issuer_metadata(Http(), ISSUER)


@responses.activate
def test_a_missing_configuration_is_reported_as_not_found():
    responses.get(CONFIGURATION, status=404)
    with pytest.raises(errors.NotFound, match="The identity provider's configuration at"):
        fetch_issuer_metadata(Http(), ISSUER)


@responses.activate
def test_a_webid_whose_profile_names_no_issuer_cannot_log_in():
    responses.get(
        PROFILE,
        body=f'<{WEBID}> <http://xmlns.com/foaf/0.1/name> "Alice" .',
        content_type="text/turtle",
    )
    with pytest.raises(errors.DiscoveryError) as raised:
        issuers_of_webid(Http(), WEBID)
    assert str(raised.value) == (
        f"The WebID profile of {WEBID} names no identity provider (solid:oidcIssuer)."
    )


@responses.activate
def test_the_issuers_of_a_webid_are_read_from_its_profile_document():
    responses.get(
        PROFILE,
        body=(
            f"<{WEBID}> <http://www.w3.org/ns/solid/terms#oidcIssuer> <{ISSUER}> .\n"
            f"<https://pod.example/bob#me> <http://www.w3.org/ns/solid/terms#oidcIssuer> "
            "<https://evil.example/> ."
        ),
        content_type="text/turtle",
    )
    assert issuers_of_webid(Http(), WEBID) == [ISSUER]
    assert responses.calls[0].request.url == PROFILE  # the fragment is not sent


@pytest.mark.parametrize("webid", ["alice", "urn:uuid:1234", "file:///etc/passwd", "ftp://x/"])
def test_a_webid_that_is_not_an_http_url_is_refused_without_a_request(no_http, webid):
    with pytest.raises(errors.DiscoveryError, match="is not a WebID: a WebID is an http"):
        issuers_of_webid(Http(), webid)


# --- Client ID Document -------------------------------------------------------------------


def test_the_client_id_document_describes_a_public_solid_oidc_client():
    document = client_id_document(
        CLIENT_ID, client_name="Datacage", redirect_uris=[REDIRECT_URI], client_uri=ISSUER
    )
    assert document["@context"] == ["https://www.w3.org/ns/solid/oidc-context.jsonld"]
    assert SOLID_OIDC_CONTEXT == "https://www.w3.org/ns/solid/oidc-context.jsonld"
    assert document["client_id"] == CLIENT_ID
    assert document["client_name"] == "Datacage"
    assert document["redirect_uris"] == [REDIRECT_URI]
    assert document["token_endpoint_auth_method"] == "none"
    assert document["grant_types"] == ["authorization_code", "refresh_token"]
    assert document["response_types"] == ["code"]
    assert "offline_access" in document["scope"].split()
    assert "client_secret" not in document
    assert "logo_uri" not in document


def test_a_client_id_document_without_redirect_uris_is_refused():
    with pytest.raises(ValueError, match="needs at least one redirect URI"):
        client_id_document(CLIENT_ID, client_name="Datacage", redirect_uris=[])


def test_an_incomplete_stored_login_cannot_be_completed_and_says_so():
    stored = login().to_dict()
    del stored["code_verifier"]
    with pytest.raises(errors.LoginFailed, match="please start again"):
        PendingLogin.from_dict(stored)


@responses.activate
def test_metadata_lists_that_are_not_lists_count_as_absent():
    responses.get(CONFIGURATION, json=configuration(scopes_supported="openid webid"))
    assert fetch_issuer_metadata(Http(), ISSUER).scopes_supported == ()
