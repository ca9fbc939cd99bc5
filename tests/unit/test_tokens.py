"""Token endpoint requests and responses (RFC 6749 sections 2.3.1, 5.1, 5.2), DPoP-bound."""

import base64
import json
from urllib.parse import parse_qs

import jwt
import pytest
import responses

from connectors.solid import errors
from connectors.solid.dpop import DPoPKey, ProofFactory
from connectors.solid.http import Http
from connectors.solid.oidc.tokens import ClientAuth, TokenSet, parse_token_response, request_token

TOKEN_ENDPOINT = "https://idp.example/.oidc/token"
ISSUED_AT = 1_700_000_000.0


def body(**fields) -> bytes:
    return json.dumps(fields).encode()


def post_form(call) -> dict[str, list[str]]:
    return parse_qs(call.request.body)


def ask(client: ClientAuth | None = None, form: dict | None = None) -> TokenSet:
    return request_token(
        Http(),
        TOKEN_ENDPOINT,
        form or {"grant_type": "client_credentials", "scope": "webid"},
        ProofFactory(DPoPKey.generate()),
        client or ClientAuth("datacage", "s3cret"),
        now=ISSUED_AT,
    )


# --- parse_token_response ---------------------------------------------------------------------


def test_a_dpop_token_response_becomes_a_token_set_expiring_from_the_given_time():
    tokens = parse_token_response(
        body(
            access_token="at",
            token_type="DPoP",
            expires_in=300,
            refresh_token="rt",
            id_token="it",
            scope="openid webid",
        ),
        issued_at=ISSUED_AT,
    )
    assert tokens == TokenSet("at", "DPoP", ISSUED_AT + 300, "rt", "it", ("openid", "webid"))
    assert tokens.expires_within(60, now=ISSUED_AT + 240)
    assert not tokens.expires_within(60, now=ISSUED_AT + 239)


def test_the_token_type_is_compared_without_case():
    assert parse_token_response(body(access_token="at", token_type="dpop"), 0).token_type == "DPoP"


def test_a_response_without_expires_in_never_expires_by_itself():
    tokens = parse_token_response(body(access_token="at", token_type="DPoP"), ISSUED_AT)
    assert tokens.expires_at is None
    assert not tokens.expires_within(10_000, now=ISSUED_AT + 1e9)


@pytest.mark.parametrize("token_type", ["Bearer", "bearer"])
def test_a_bearer_token_is_refused(token_type):
    with pytest.raises(errors.TokenRequestFailed) as raised:
        parse_token_response(
            body(access_token="leaked-bearer-token", token_type=token_type), ISSUED_AT
        )
    assert f"issued a {token_type} token instead of a DPoP-bound one" in str(raised.value)
    assert "leaked-bearer-token" not in str(raised.value)


def test_an_untyped_token_is_refused():
    with pytest.raises(errors.TokenRequestFailed, match="of no declared type instead of a DPoP"):
        parse_token_response(body(access_token="at"), ISSUED_AT)


@pytest.mark.parametrize(
    "payload",
    [body(token_type="DPoP"), body(access_token=42, token_type="DPoP"), b"[]", b'"at"'],
    ids=["missing", "not-a-string", "array", "string"],
)
def test_a_response_without_an_access_token_is_refused(payload):
    with pytest.raises(errors.TokenRequestFailed, match="answer has no access token"):
        parse_token_response(payload, ISSUED_AT)


@pytest.mark.parametrize("expires_in", ["3600", [3600], {"s": 1}, True])
def test_a_non_numeric_expires_in_is_refused(expires_in):
    with pytest.raises(errors.TokenRequestFailed, match="non-numeric expires_in"):
        parse_token_response(
            body(access_token="at", token_type="DPoP", expires_in=expires_in), ISSUED_AT
        )


@pytest.mark.parametrize("payload", [b"", b"{not json", b"\xff\xfe"])
def test_a_response_that_is_not_json_is_refused(payload):
    with pytest.raises(errors.TokenRequestFailed, match="answered with invalid JSON"):
        parse_token_response(payload, ISSUED_AT)


def test_empty_optional_tokens_count_as_absent():
    tokens = parse_token_response(
        body(access_token="at", token_type="DPoP", refresh_token="", id_token=None), ISSUED_AT
    )
    assert tokens.refresh_token is None
    assert tokens.id_token is None


# --- request_token ----------------------------------------------------------------------------


@responses.activate
def test_a_refused_grant_names_the_grant_and_the_oauth_error():
    responses.post(
        TOKEN_ENDPOINT,
        status=400,
        json={"error": "invalid_grant", "error_description": "refresh token revoked"},
    )
    with pytest.raises(errors.TokenRequestFailed) as raised:
        ask(form={"grant_type": "refresh_token", "refresh_token": "old-refresh-token"})
    message = str(raised.value)
    assert message == (
        "The identity provider refused the refresh_token grant: invalid_grant "
        "(refresh token revoked)."
    )
    assert "old-refresh-token" not in message
    assert len(responses.calls) == 1  # an OAuth error is not a DPoP challenge: no retry


