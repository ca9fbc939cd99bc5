"""The sign-in issuer cache under attack: anonymous sign-ins naming ever new issuers."""

from __future__ import annotations

from connectors.solid.http import Http
from connectors.solid.oidc import IssuerMetadata
from server.services import IssuerCache


def _metadata(http: Http, issuer: str) -> IssuerMetadata:
    return IssuerMetadata(issuer, issuer + "auth", issuer + "token", issuer + "jwks")


def test_three_hundred_issuers_do_not_grow_the_cache_past_its_bound():
    cache = IssuerCache(Http(), fetch=_metadata)
    for n in range(300):
        cache.get(f"https://idp{n}.example/")
    assert len(cache) <= 64


def test_the_least_recently_used_goes_first_and_entries_expire():
    now = [0.0]
    fetched: list[str] = []

    def fetch(http: Http, issuer: str) -> IssuerMetadata:
        fetched.append(issuer)
        return _metadata(http, issuer)

    cache = IssuerCache(Http(), max_entries=2, ttl=300, clock=lambda: now[0], fetch=fetch)
    cache.get("https://a.example/")
    cache.get("https://b.example/")
    cache.get("https://a.example/")  # a is now the most recent
    cache.get("https://c.example/")  # b goes
    cache.get("https://a.example/")
    assert fetched == ["https://a.example/", "https://b.example/", "https://c.example/"]
    now[0] = 301
    cache.get("https://a.example/")
    assert fetched[-1] == "https://a.example/"
