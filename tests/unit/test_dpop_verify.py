"""Checking DPoP proofs as a resource server (RFC 9449 section 4.3), with real keys.

Each check of section 4.3 has a test that breaks exactly that one thing in an otherwise good
proof and expects its reason. Time is always passed in.
"""

import hashlib
import hmac
import json
import threading

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from connectors.solid.dpop import DPoPKey, ProofFactory, ServerState, access_token_hash, b64url
from connectors.solid.dpop_verify import (
    ReplayCache,
    VerifiedProof,
    check_replay_window,
    jwk_thumbprint,
    normalise_htu,
    verify_dpop_proof,
    verify_dpop_proof_stateless,
)
from connectors.solid.errors import InvalidDPoPProof

NOW = 1_700_000_000.0
URL = "https://api.example/spaces"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


def public_jwk(private_key) -> dict:
    public = private_key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        return ECAlgorithm.to_jwk(public, as_dict=True)
    if isinstance(public, rsa.RSAPublicKey):
        return RSAAlgorithm.to_jwk(public, as_dict=True)
    return OKPAlgorithm.to_jwk(public, as_dict=True)


def claims(**changes) -> dict:
    base = {"jti": "jti-1", "htm": "GET", "htu": URL, "iat": NOW}
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def make_proof(private_key=None, alg="ES256", payload=None, signer=None, **header) -> str:
    """A proof signed by `signer` (default: the key in its own `jwk` header)."""
    private_key = private_key or ec.generate_private_key(ec.SECP256R1())
    headers = {"typ": "dpop+jwt", "jwk": public_jwk(private_key), **header}
    return jwt.encode(
        claims() if payload is None else payload, signer or private_key, alg, headers=headers
    )


def raw_jws(header: dict, payload: dict, sign=lambda data: b"") -> str:
    signing_input = ".".join(b64url(json.dumps(part).encode()) for part in (header, payload))
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def verify(proof: str, replay: ReplayCache | None = None, **options) -> VerifiedProof:
    options = {"method": "GET", "url": URL, "now": NOW, **options}
    return verify_dpop_proof(proof, replay=ReplayCache() if replay is None else replay, **options)


def refused(proof: str, reason: str, **options) -> None:
    with pytest.raises(InvalidDPoPProof, match=reason):
        verify(proof, **options)


# --- Accepted ---------------------------------------------------------------------------------


def test_a_proof_from_our_own_client_verifies_with_its_key_thumbprint():
    key = DPoPKey.generate()
    proof = ProofFactory(key, ServerState(lambda: NOW)).proof("GET", URL + "?page=2", TOKEN)
    verified = verify(proof, access_token=TOKEN)
    assert verified.jkt == key.thumbprint
    assert verified.iat == NOW
    assert verified.jti


@pytest.mark.parametrize(
    ("private_key", "alg", "members"),
    [
        (rsa.generate_private_key(65537, 2048), "PS256", ("e", "kty", "n")),
        (rsa.generate_private_key(65537, 2048), "RS384", ("e", "kty", "n")),
        (ec.generate_private_key(ec.SECP384R1()), "ES384", ("crv", "kty", "x", "y")),
        (ec.generate_private_key(ec.SECP521R1()), "ES512", ("crv", "kty", "x", "y")),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA", ("crv", "kty", "x")),
    ],
)
def test_other_asymmetric_algorithms_verify_with_an_rfc7638_thumbprint(private_key, alg, members):
    jwk = public_jwk(private_key)
    verified = verify(make_proof(private_key, alg))
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    assert verified.jkt == b64url(hashlib.sha256(canonical.encode()).digest())
    assert jwk_thumbprint(jwk) == verified.jkt


def test_a_proof_is_accepted_at_the_edges_of_its_window():
    verify(make_proof(payload=claims(iat=NOW - 120)))
    verify(make_proof(payload=claims(iat=NOW + 5)))


# --- Refused: the proof itself ------------------------------------------------------------------


@pytest.mark.parametrize("proof", ["", "   "])
def test_no_proof_is_refused(proof):
    refused(proof, "has no DPoP proof")


def test_two_proofs_are_refused():
    refused(f"{make_proof()}, {make_proof()}", "more than one DPoP proof")