@responses.activate
def test_a_refused_client_is_a_token_error_naming_invalid_client():
    responses.post(TOKEN_ENDPOINT, status=401, json={"error": "invalid_client"})
    with pytest.raises(errors.TokenRequestFailed) as raised:
        ask()
    assert "refused the client_credentials grant: invalid_client" in str(raised.value)
    assert "s3cret" not in str(raised.value)


@responses.activate
def test_an_unknown_oauth_error_code_is_still_reported_by_name():
    responses.post(TOKEN_ENDPOINT, status=400, json={"error": "account_suspended"})
    with pytest.raises(errors.TokenRequestFailed, match="grant: account_suspended"):
        ask()


@responses.activate
def test_an_error_body_that_is_not_an_oauth_error_still_says_the_grant_was_refused():
    responses.post(TOKEN_ENDPOINT, status=400, body="[1, 2]", content_type="application/json")
    with pytest.raises(errors.TokenRequestFailed) as raised:
        ask()
    assert str(raised.value) == "The identity provider refused the client_credentials grant."


@responses.activate
def test_a_token_endpoint_failure_is_an_upstream_error():
    responses.post(TOKEN_ENDPOINT, status=500, json={"error": "server_error"})
    with pytest.raises(errors.UpstreamError) as raised:
        ask()
    assert not isinstance(raised.value, errors.AuthenticationError)
    assert "The server failed while handling The identity provider's token endpoint (500)" in str(
        raised.value
    )


@responses.activate
def test_client_secret_basic_form_urlencodes_id_and_secret_before_base64():
    responses.post(TOKEN_ENDPOINT, json={"access_token": "at", "token_type": "DPoP"})
    ask(client=ClientAuth("svc:data+cage", "p+ss:word/="))
    header = responses.calls[0].request.headers["Authorization"]
    scheme, _, encoded = header.partition(" ")
    assert scheme == "Basic"
    # RFC 6749 section 2.3.1: ':' and '+' must not survive as themselves, or the server would
    # split at the wrong colon and read '+' as a space.
    assert base64.b64decode(encoded).decode() == "svc%3Adata%2Bcage:p%2Bss%3Aword%2F%3D"
    assert "client_id" not in post_form(responses.calls[0])


@responses.activate
def test_a_public_client_sends_its_client_id_in_the_form_and_no_authorization():
    responses.post(TOKEN_ENDPOINT, json={"access_token": "at", "token_type": "DPoP"})
    ask(client=ClientAuth("https://app.example/clientid.jsonld"))
    sent = responses.calls[0].request
    assert "Authorization" not in sent.headers
    assert post_form(responses.calls[0]) == {
        "grant_type": ["client_credentials"],
        "scope": ["webid"],
        "client_id": ["https://app.example/clientid.jsonld"],
    }


@responses.activate
def test_the_token_request_carries_a_dpop_proof_without_ath():
    responses.post(TOKEN_ENDPOINT, json={"access_token": "at", "token_type": "DPoP"})
    key = DPoPKey.generate()
    request_token(
        Http(),
        TOKEN_ENDPOINT + "?tenant=1",
        {"grant_type": "client_credentials"},
        ProofFactory(key),
        ClientAuth("datacage", "s3cret"),
        now=ISSUED_AT,
    )
    proof = responses.calls[0].request.headers["DPoP"]
    header = jwt.get_unverified_header(proof)
    assert header["jwk"] == key.public_jwk
    claims = jwt.decode(proof, key=jwt.PyJWK(header["jwk"]).key, algorithms=["ES256"])
    assert claims["htm"] == "POST"
    assert claims["htu"] == TOKEN_ENDPOINT
    assert "ath" not in claims


@responses.activate
def test_a_granted_token_expires_from_the_time_the_request_was_made():
    responses.post(
        TOKEN_ENDPOINT, json={"access_token": "at", "token_type": "DPoP", "expires_in": 600}
    )
    assert ask().expires_at == ISSUED_AT + 600


# --- TokenSet and ClientAuth ------------------------------------------------------------------


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one():
    old = TokenSet("at-1", "DPoP", 100.0, "rt-1", "it-1", ("openid",))
    newer = TokenSet("at-2", "DPoP", 200.0)
    merged = old.merged_with(newer)
    assert merged == TokenSet("at-2", "DPoP", 200.0, "rt-1", "it-1", ("openid",))


def test_a_refresh_with_a_rotated_refresh_token_uses_the_new_one():
    old = TokenSet("at-1", "DPoP", 100.0, "rt-1")
    newer = TokenSet("at-2", "DPoP", 200.0, "rt-2")
    assert old.merged_with(newer) is newer


def test_reprs_keep_tokens_and_secrets_out_of_logs():
    tokens = TokenSet("ACCESS-abc", "DPoP", 1.0, "REFRESH-def", "IDTOKEN-ghi", ("webid",))
    client = ClientAuth("datacage", "SECRET-jkl")
    shown = repr(tokens) + repr(client)
    for secret in ("ACCESS-abc", "REFRESH-def", "IDTOKEN-ghi", "SECRET-jkl"):
        assert secret not in shown
    assert "datacage" in shown
    assert "DPoP" in shown
