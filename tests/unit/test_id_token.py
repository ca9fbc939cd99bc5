"""ID token validation (OpenID Connect Core 3.1.3.7 + Solid-OIDC's WebID) with real keys.

The identity provider's keys are real EC keys; its JWKS is served at a jwks_uri by `responses`,
so `JwksCache` fetches it through the real HTTP layer. Time is always passed in.
"""

import hashlib
import hmac
import json

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm

from connectors.solid import errors
from connectors.solid.dpop import b64url
from connectors.solid.http import Http
from connectors.solid.oidc import IdTokenClaims, JwksCache, validate_id_token

ISSUER = "https://idp.example/"
JWKS_URI = "https://idp.example/.oidc/jwks"
CLIENT_ID = "https://app.example/clientid.jsonld"
WEBID = "https://pod.example/alice/profile/card#me"
NONCE = "n-0S6_WzA2Mj"
NOW = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Issuer:
    """An identity provider's signing keys, published as a JWKS."""

    def __init__(self):
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}

    def new_key(self, kid: str) -> ec.EllipticCurvePrivateKey:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        return self.keys[kid]

    def jwks(self, *kids: str) -> dict:
        entries = []
        for kid in kids or tuple(self.keys):
            entry = ECAlgorithm.to_jwk(self.keys[kid].public_key(), as_dict=True)
            entries.append({**entry, "kid": kid, "use": "sig", "alg": "ES256"})
        return {"keys": entries}

    def sign(self, claims: dict, kid: str = "k1") -> str:
        return jwt.encode(claims, self.keys[kid], algorithm="ES256", headers={"kid": kid})


def claims(**changes) -> dict:
    base = {
        "iss": ISSUER,
        "sub": "alice-at-idp",
        "aud": CLIENT_ID,
        "webid": WEBID,
        "exp": NOW + 300,
        "iat": NOW - 5,
        "nonce": NONCE,
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def unsigned(header: dict, payload: dict, signature: bytes = b"") -> str:
    parts = [json.dumps(header).encode(), json.dumps(payload).encode()]
    return ".".join([*(b64url(part) for part in parts), b64url(signature)])


@pytest.fixture
def issuer() -> Issuer:
    idp = Issuer()
    idp.new_key("k1")
    return idp


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jwks_endpoint(issuer):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(JWKS_URI, json=issuer.jwks())
        yield mock


@pytest.fixture
def cache(jwks_endpoint, clock) -> JwksCache:
    return JwksCache(Http(), JWKS_URI, clock=clock)


def validate(token: str, cache: JwksCache, *, now: float = NOW, **options) -> IdTokenClaims:
    return validate_id_token(
        token,
        jwks=cache,
        issuer=options.pop("issuer", ISSUER),
        client_id=CLIENT_ID,
        nonce=options.pop("nonce", NONCE),
        now=now,
        **options,
    )


# --- Accepted -----------------------------------------------------------------------------


def test_a_valid_id_token_gives_its_checked_claims(issuer, cache, jwks_endpoint):
    checked = validate(issuer.sign(claims()), cache)
    assert checked.webid == WEBID
    assert checked.issuer == ISSUER
    assert checked.subject == "alice-at-idp"
    assert checked.audience == (CLIENT_ID,)
    assert (checked.expires_at, checked.issued_at) == (NOW + 300, NOW - 5)
    assert len(jwks_endpoint.calls) == 1


def test_a_sub_that_is_a_url_serves_as_the_webid(issuer, cache):
    assert validate(issuer.sign(claims(webid=None, sub=WEBID)), cache).webid == WEBID


def test_several_audiences_are_accepted_when_we_are_the_authorised_party(issuer, cache):
    token = issuer.sign(claims(aud=[CLIENT_ID, "solid"], azp=CLIENT_ID))
    assert validate(token, cache).audience == (CLIENT_ID, "solid")


def test_an_issuer_differing_only_by_a_trailing_slash_is_the_same_issuer(issuer, cache):
    assert validate(issuer.sign(claims(iss="https://idp.example")), cache).webid == WEBID


# --- Refused algorithms and signatures ----------------------------------------------------


def test_an_unsigned_token_is_refused_before_any_key_is_fetched(cache, jwks_endpoint):
    token = unsigned({"alg": "none", "typ": "JWT"}, claims())
    with pytest.raises(errors.InvalidIdToken, match=r"uses a refused algorithm \(none\)"):
        validate(token, cache)
    assert len(jwks_endpoint.calls) == 0


def test_an_hmac_token_keyed_with_the_public_key_is_refused(issuer, cache, jwks_endpoint):
    # The classic algorithm confusion: HS256 "signed" with the issuer's public key, which an
    # attacker knows, in the hope that the verifier uses that key as an HMAC secret.
    public_pem = (
        issuer.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    signing_input = unsigned(header, claims()).rsplit(".", 1)[0]
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64url(signature)}"
    with pytest.raises(errors.InvalidIdToken, match=r"uses a refused algorithm \(HS256\)"):
        validate(token, cache)
    assert len(jwks_endpoint.calls) == 0


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(cache):
    impostor = Issuer()
    impostor.new_key("k1")
    with pytest.raises(errors.InvalidIdToken, match="signature does not verify"):
        validate(impostor.sign(claims()), cache)


def test_an_rsa_algorithm_claimed_for_an_ec_key_is_refused(cache):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(
        errors.InvalidIdToken, match=r"algorithm \(RS256\) does not fit the identity"
    ):
        validate(token, cache)


def test_a_token_that_is_not_a_jwt_is_refused(cache):
    with pytest.raises(errors.InvalidIdToken, match="not a well-formed JWT"):
        validate("not-a-jwt", cache)


def test_an_unknown_kid_is_refused_after_one_refetch(issuer, cache, clock, jwks_endpoint):
    validate(issuer.sign(claims()), cache)
    clock.now += 120
    issuer.new_key("k-unpublished")
    with pytest.raises(errors.InvalidIdToken) as raised:
        validate(issuer.sign(claims(), kid="k-unpublished"), cache)
    assert str(raised.value) == (
        "The token is signed with a key (k-unpublished) the identity provider does not publish."
    )
    assert len(jwks_endpoint.calls) == 2


# --- Refused claims -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"webid": None}, "names no WebID"),
        ({"webid": None, "sub": "urn:uuid:1234"}, "names no WebID"),
        ({"aud": "https://other.example/app"}, "issued for another application"),
        (
            {"aud": [CLIENT_ID, "https://other.example/app"], "azp": "https://other.example/app"},
            "authorised party is another application",
        ),
        ({"azp": "https://other.example/app"}, "authorised party is another application"),
        ({"webid": "not a url", "sub": "https://pod.example/me"}, "webid claim is not an http"),
        ({"iss": "https://evil.example/"}, "issued by https://evil.example/, not by"),
        ({"nonce": "replayed"}, "nonce mismatch"),
        ({"nonce": None}, "nonce mismatch"),
        ({"exp": "tomorrow"}, "exp or iat is not a number"),
        ({"aud": None}, 'missing the "aud" claim'),
    ],
)
def test_a_token_that_does_not_fit_this_login_is_refused(issuer, cache, changes, message):
    with pytest.raises(errors.InvalidIdToken, match=message):
        validate(issuer.sign(claims(**changes)), cache)


