"""Near-verbatim identifiers in an output: re-spelt, encoded or hashed, each one is refused.

Each case is an attack a dishonest code provider tried: the identifier leaves in a form a
verbatim, case-insensitive search does not see. The values come from the inputs of
`test_output_gate` (a WebID, an e-mail address, a name).
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote

import pytest
from rdflib import Graph

from server.datacage.gate import GatePolicy, InputIdentifiers, PersonInputs, check_output

ALICE = "https://alice.pod.example/profile/card#me"
EMAIL = "Carol.Customer@Example.org"
LOWER = EMAIL.lower()
CONTACTS = f"""@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<#carol> foaf:name "Carol Customer" ; foaf:mbox <mailto:{EMAIL}> ; foaf:givenName "Mark" .
""".encode()
SHAPE = """@prefix ex: <https://example.org/ns#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix dcg: <https://w3id.org/datacage/ns#> .
ex:ReportShape a sh:NodeShape ; sh:targetClass ex:Report ;
    sh:closed true ; sh:ignoredProperties ( rdf:type ) ;
    sh:property [ sh:path dcg:individuals ; sh:datatype xsd:integer ; sh:maxCount 1 ] ;
    sh:property [ sh:path ex:region ; sh:datatype xsd:string ; sh:maxCount 1 ] .
"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _hash(algorithm: str, data: bytes):
    return hashlib.new(algorithm, data)  # what a dishonest algorithm would send, not security


def _fullwidth(text: str) -> str:
    """The same letters from the Unicode block of full-width forms (U+FF01 onwards)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _embedded_b64(data: bytes, offset: int) -> str:
    """The identifier inside a longer Base64 text, starting `offset` bytes into it."""
    return _b64(b"x" * offset + data + b"trailing bytes")


FORMS = {
    "webid-without-scheme": "alice.pod.example/profile/card#me",
    "webid-url-encoded": quote(ALICE, safe=""),
    "email-re-cased": "CAROL.customer@EXAMPLE.ORG",
    "email-zero-width-space": "carol.cus\u200btomer@example.org",
    "email-soft-hyphen-and-bidi": "carol\u00ad.customer\u202e@example.org",
    "email-spaced": "c a r o l . c u s t o m e r @ e x a m p l e . o r g",
    "email-reversed": "carol.customer@example.org"[::-1],
    "email-fullwidth": _fullwidth("carol.customer@example.org"),
    "email-base64": _b64(b"carol.customer@example.org"),
    "email-base64-as-read": _b64(EMAIL.encode()),
    "email-base64-urlsafe": base64.urlsafe_b64encode(b"carol.customer@example.org").decode(),
    "email-base64-offset-1": _embedded_b64(b"carol.customer@example.org", 1),
    "email-base64-offset-2": _embedded_b64(b"carol.customer@example.org", 2),
    "email-base64-wrapped": "\\n".join(
        [_b64(b"carol.customer@example.org")[:20], _b64(b"carol.customer@example.org")[20:]]
    ),
    "email-base32": base64.b32encode(b"carol.customer@example.org").decode(),
    "email-hex": b"carol.customer@example.org".hex(),
    "email-hex-upper": EMAIL.encode().hex().upper(),
    "email-sha256": hashlib.sha256(b"carol.customer@example.org").hexdigest(),
    "email-sha256-of-as-read": hashlib.sha256(EMAIL.encode()).hexdigest(),
    "email-sha256-base64": _b64(hashlib.sha256(b"carol.customer@example.org").digest()),
    "email-sha1-mbox": _hash("sha1", b"mailto:carol.customer@example.org").hexdigest(),
    "email-md5-gravatar": _hash("md5", b"carol.customer@example.org").hexdigest(),
    "email-md5-inside-a-longer-hex": "00ff"
    + _hash("md5", b"carol.customer@example.org").hexdigest(),
    "email-local-part-underscored": "Carol_Customer",
    "email-local-part-dashed": "carol-customer",
    "name-separators-changed": "Carol_Customer",
    "name-joined": "CarolCustomer",
    "name-reversed": "remotsuC loraC",
}


@pytest.fixture(scope="module")
def identifiers() -> InputIdentifiers:
    return InputIdentifiers.collect(
        [PersonInputs(ALICE, [("https://alice.pod.example/c.ttl", "text/turtle", CONTACTS)])]
    )


def _gate(tmp_path, value: str, identifiers: InputIdentifiers):
    folder = tmp_path / "out"
    folder.mkdir()
    report = (
        "@prefix ex: <https://example.org/ns#> .\n"
        "@prefix dcg: <https://w3id.org/datacage/ns#> .\n"
        f'ex:r a ex:Report ; dcg:individuals 5 ; ex:region "{value}" .\n'
    )
    (folder / "r.ttl").write_text(report, encoding="utf-8")
    policy = GatePolicy(shape=Graph().parse(data=SHAPE, format="turtle"), min_individuals=1)
    return check_output(folder, policy, identifiers, individuals_in_run=5)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_near_verbatim_identifier_is_refused(tmp_path, identifiers, form):
    verdict = _gate(tmp_path, FORMS[form], identifiers)
    assert not verdict.passed, form
    assert {r.rule for r in verdict.refusals} == {"identifier/verbatim"}, verdict.reasons


@pytest.mark.parametrize(
    "value",
    [
        "Marketing report for the northern region",
        "customers 42, carols sung 7",
        _b64(b"an unrelated sentence of some length"),
        hashlib.sha256(b"someone else@example.org").hexdigest(),
        "example.org/profile/card",
    ],
)
def test_ordinary_text_still_passes(tmp_path, identifiers, value):
    verdict = _gate(tmp_path, value, identifiers)
    assert verdict.passed, verdict.reasons


def test_a_hash_in_a_comment_is_refused_too(tmp_path, identifiers):
    folder = tmp_path / "out"
    folder.mkdir()
    digest = _hash("sha1", b"carol.customer@example.org").hexdigest()
    (folder / "r.ttl").write_text(
        "@prefix ex: <https://example.org/ns#> .\n"
        "@prefix dcg: <https://w3id.org/datacage/ns#> .\n"
        f'# {digest}\nex:r a ex:Report ; dcg:individuals 5 ; ex:region "North" .\n'
    )
    policy = GatePolicy(shape=Graph().parse(data=SHAPE, format="turtle"), min_individuals=1)
    verdict = check_output(folder, policy, identifiers, individuals_in_run=5)
    assert not verdict.passed
    assert {r.rule for r in verdict.refusals} == {"identifier/verbatim"}, verdict.reasons


def test_identifiers_without_a_scheme_or_of_any_kind_build_and_are_found():
    """Pushed datasets are addressed as URNs; a WebID may be read without its scheme."""
    found = InputIdentifiers.collect(
        [
            PersonInputs("urn:datacage:pushed:dataset-1", [("urn:x:y", "text/plain", b"")]),
            PersonInputs("pod.example/profile/card#me", []),
        ]
    )
    scanner = found.scanner
    assert scanner.found("see urn:datacage:pushed:dataset-1") == {
        ("urn:datacage:pushed:dataset-1", "")
    }
    assert ("pod.example/profile/card#me", "reversed") in scanner.found(
        "em#drac/eliforp/elpmaxe.dop"
    )
