"""LDP reads and writes on the real Community Solid Server (Solid Protocol sections 5-6)."""

from __future__ import annotations

import pytest
from rdflib import Graph, Literal, Namespace, URIRef

from connectors.solid import SolidClient, errors

EX = Namespace("https://example.org/ns#")


def test_put_then_get_text_and_rdf(make_user):
    alice = make_user("alice")
    alice.client.put(alice.pod + "notes/a.txt", "plain words", "text/plain")
    assert alice.client.get(alice.pod + "notes/a.txt").text() == "plain words"

    graph = Graph()
    me = URIRef(alice.pod + "data/profile.ttl#me")
    graph.add((me, EX.name, Literal("Alice")))
    graph.add((me, EX.age, Literal(41)))
    alice.client.put_graph(alice.pod + "data/profile.ttl", graph)
    read, resource = alice.client.get_graph(alice.pod + "data/profile.ttl")
    assert set(read) == set(graph)
    assert resource.etag
    assert resource.content_type.startswith("text/turtle")


def test_json_ld_is_read_by_content_negotiation(make_user):
    alice = make_user("alice")
    body = '{"@id": "#it", "https://example.org/ns#name": "It"}'
    alice.client.put(alice.pod + "data/it.jsonld", body, "application/ld+json")
    graph, _ = alice.client.get_graph(alice.pod + "data/it.jsonld")
    assert (URIRef(alice.pod + "data/it.jsonld#it"), EX.name, Literal("It")) in graph


def test_n3_patch_and_sparql_update(make_user):
    alice = make_user("alice")
    url = alice.pod + "data/list.ttl"
    item = URIRef(url + "#item")
    alice.client.put(url, f"<{item}> <{EX.amount}> 1 .", "text/turtle")
    alice.client.patch(
        url,
        deletes=[(item, EX.amount, Literal(1))],
        inserts=[(item, EX.amount, Literal(2)), (item, EX.label, Literal('say "hi"'))],
    )
    alice.client.patch_sparql(url, f'INSERT DATA {{ <{item}> <{EX.tag}> "new" . }}')
    graph, _ = alice.client.get_graph(url)
    assert set(graph.objects(item, EX.amount)) == {Literal(2)}
    assert (item, EX.label, Literal('say "hi"')) in graph
    assert (item, EX.tag, Literal("new")) in graph


def test_a_patch_whose_delete_does_not_match_changes_nothing(make_user):
    alice = make_user("alice")
    url = alice.pod + "data/list.ttl"
    item = URIRef(url + "#item")
    alice.client.put(url, f"<{item}> <{EX.amount}> 1 .", "text/turtle")
    with pytest.raises(errors.Conflict):
        alice.client.patch(
            url, deletes=[(item, EX.amount, Literal(99))], inserts=[(item, EX.amount, Literal(100))]
        )
    graph, _ = alice.client.get_graph(url)
    assert set(graph.objects(item, EX.amount)) == {Literal(1)}


def test_post_with_slug_and_delete(make_user):
    alice = make_user("alice")
    alice.client.create_container(alice.pod + "inbox/")
    location = alice.client.post(alice.pod + "inbox/", "hello", "text/plain", slug="greeting")
    assert location.startswith(alice.pod + "inbox/greeting")
    assert alice.client.get(location).text() == "hello"
    alice.client.delete(location)
    with pytest.raises(errors.NotFound):
        alice.client.get(location)


def test_conditional_requests(make_user):
    alice = make_user("alice")
    url = alice.pod + "data/v.txt"
    alice.client.put(url, "v1", "text/plain", if_none_match="*")
    with pytest.raises(errors.PreconditionFailed):
        alice.client.put(url, "again", "text/plain", if_none_match="*")
    first = alice.client.head(url)
    assert first.etag
    unchanged = alice.client.get(url, if_none_match=first.etag)
    assert unchanged.status == 304
    assert unchanged.body == b""
    alice.client.put(url, "v2", "text/plain", if_match=first.etag)
    with pytest.raises(errors.PreconditionFailed):
        alice.client.put(url, "v3 from a stale read", "text/plain", if_match=first.etag)
    assert alice.client.get(url).text() == "v2"