# --- Time, with leeway --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exp", "accepted"),
    [(NOW, True), (NOW - 60, True), (NOW - 60.5, False), (NOW - 3600, False)],
)
def test_expiry_is_checked_against_the_given_time_with_a_minute_of_leeway(
    issuer, cache, exp, accepted
):
    token = issuer.sign(claims(exp=exp, iat=NOW - 3700))
    if accepted:
        assert validate(token, cache).expires_at == exp
    else:
        with pytest.raises(errors.InvalidIdToken, match="has expired; please sign in again"):
            validate(token, cache)


@pytest.mark.parametrize(("iat", "accepted"), [(NOW + 60, True), (NOW + 61, False)])
def test_a_token_from_the_future_is_refused_beyond_the_leeway(issuer, cache, iat, accepted):
    token = issuer.sign(claims(iat=iat, exp=NOW + 600))
    if accepted:
        assert validate(token, cache).issued_at == iat
    else:
        with pytest.raises(errors.InvalidIdToken, match="claims to be issued in the future"):
            validate(token, cache)


def test_the_leeway_can_be_tightened(issuer, cache):
    token = issuer.sign(claims(exp=NOW - 1))
    with pytest.raises(errors.InvalidIdToken, match="has expired"):
        validate(token, cache, leeway=0)


# --- JwksCache ----------------------------------------------------------------------------


def test_the_key_cache_refetches_an_unknown_kid_at_most_once_a_minute(
    issuer, cache, clock, jwks_endpoint
):
    assert cache.key("k1").key_id == "k1"
    issuer.new_key("k2")  # the identity provider rotates its keys
    jwks_endpoint.replace(responses.GET, JWKS_URI, json=issuer.jwks())

    clock.now = 30
    with pytest.raises(errors.InvalidIdToken, match=r"key \(k2\)"):
        cache.key("k2")
    clock.now = 60
    with pytest.raises(errors.InvalidIdToken, match=r"key \(k2\)"):
        cache.key("k2")
    assert len(jwks_endpoint.calls) == 1  # refused from the cache, no second fetch yet

    clock.now = 60.5
    assert cache.key("k2").key_id == "k2"
    assert len(jwks_endpoint.calls) == 2

    clock.now = 61
    with pytest.raises(errors.InvalidIdToken, match=r"key \(k3\)"):
        cache.key("k3")
    for _ in range(5):
        cache.key("k1")
    assert len(jwks_endpoint.calls) == 2


def test_a_token_without_kid_uses_the_only_published_key(issuer, cache):
    assert cache.key(None).key_id == "k1"


def test_a_token_without_kid_is_refused_when_several_keys_are_published(issuer, clock):
    issuer.new_key("k2")
    with responses.RequestsMock() as mock:
        mock.get(JWKS_URI, json=issuer.jwks())
        with pytest.raises(errors.InvalidIdToken, match=r"key \(None\)"):
            JwksCache(Http(), JWKS_URI, clock=clock).key(None)


def test_encryption_keys_and_unusable_entries_are_not_candidates(issuer, clock):
    published = issuer.jwks()
    published["keys"][0]["use"] = "enc"
    published["keys"].append({"kty": "nonsense", "kid": "broken"})
    with responses.RequestsMock() as mock:
        mock.get(JWKS_URI, json=published)
        cache = JwksCache(Http(), JWKS_URI, clock=clock)
        for kid in ("k1", "broken"):
            with pytest.raises(errors.InvalidIdToken, match="does not publish"):
                cache.key(kid)


def test_a_jwks_that_is_not_json_is_a_discovery_error(clock):
    with responses.RequestsMock() as mock:
        mock.get(JWKS_URI, body="<html>maintenance</html>")
        with pytest.raises(errors.DiscoveryError, match="answered with invalid JSON"):
            JwksCache(Http(), JWKS_URI, clock=clock).key("k1")


def test_an_unreachable_jwks_is_an_upstream_error_naming_it(clock):
    with responses.RequestsMock() as mock:
        mock.get(JWKS_URI, status=503)
        with pytest.raises(errors.UpstreamError, match=f"keys at {JWKS_URI}"):
            JwksCache(Http(), JWKS_URI, clock=clock).key("k1")
