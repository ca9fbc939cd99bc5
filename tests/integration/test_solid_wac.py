"""Web Access Control on the real Community Solid Server: grants, revocations, owner safety."""

from __future__ import annotations

import threading

import pytest

from connectors.solid import AccessMode, errors


@pytest.fixture
def alice_and_bob(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    alice.client.put(alice.pod + "shared/one.txt", "one", "text/plain")
    alice.client.put(alice.pod + "shared/two.txt", "two", "text/plain")
    return alice, bob


def test_grant_read_on_exactly_one_resource_then_revoke(alice_and_bob):
    alice, bob = alice_and_bob
    one, two = alice.pod + "shared/one.txt", alice.pod + "shared/two.txt"
    with pytest.raises(errors.Forbidden):
        bob.client.get(one)

    access = alice.client.access_control(one)
    access.grant(bob.webid, [AccessMode.READ])
    assert bob.client.get(one).text() == "one"
    with pytest.raises(errors.Forbidden):
        bob.client.get(two)
    with pytest.raises(errors.Forbidden):
        bob.client.put(one, "overwritten", "text/plain")
    assert access.agent_modes(bob.webid) == {AccessMode.READ}

    access.revoke(bob.webid)
    with pytest.raises(errors.Forbidden):
        bob.client.get(one)
    assert access.agent_modes(bob.webid) == frozenset()
    # The owner kept everything through both edits.
    assert alice.client.get(one).text() == "one"
    assert AccessMode.CONTROL in access.agent_modes(alice.webid)


def test_granting_twice_is_idempotent(alice_and_bob):
    alice, bob = alice_and_bob
    url = alice.pod + "shared/one.txt"
    access = alice.client.access_control(url)
    access.grant(bob.webid, ["Read"])
    before = alice.client.get(url + ".acl").body
    access.grant(bob.webid, ["Read"])
    assert alice.client.get(url + ".acl").body == before


def test_container_grant_with_members_covers_new_resources(alice_and_bob):
    alice, bob = alice_and_bob
    container = alice.pod + "shared/"
    alice.client.access_control(container).grant(bob.webid, [AccessMode.READ], include_members=True)
    alice.client.put(container + "later.txt", "added after the grant", "text/plain")
    assert bob.client.get(container + "later.txt").text() == "added after the grant"
    assert {e.url for e in bob.client.list_container(container)} >= {container + "one.txt"}
    with pytest.raises(errors.Forbidden):
        bob.client.put(container + "bob.txt", "no", "text/plain")
    with pytest.raises(errors.Forbidden):
        bob.client.get(alice.pod + "profile/")  # nothing outside the container


def test_the_owner_cannot_lock_themself_out(alice_and_bob):
    alice, _ = alice_and_bob
    url = alice.pod + "shared/one.txt"
    access = alice.client.access_control(url)
    with pytest.raises(errors.WouldLockOutOwner, match="it was not made"):
        access.revoke(alice.webid, [AccessMode.CONTROL])
    with pytest.raises(errors.NotFound):
        alice.client.get(url + ".acl")  # nothing was written
    assert alice.client.get(url).text() == "one"


def test_revoking_one_agent_of_a_shared_authorization_keeps_the_others(alice_and_bob, make_user):
    alice, bob = alice_and_bob
    carol = make_user("carol")
    url = alice.pod + "shared/one.txt"
    acl = f"""@prefix acl: <http://www.w3.org/ns/auth/acl#>.
<#owner> a acl:Authorization; acl:agent <{alice.webid}>; acl:accessTo <{url}>;
    acl:mode acl:Read, acl:Write, acl:Control.
<#friends> a acl:Authorization; acl:agent <{bob.webid}>, <{carol.webid}>; acl:accessTo <{url}>;
    acl:mode acl:Read, acl:Append.
"""
    alice.client.put(url + ".acl", acl, "text/turtle")
    access = alice.client.access_control(url)
    access.revoke(bob.webid, [AccessMode.APPEND])
    assert access.agent_modes(bob.webid) == {AccessMode.READ}
    assert access.agent_modes(carol.webid) == {AccessMode.READ, AccessMode.APPEND}
    assert bob.client.get(url).text() == "one"
    assert carol.client.get(url).text() == "one"


def test_concurrent_grants_do_not_overwrite_each_other(alice_and_bob, make_user):
    alice, bob = alice_and_bob
    others = [bob] + [make_user(f"friend{i}") for i in range(5)]
    url = alice.pod + "shared/two.txt"
    failures: list[BaseException] = []
    start = threading.Barrier(len(others))  # all read the same ETag, so most writes collide

    def grant(user):
        try:
            access = alice.client.access_control(url)
            start.wait(10)
            access.grant(user.webid, ["Read"])
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=grant, args=(user,)) for user in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures
    for user in others:
        assert user.client.get(url).text() == "two"


def test_someone_without_control_cannot_change_access(alice_and_bob):
    alice, bob = alice_and_bob
    with pytest.raises(errors.Forbidden):
        bob.client.access_control(alice.pod + "shared/one.txt").grant(bob.webid, ["Read"])
