"""One RFC 7638 thumbprint function (connectors/rfc7638.py) for DPoP keys, DPoP proofs and the
enclave key that signs results: every plane computes the same value the same way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from connectors.rfc7638 import jwk_thumbprint
from connectors.solid.dpop import DPoPKey
from server.provenance.jws import public_jwk

ROOT = Path(__file__).resolve().parents[2]
HOME = ROOT / "connectors" / "rfc7638.py"

# RFC 7638 section 3.1: the example RSA key and its thumbprint.
RFC_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
    "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6W"
    "eZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_the_rfc_example_key_has_the_rfc_thumbprint() -> None:
    assert jwk_thumbprint(RFC_KEY) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_members_outside_the_required_ones_change_nothing() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    jwk = public_jwk(key)
    assert jwk_thumbprint({**jwk, "use": "sig", "kid": "x"}) == jwk_thumbprint(jwk)


def test_the_dpop_key_and_the_enclave_key_use_the_one_function() -> None:
    dpop = DPoPKey.generate()
    assert dpop.thumbprint == jwk_thumbprint(dpop.public_jwk)


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ({"kty": "oct", "k": "c2VjcmV0"}, "key type"),
        ({"kty": "EC", "crv": "P-256", "x": "AA"}, "'y'"),
    ],
)
def test_keys_it_cannot_thumbprint_are_refused_by_name(jwk: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        jwk_thumbprint(jwk)


def test_no_other_module_computes_a_thumbprint() -> None:
    """A function named for a thumbprint that hashes anything itself is a second copy."""
    copies = []
    for package in ("server", "connectors", "datacage_sdk", "datafuse", "vocab"):
        for path in (ROOT / package).rglob("*.py"):
            if path == HOME:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.FunctionDef) and "thumbprint" in node.name:
                    hashes = [
                        call
                        for call in ast.walk(node)
                        if isinstance(call, ast.Call)
                        and getattr(call.func, "attr", getattr(call.func, "id", "")) == "sha256"
                    ]
                    if hashes:
                        copies.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert copies == []
