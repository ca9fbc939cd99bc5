"""Canonical data-request paths: every spelling that could mean something else is refused."""

from __future__ import annotations

import pytest

from server.consent.paths import BadPath, canonical_path, check_inside, check_reported, resource_url

STORAGE = "http://pod.example/ana/"


@pytest.mark.parametrize(
    "path",
    [
        "x/%2e%2e/",
        "%2e/",
        "x/%2E%2E/",
        "x/.%2e/",
        "a/../b",
        "./a",
        "a/./b",
        "a//b",
        "a%2fb",
        "a%2Fb",
        "a%5cb",
        "a\\b",
        "a/b%00",
        "a/b\x00",
        "a/b\n",
        "a/b\u200b",  # a zero-width space: invisible
        "a\u2215b",
        "a\u2044b",
        "a\uff0fb",
        "a\uff3cb",
        "/a",
        "http://evil.example/a",
        "a?b",
        "a#b",
        "a%3Fb",
        "a%23b",
        "a/%252e%252e/",
        ".acl",
        "a/.acl",
        "a/b.ttl.acr",
        "a/b.meta",
        "",
    ],
)
def test_a_path_that_could_mean_something_else_is_refused(path):
    with pytest.raises(BadPath):
        resource_url(STORAGE, path)


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("contacts/customers.ttl", STORAGE + "contacts/customers.ttl"),
        ("shop/", STORAGE + "shop/"),
        ("my%20notes.txt", STORAGE + "my%20notes.txt"),
        ("my notes.txt", STORAGE + "my%20notes.txt"),
        ("caf\u00e9/", STORAGE + "caf%C3%A9/"),
    ],
)
def test_a_plain_path_has_one_canonical_url(path, url):
    assert resource_url(STORAGE, path) == url


def test_a_url_found_elsewhere_must_be_canonical_and_strictly_inside_the_storage():
    assert check_inside(STORAGE, STORAGE + "orders/") == STORAGE + "orders/"
    for url in (
        STORAGE,
        "http://pod.example/bob/orders/",
        "http://pod.example/ana-evil/orders/",
        STORAGE + "x/%2e%2e/",
        STORAGE + "orders/?ext=acr",
        STORAGE + "orders/.acl",
    ):
        with pytest.raises(BadPath):
            check_inside(STORAGE, url)


def test_the_pods_own_url_must_be_the_one_shown():
    check_reported(STORAGE + "a.ttl", STORAGE + "a.ttl", is_storage=False)
    with pytest.raises(BadPath):
        check_reported(STORAGE + "x/", STORAGE, is_storage=True)
    with pytest.raises(BadPath):
        check_reported(STORAGE + "a.ttl", STORAGE + "b.ttl", is_storage=False)


def test_canonical_path_is_stable():
    assert canonical_path(canonical_path("a b/c")) == canonical_path("a b/c")