@pytest.mark.parametrize("proof", ["not-a-jwt", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.e30" * 800])
def test_a_malformed_proof_is_refused(proof):
    refused(proof, "not a well-formed JWT")


@pytest.mark.parametrize("typ", ["", "JWT", "at+jwt", "DPOP+JWT"])
def test_a_wrong_typ_is_refused(typ):
    refused(make_proof(typ=typ), "typ is not dpop\\+jwt")


def test_alg_none_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": public_jwk(key)}
    refused(raw_jws(header, claims()), "refused algorithm \\(none\\)")


def test_hmac_is_refused_even_with_a_matching_symmetric_jwk():
    secret = b"s" * 32
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": b64url(secret)}}
    proof = raw_jws(header, claims(), lambda data: hmac.digest(secret, data, "sha256"))
    refused(proof, "refused algorithm \\(HS256\\)")


def test_a_missing_jwk_is_refused():
    refused(make_proof(jwk=None), "has no jwk header")


def test_a_private_jwk_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    private_jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    assert "d" in private_jwk
    refused(make_proof(key, jwk=private_jwk), "contains a private key")


def test_an_rsa_jwk_with_private_factors_is_refused():
    key = rsa.generate_private_key(65537, 2048)
    jwk = {**public_jwk(key), "p": "AQAB", "q": "AQAB"}
    refused(make_proof(key, "PS256", jwk=jwk), "contains a private key")


def test_a_key_type_that_does_not_fit_the_algorithm_is_refused():
    ec_jwk = public_jwk(ec.generate_private_key(ec.SECP256R1()))
    key = rsa.generate_private_key(65537, 2048)
    refused(make_proof(key, "RS256", jwk=ec_jwk), "not an RSA key, as RS256 needs")


def test_a_curve_that_does_not_fit_the_algorithm_is_refused():
    key = ec.generate_private_key(ec.SECP384R1())
    p256_jwk = public_jwk(ec.generate_private_key(ec.SECP256R1()))
    refused(make_proof(key, "ES384", jwk=p256_jwk), "curve does not fit ES384")


def test_a_jwk_with_an_invalid_point_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = {**public_jwk(key), "y": public_jwk(key)["x"]}  # almost surely off the curve
    refused(make_proof(key, jwk=jwk), "not a usable public key")


def test_a_jwk_member_that_is_not_base64url_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    refused(make_proof(key, jwk={**public_jwk(key), "x": 12}), "no valid x")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_small_rsa_key_is_refused():
    key = rsa.generate_private_key(65537, 1024)  # noqa: S505  # weak on purpose
    refused(make_proof(key, "RS256"), "RSA key size")


def test_jws_extensions_are_refused():
    refused(make_proof(crit=["b64"], b64=True), "JWS extensions")
    refused(make_proof(crit=["exp"], exp=1), "JWS extensions")


def test_a_signature_by_another_key_is_refused():
    other = ec.generate_private_key(ec.SECP256R1())
    refused(make_proof(signer=other), "signature does not verify")


def test_a_tampered_payload_is_refused():
    header, _, signature = make_proof().split(".")
    forged = b64url(json.dumps(claims(htm="POST")).encode())
    refused(f"{header}.{forged}.{signature}", "signature does not verify", method="POST")


# --- Refused: the claims ------------------------------------------------------------------------


def test_another_method_is_refused():
    refused(make_proof(payload=claims(htm="POST")), "another HTTP method, not GET")
    refused(make_proof(payload=claims(htm="get")), "another HTTP method")


@pytest.mark.parametrize(
    "htu",
    [
        "https://api.example/spaces/1",
        "http://api.example/spaces",
        "https://evil.example/spaces",
        7,
        None,
    ],
)
def test_another_url_is_refused(htu):
    refused(make_proof(payload=claims(htu=htu)), "another URL \\(htu\\)")


@pytest.mark.parametrize("iat", [NOW - 121, NOW - 3600])
def test_an_old_proof_is_refused(iat):
    refused(make_proof(payload=claims(iat=iat)), "too old")


def test_a_proof_from_the_future_is_refused():
    refused(make_proof(payload=claims(iat=NOW + 6)), "in the future")


@pytest.mark.parametrize("iat", [None, "1700000000", True, float("nan"), float("inf")])
def test_a_missing_or_non_numeric_iat_is_refused(iat):
    refused(make_proof(payload=claims(iat=iat)), "no numeric iat")


def test_max_age_and_skew_are_configurable():
    refused(make_proof(payload=claims(iat=NOW - 30)), "too old", max_age=10)
    verify(make_proof(payload=claims(iat=NOW + 30)), max_skew=60, replay=ReplayCache(600))


@pytest.mark.parametrize("jti", [None, "", 42])
def test_a_missing_jti_is_refused(jti):
    refused(make_proof(payload=claims(jti=jti)), "no jti")


def test_a_huge_jti_is_refused():
    refused(make_proof(payload=claims(jti="x" * 300)), "jti is too long")


def test_a_missing_ath_is_refused_when_a_token_is_presented():
    refused(make_proof(), "no ath", access_token=TOKEN)


def test_an_ath_for_another_token_is_refused():
    proof = make_proof(payload=claims(ath=access_token_hash("another.token.value")))
    refused(proof, "another access token \\(ath\\)", access_token=TOKEN)


def test_an_ath_with_odd_characters_is_refused_without_crashing():
    refused(make_proof(payload=claims(ath="\ud800é")), "another access token", access_token=TOKEN)


# --- htu normalisation (RFC 3986 sections 6.2.2 and 6.2.3) -------------------------------------


@pytest.mark.parametrize(
    ("htu", "request_url"),
    [
        ("HTTPS://API.Example/spaces", URL),  # scheme and host case
        ("https://api.example:443/spaces", URL),  # default port
        ("http://localhost:80/api", "http://localhost/api"),
        ("https://api.example/a%2fb", "https://api.example/a%2Fb"),  # escape case
        ("https://api.example/%7Euser/%61", "https://api.example/~user/a"),  # unreserved escapes
        ("https://api.example/a/./b/../c", "https://api.example/a/c"),  # dot segments
        ("https://api.example", "https://api.example/"),  # empty path
        ("https://api.example/spaces", "https://api.example/spaces?page=2#top"),  # query ignored
        ("http://[::1]:5999/api", "http://[::1]:5999/api"),
    ],
)
def test_equivalent_urls_match(htu, request_url):
    verify(make_proof(payload=claims(htu=htu)), url=request_url)


@pytest.mark.parametrize(
    ("htu", "request_url"),
    [
        ("https://api.example/Spaces", URL),  # path case matters
        ("https://api.example:8443/spaces", URL),  # a non-default port
        ("https://api.example/a%2Fb", "https://api.example/a/b"),  # a reserved escape stays
        ("https://api.example/spaces/", URL),  # a trailing slash is another resource
    ],
)
def test_different_urls_do_not_match(htu, request_url):
    refused(make_proof(payload=claims(htu=htu)), "another URL", url=request_url)


@pytest.mark.parametrize("url", ["ftp://x.example/", "/relative", "https://", "https://h:99999/"])
def test_normalise_htu_refuses_what_is_not_an_absolute_http_url(url):
    with pytest.raises(ValueError):  # noqa: PT011  # each one's message names the URL
        normalise_htu(url)


# --- Replay -------------------------------------------------------------------------------------


def test_a_replayed_proof_is_refused():
    replay = ReplayCache()
    proof = make_proof()
    verify(proof, replay=replay)
    with pytest.raises(InvalidDPoPProof, match="already used"):
        verify(proof, replay=replay, now=NOW + 60)


def test_the_same_jti_from_another_key_is_no_replay():
    replay = ReplayCache()
    verify(make_proof(), replay=replay)
    verify(make_proof(), replay=replay)  # same "jti-1", other key


def test_a_proof_refused_for_another_reason_is_not_remembered():
    replay = ReplayCache()
    proof = make_proof()
    refused(proof, "another HTTP method", method="POST", replay=replay)
    assert replay.size == 0
    verify(proof, replay=replay)


def test_the_stateless_check_remembers_nothing():
    proof = make_proof()
    verified = verify_dpop_proof_stateless(proof, method="GET", url=URL, now=NOW)
    assert verify_dpop_proof_stateless(proof, method="GET", url=URL, now=NOW) == verified
    assert verified.replay_key.endswith(":jti-1")


def test_the_replay_window_must_cover_a_proofs_acceptance_period():
    check_replay_window(ReplayCache(125), 120, 5)
    with pytest.raises(ValueError, match="shorter"):
        verify(make_proof(), replay=ReplayCache(60))


def test_the_replay_cache_forgets_after_its_window():
    replay = ReplayCache(window_seconds=300)
    replay.check_and_remember("k", NOW)
    with pytest.raises(InvalidDPoPProof):
        replay.check_and_remember("k", NOW + 299)
    replay.check_and_remember("k", NOW + 300)
    assert replay.size == 1


def test_a_full_replay_cache_refuses_rather_than_forgets():
    replay = ReplayCache(window_seconds=300, max_entries=3)
    for name in "abc":
        replay.check_and_remember(name, NOW)
    with pytest.raises(InvalidDPoPProof, match="Too many recent"):
        replay.check_and_remember("d", NOW + 1)
    with pytest.raises(InvalidDPoPProof, match="already used"):
        replay.check_and_remember("a", NOW + 1)
    replay.check_and_remember("d", NOW + 300)  # the others expired, so there is room again
    assert replay.size == 1


def test_a_full_replay_cache_sweeps_entries_left_behind_by_a_clock_step():
    replay = ReplayCache(window_seconds=10, max_entries=2)
    replay.check_and_remember("late", NOW + 100)
    replay.check_and_remember("early", NOW)  # the clock stepped back
    replay.check_and_remember("new", NOW + 50)  # "early" expired, though not at the front
    assert replay.size == 2


def test_concurrent_uses_of_one_proof_succeed_exactly_once():
    replay, proof, outcomes = ReplayCache(), make_proof(), []
    barrier = threading.Barrier(8)

    def attempt():
        barrier.wait()
        try:
            verify(proof, replay=replay)
            outcomes.append("ok")
        except InvalidDPoPProof:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * 7


def test_replay_keys_with_lone_surrogates_do_not_crash():
    ReplayCache().check_and_remember("jkt:\ud800", NOW)


def test_a_header_that_is_not_a_json_object_is_refused():
    refused("W10.e30.c2ln", "not a well-formed JWT")  # header: []


def test_signed_claims_that_are_not_a_json_object_are_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    headers = {"typ": "dpop+jwt", "jwk": public_jwk(key)}
    refused(jwt.api_jws.encode(b"[1]", key, "ES256", headers=headers), "not a JSON object")
