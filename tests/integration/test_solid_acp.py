"""Access Control Policies on a real Community Solid Server (`file-acp.json`): grants,
revocations, concurrent edits and owner safety, checked by what the server then allows."""

from __future__ import annotations

import threading

import pytest

from connectors.solid import AccessMode, errors
from connectors.solid.access import AccessControlPolicies, WebAccessControl


@pytest.fixture
def alice_and_bob(make_acp_user):
    alice, bob = make_acp_user("alice"), make_acp_user("bob")
    alice.client.put(alice.pod + "shared/one.txt", "one", "text/plain")
    alice.client.put(alice.pod + "shared/two.txt", "two", "text/plain")
    return alice, bob


def test_access_control_for_picks_the_editor_the_pod_uses(alice_and_bob, make_user):
    alice, _ = alice_and_bob
    access = alice.client.access_control(alice.pod + "shared/one.txt")
    assert isinstance(access, AccessControlPolicies)
    assert access.system == "ACP"
    assert access.acr_url == alice.pod + "shared/one.txt.acr"
    wac_user = make_user("wac")  # the session's ordinary CSS still speaks WAC
    wac_user.client.put(wac_user.pod + "x.txt", "x", "text/plain")
    assert isinstance(wac_user.client.access_control(wac_user.pod + "x.txt"), WebAccessControl)


def test_grant_read_on_exactly_one_resource_then_revoke(alice_and_bob):
    alice, bob = alice_and_bob
    one, two = alice.pod + "shared/one.txt", alice.pod + "shared/two.txt"
    with pytest.raises(errors.Forbidden):
        bob.client.get(one)
    with pytest.raises(errors.NotFound):
        alice.client.get(one + ".acr")  # no ACR yet: the grant creates it

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
    # The owner kept everything, through the pod root's member controls.
    assert alice.client.get(one).text() == "one"
    assert access.agent_modes(alice.webid) == set(AccessMode)


def test_granting_twice_writes_nothing_the_second_time(alice_and_bob):
    alice, bob = alice_and_bob
    url = alice.pod + "shared/one.txt"
    access = alice.client.access_control(url)
    access.grant(bob.webid, ["Read"])
    before = alice.client.get(url + ".acr")
    access.grant(bob.webid, ["Read"])
    after = alice.client.get(url + ".acr")
    assert (after.etag, after.body) == (before.etag, before.body)


def test_container_grant_with_members(alice_and_bob):
    alice, bob = alice_and_bob
    container = alice.pod + "shared/"
    access = alice.client.access_control(container)
    with pytest.raises(ValueError, match="not a container"):
        alice.client.access_control(container + "one.txt").grant(
            bob.webid, ["Read"], include_members=True
        )
    access.grant(bob.webid, [AccessMode.READ], include_members=True)
    alice.client.put(container + "later.txt", "added after the grant", "text/plain")
    assert bob.client.get(container + "one.txt").text() == "one"
    assert bob.client.get(container + "later.txt").text() == "added after the grant"
    assert {e.url for e in bob.client.list_container(container)} >= {container + "one.txt"}
    with pytest.raises(errors.Forbidden):
        bob.client.put(container + "bob.txt", "no", "text/plain")
    with pytest.raises(errors.Forbidden):
        bob.client.get(alice.pod + "profile/")  # nothing outside the container

    access.revoke(bob.webid)
    with pytest.raises(errors.Forbidden):
        bob.client.get(container + "one.txt")
    assert alice.client.get(container + "later.txt").text() == "added after the grant"


def test_the_owner_cannot_lock_themself_out(alice_and_bob):
    alice, _ = alice_and_bob
    root = alice.client.access_control(alice.pod)
    before = alice.client.get(alice.pod + ".acr")
    with pytest.raises(errors.WouldLockOutOwner, match="it was not made"):
        root.revoke(alice.webid, [AccessMode.CONTROL])
    after = alice.client.get(alice.pod + ".acr")
    assert (after.etag, after.body) == (before.etag, before.body)  # nothing was written
    assert AccessMode.CONTROL in root.agent_modes(alice.webid)


def test_revoking_one_agent_of_a_shared_policy_keeps_the_others(alice_and_bob, make_acp_user):
    alice, bob = alice_and_bob
    carol = make_acp_user("carol")
    url = alice.pod + "shared/one.txt"
    acr = f"""@prefix acp: <http://www.w3.org/ns/solid/acp#>.
@prefix acl: <http://www.w3.org/ns/auth/acl#>.
<#root> a acp:AccessControlResource; acp:resource <./one.txt>; acp:accessControl <#friends>.
<#friends> a acp:AccessControl; acp:apply [ a acp:Policy; acp:allow acl:Read, acl:Append;
    acp:anyOf [ a acp:Matcher; acp:agent <{bob.webid}>, <{carol.webid}> ] ].
"""
    alice.client.put(url + ".acr", acr, "text/turtle", if_none_match="*")
    access = alice.client.access_control(url)
    access.revoke(bob.webid, [AccessMode.APPEND])
    assert access.agent_modes(bob.webid) == {AccessMode.READ}
    assert access.agent_modes(carol.webid) == {AccessMode.READ, AccessMode.APPEND}
    assert bob.client.get(url).text() == "one"
    assert carol.client.get(url).text() == "one"
    with pytest.raises(errors.Forbidden):
        bob.client.post(alice.pod + "shared/", "no", "text/plain")


def test_concurrent_grants_do_not_overwrite_each_other(alice_and_bob, make_acp_user):
    alice, bob = alice_and_bob
    others = [bob] + [make_acp_user(f"friend{i}") for i in range(5)]
    url = alice.pod + "shared/two.txt"
    failures: list[BaseException] = []
    start = threading.Barrier(len(others))

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