def test_container_listing_and_walk(make_user):
    alice = make_user("alice")
    root = alice.pod + "tree/"
    for path in ("a.txt", "b/c.txt", "b/d/e.txt", "f/"):
        if path.endswith("/"):
            alice.client.create_container(root + path)
        else:
            alice.client.put(root + path, path, "text/plain")
    listing = {(e.url, e.is_container) for e in alice.client.list_container(root)}
    assert listing == {(root + "a.txt", False), (root + "b/", True), (root + "f/", True)}

    walked = {e.url: e.depth for e in alice.client.walk(root)}
    assert walked == {
        root + "a.txt": 1,
        root + "b/": 1,
        root + "f/": 1,
        root + "b/c.txt": 2,
        root + "b/d/": 2,
        root + "b/d/e.txt": 3,
    }
    shallow = {e.url for e in alice.client.walk(root, max_depth=1)}
    assert shallow == {root + "a.txt", root + "b/", root + "f/"}
    with pytest.raises(errors.TooLarge):
        list(alice.client.walk(root, limit=3))


def test_a_non_empty_container_cannot_be_deleted(make_user):
    alice = make_user("alice")
    alice.client.put(alice.pod + "full/x.txt", "x", "text/plain")
    with pytest.raises(errors.Conflict):
        alice.client.delete(alice.pod + "full/")


def test_find_storage_and_wac_allow(make_user):
    alice = make_user("alice")
    alice.client.put(alice.pod + "deep/er/x.txt", "x", "text/plain")
    assert alice.client.find_storage(alice.pod + "deep/er/x.txt") == alice.pod
    resource = alice.client.head(alice.pod + "deep/er/x.txt")
    assert {"read", "write", "control"} <= resource.wac_allow["user"]
    assert resource.acl_url == alice.pod + "deep/er/x.txt.acl"


def test_errors_say_what_happened(make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    alice.client.put(alice.pod + "private.txt", "secret", "text/plain")
    with pytest.raises(errors.NotFound, match="does not exist"):
        alice.client.get(alice.pod + "missing.txt")
    with pytest.raises(errors.Forbidden, match="not accessible"):
        bob.client.get(alice.pod + "private.txt")
    with pytest.raises(errors.Unauthenticated):
        SolidClient().get(alice.pod + "private.txt")
    alice.client.put(alice.pod + "big.txt", "x" * 5000, "text/plain")
    with pytest.raises(errors.TooLarge, match="limit"):
        alice.client.get(alice.pod + "big.txt", limit=1000)
    alice.client.put(alice.pod + "not-rdf.txt", "<a> <b>", "text/plain")
    with pytest.raises(errors.MalformedRDF, match="not an RDF format"):
        alice.client.get_graph(alice.pod + "not-rdf.txt")
    with pytest.raises(errors.UpstreamUnavailable):
        SolidClient().get("http://localhost:1/nothing-listens-here")


def test_ensure_container_is_idempotent_even_when_the_container_has_members(make_user):
    # CSS answers 409, not 412, to a conditional PUT on an existing container: found when a
    # person's second consent wrote its receipt next to the first one.
    alice = make_user("alice")
    folder = alice.pod + "receipts/"
    alice.client.ensure_container(folder)
    alice.client.put(folder + "one.ttl", b"<#a> <#b> <#c> .", "text/turtle")
    alice.client.ensure_container(folder)
    assert [e.url for e in alice.client.list_container(folder)] == [folder + "one.ttl"]
    alice.client.put(alice.pod + "plain", b"not a folder", "text/plain")
    with pytest.raises(errors.SolidError):
        alice.client.ensure_container(alice.pod + "plain")
