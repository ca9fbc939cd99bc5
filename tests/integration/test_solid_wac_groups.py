"""`acl:agentGroup` on a real Community Solid Server (WAC): what groups grant, and when the
owner lock-out check may count on a group.

The group documents are public, so that CSS itself can read them; which storage they are in
decides whether the lock-out check trusts them (a group in someone else's pod can be changed
by them, taking the owner's Control away without any edit of the ACL).
"""

from __future__ import annotations

import pytest

from connectors.solid import AccessMode, errors

PREFIXES = """@prefix acl: <http://www.w3.org/ns/auth/acl#>.
@prefix foaf: <http://xmlns.com/foaf/0.1/>.
@prefix vcard: <http://www.w3.org/2006/vcard/ns#>.
"""


def _publish_group(user, name: str, members: list[str]) -> str:
    """A public group document in `user`'s pod; return the group's IRI."""
    url = user.pod + f"groups/{name}.ttl"
    listed = ", ".join(f"<{m}>" for m in members)
    user.client.put(url, f"{PREFIXES}<#it> a vcard:Group; vcard:hasMember {listed}.", "text/turtle")
    acl = f"""{PREFIXES}
<#owner> a acl:Authorization; acl:agent <{user.webid}>; acl:accessTo <./{name}.ttl>;
    acl:mode acl:Read, acl:Write, acl:Control.
<#public> a acl:Authorization; acl:agentClass foaf:Agent; acl:accessTo <./{name}.ttl>;
    acl:mode acl:Read.
"""
    user.client.put(url + ".acl", acl, "text/turtle")
    return url + "#it"


def _control_through(alice, url: str, group: str) -> None:
    """An ACL in which Alice holds Control of `url` only as a member of `group`."""
    acl = f"""{PREFIXES}
<#owners> a acl:Authorization; acl:agentGroup <{group}>; acl:accessTo <./one.txt>;
    acl:mode acl:Read, acl:Write, acl:Control.
"""
    alice.client.put(url + ".acl", acl, "text/turtle")


@pytest.fixture
def alice_and_bob(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    alice.client.put(alice.pod + "shared/one.txt", "one", "text/plain")
    return alice, bob


def test_an_owner_in_a_group_of_her_own_pod_keeps_control_and_can_grant(alice_and_bob):
    alice, bob = alice_and_bob
    url = alice.pod + "shared/one.txt"
    _control_through(alice, url, _publish_group(alice, "owners", [alice.webid]))
    assert alice.client.get(url).text() == "one"  # CSS counts the group

    access = alice.client.access_control(url)
    assert access.agent_modes(alice.webid) == set(AccessMode)
    access.grant(bob.webid, [AccessMode.READ])
    assert bob.client.get(url).text() == "one"


def test_a_group_kept_in_someone_elses_pod_does_not_vouch_for_the_owner(alice_and_bob):
    alice, bob = alice_and_bob
    url = alice.pod + "shared/one.txt"
    group = _publish_group(bob, "alices-friends", [alice.webid])
    _control_through(alice, url, group)
    assert alice.client.get(url).text() == "one"  # today Bob's group lets her in...

    access = alice.client.access_control(url)
    assert AccessMode.READ in access.agent_modes(alice.webid)
    before = alice.client.get(url + ".acl")
    with pytest.raises(errors.WouldLockOutOwner):
        access.grant(bob.webid, [AccessMode.READ])
    assert alice.client.get(url + ".acl").body == before.body  # nothing was written

    # ...and Bob alone decides for how long.
    bob.client.put(
        bob.pod + "groups/alices-friends.ttl",
        f"{PREFIXES}<#it> a vcard:Group; vcard:hasMember <{bob.webid}>.",
        "text/turtle",
    )
    with pytest.raises(errors.Forbidden):
        alice.client.get(url)


def test_a_group_that_does_not_list_the_agent_grants_nothing(alice_and_bob):
    alice, bob = alice_and_bob
    url = alice.pod + "shared/one.txt"
    _control_through(alice, url, _publish_group(alice, "owners", [alice.webid]))
    assert alice.client.access_control(url).agent_modes(bob.webid) == frozenset()
