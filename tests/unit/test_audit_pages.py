"""The audit page a page at a time: cut by position, so entries appended between two page loads
neither skip nor repeat one; each page checks what it shows; its cost is the page's."""

# ruff: noqa: F811 - the fixtures of test_audit_web are parameters here

from __future__ import annotations

import re

import pytest
from rdflib import Literal, URIRef

from server.audit.entry import entry_iri
from server.services import services
from tests.support.web_api import (  # noqa: F401 - fixtures
    ALICE,
    OWNER,
    app,
    callers,
    clean_environment,
    space,
)
from vocab import DCTERMS

_ENTRY = re.compile(r'id="entry-(\d+)"')
_LINK = re.compile(r'href="([^"]+)"[^>]*id="(older|newer)"')


def append(app, space: dict, count: int) -> None:
    with app.app_context():
        trail = services(app).audit
        for n in range(count):
            trail.record(space["iri"], "consent-given", None, f"Consent {n} given.")


def load(caller, url: str) -> tuple[list[int], dict[str, str], str]:
    response = caller.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    links = {kind: href.replace("&amp;", "&") for href, kind in _LINK.findall(html)}
    return [int(n) for n in _ENTRY.findall(html)], links, html


def test_entries_appended_between_page_loads_are_neither_skipped_nor_repeated(app, callers, space):
    append(app, space, 115)  # 5 from the space's setup: 120 in all
    alice = callers[ALICE]
    first, links, html = load(alice, f"/spaces/{space['id']}/audit")
    assert first == list(range(119, 69, -1))  # the newest 50, newest first
    assert "newer" not in links
    assert "The entries on this page are intact" in html

    append(app, space, 30)  # people keep consenting while Alice reads
    seen = list(first)
    url = links["older"]
    while url:
        shown, links, _ = load(alice, url)
        seen += shown
        url = links.get("older")
    assert seen == list(range(119, -1, -1))  # each entry once, in order, none skipped

    newer, links, _ = load(alice, f"/spaces/{space['id']}/audit?after=119")
    assert newer == list(range(149, 119, -1))  # exactly the 30 appended since
    assert "newer" not in links


def test_a_page_names_an_edited_entry_it_shows_and_the_whole_check_names_an_older_one(
    app, callers, space
):
    append(app, space, 115)
    with app.app_context():
        registry = services(app).registry
        for position in (110, 10):  # one on the newest page, one far below it
            name = entry_iri(space["iri"], position)
            stored = registry.read(name)
            stored.graph.set((URIRef(name), DCTERMS.description, Literal("Nothing happened.")))
            registry.write(name, stored.graph, expected_revision=stored.revision)
    alice = callers[ALICE]
    _, _, html = load(alice, f"/spaces/{space['id']}/audit")
    assert "The chain is broken at" in html
    assert entry_iri(space["iri"], 110) in html
    _, _, html = load(alice, f"/spaces/{space['id']}/audit?before=60")
    assert "The chain is broken at" in html
    assert entry_iri(space["iri"], 10) in html
    _, _, html = load(alice, f"/spaces/{space['id']}/audit?before=100&check=all")
    assert entry_iri(space["iri"], 10) in html  # the first wrong entry of the whole chain


def test_a_short_trail_is_checked_whole_on_its_one_page(callers, space):
    _, links, html = load(callers[ALICE], f"/spaces/{space['id']}/audit")
    assert "The chain is intact: 5 entries" in html
    assert links == {}


@pytest.mark.parametrize("cursor", ["before=abc", "after=-1", "before=1e9"])
def test_a_cursor_that_is_no_entry_number_is_a_clear_error(callers, space, cursor):
    response = callers[OWNER].get(f"/spaces/{space['id']}/audit?{cursor}")
    assert response.status_code == 422
    assert "must be an entry number" in response.get_data(as_text=True)


def test_the_page_reads_as_many_entries_for_a_long_trail_as_for_a_short_one(
    app, callers, space, monkeypatch
):
    read: set[str] = set()  # the entries whose triples the page's queries and reads returned
    with app.app_context():
        registry = services(app).registry
    kind = type(registry)
    real_read, real_select = kind.read, kind.select

    def counted_read(self, name):
        read.add(name)
        return real_read(self, name)

    def counted_select(self, query, bindings=None):
        rows = real_select(self, query, bindings)
        read.update(str(row["g"]) for row in rows if "/audit/" in str(row.get("g", "")))
        return rows

    monkeypatch.setattr(kind, "read", counted_read)
    monkeypatch.setattr(kind, "select", counted_select)
    entries = {}
    for total, more in ((60, 55), (300, 240)):  # the space's setup wrote 5
        append(app, space, more)
        read.clear()
        load(callers[ALICE], f"/spaces/{space['id']}/audit")
        entries[total] = len({name for name in read if "/audit/" in name})
    assert entries[300] == entries[60] == 51, entries  # the page's 50 and the one below
