"""`SolidClient.reads_once` on the real CSS: each read once inside the block, never stale
after what the client itself wrote, and nothing kept once the block ends."""

from __future__ import annotations

from collections import Counter

import pytest
from rdflib import URIRef

from connectors.solid import errors
from vocab import ACL, PIM

NOTE = b'<#it> <http://schema.org/name> "note" .\n'


@pytest.fixture
def alice(make_user):
    user = make_user("alice")
    user.client.put(user.pod + "notes/a.ttl", NOTE, "text/turtle")
    return user


def count(client) -> Counter[str]:
    sent: Counter[str] = Counter()
    client.http.session.hooks["response"].append(
        lambda response, **_: sent.update([f"{response.request.method} {response.request.url}"])
    )
    return sent


def test_a_head_is_sent_once_inside_the_block_and_again_after_it(alice):
    client, url = alice.client, alice.pod + "notes/a.ttl"
    sent = count(client)
    with client.reads_once():
        first = client.head(url)
        with client.reads_once():  # an inner block shares the outer one's reads
            assert client.head(url) == first
        assert client.head(url) == first
    assert sent[f"HEAD {url}"] == 1
    client.head(url)
    assert sent[f"HEAD {url}"] == 2  # the block is over: nothing is kept


def test_what_the_client_deletes_inside_the_block_is_read_again(alice):
    client, url = alice.client, alice.pod + "notes/a.ttl"
    with client.reads_once():
        assert client.exists(url)
        client.delete(url)
        assert not client.exists(url)


def test_deleting_a_container_forgets_what_was_read_under_it(alice):
    client, folder = alice.client, alice.pod + "notes/"
    with client.reads_once():
        assert client.exists(folder + "a.ttl")
        client.delete(folder + "a.ttl")  # the file first: CSS deletes only empty containers
        assert client.exists(folder)
        client.delete(folder)
        assert not client.exists(folder)


def test_a_refused_read_is_tried_again_not_kept(alice, make_user):
    bob = make_user("bob")
    client, url = bob.client, alice.pod + "notes/a.ttl"
    sent = count(client)
    with client.reads_once():
        for _ in range(2):
            with pytest.raises(errors.Forbidden):
                client.head(url)
    assert sent[f"HEAD {url}"] == 2


def test_a_remembered_graph_is_a_copy_each_caller_may_change(alice):
    client = alice.client
    acl = client.head(alice.pod).acl_url
    with client.reads_once():
        graph, _ = client.get_graph(acl, remember=True)
        graph.add((URIRef(acl + "#forged"), ACL.mode, ACL.Write))
        again, _ = client.get_graph(acl, remember=True)
    assert (URIRef(acl + "#forged"), ACL.mode, ACL.Write) not in again


def test_a_profile_written_inside_the_block_is_read_again(alice):
    """A write to the profile document forgets what was found from it (the storage too)."""
    client, webid = alice.client, alice.webid
    document = webid.split("#", 1)[0]
    claimed = alice.pod + "notes/"
    with client.reads_once():
        before = client.remembered("webid-profile", webid, lambda: client.get_graph(document))
        client.patch(document, inserts=[(URIRef(webid), PIM.storage, URIRef(claimed))])
        after = client.remembered("webid-profile", webid, lambda: client.get_graph(document))
    assert (URIRef(webid), PIM.storage, URIRef(claimed)) not in before[0]
    assert (URIRef(webid), PIM.storage, URIRef(claimed)) in after[0]
