"""Solid Type Indexes on a real Community Solid Server: public and private registrations,
what someone else may see, and profiles that point elsewhere."""

from __future__ import annotations

import pytest

from connectors.solid import SolidClient, errors
from connectors.solid.type_index import TypeRegistration, find_instances

PERSON = "http://schema.org/Person"
ORDER = "http://schema.org/Order"
#: Another origin on this machine where nothing listens: reading it would fail loudly.
ELSEWHERE = "http://localhost:9/"

PREFIXES = """@prefix solid: <http://www.w3.org/ns/solid/terms#>.
@prefix schema: <http://schema.org/>.
"""


@pytest.fixture
def indexed(make_user):
    """Alice's pod with a public and a private type index linked from her profile."""
    alice = make_user("alice")
    pod, client = alice.pod, alice.client
    public, private = pod + "settings/publicTypeIndex.ttl", pod + "settings/privateTypeIndex.ttl"
    preferences = pod + "settings/prefs.ttl"
    client.put(
        public,
        PREFIXES
        + f"""<> a solid:TypeIndex, solid:ListedDocument.
<#people> a solid:TypeRegistration; solid:forClass schema:Person;
    solid:instance <../data/customers.ttl>, <{ELSEWHERE}people.ttl>.
<#orders> a solid:TypeRegistration; solid:forClass schema:Order;
    solid:instanceContainer <../orders/>.
<#untyped> solid:forClass schema:Person; solid:instance <../data/untyped.ttl>.
""",
        "text/turtle",
    )
    # The public index is for everyone; the settings folder stays the owner's.
    client.put(
        public + ".acl",
        f"""@prefix acl: <http://www.w3.org/ns/auth/acl#>. @prefix foaf: <http://xmlns.com/foaf/0.1/>.
<#owner> a acl:Authorization; acl:agent <{alice.webid}>; acl:accessTo <{public}>;
    acl:mode acl:Read, acl:Write, acl:Control.
<#public> a acl:Authorization; acl:agentClass foaf:Agent; acl:accessTo <{public}>;
    acl:mode acl:Read.
""",
        "text/turtle",
    )
    client.put(
        private,
        PREFIXES
        + """<> a solid:TypeIndex, solid:UnlistedDocument.
<#people> a solid:TypeRegistration; solid:forClass schema:Person;
    solid:instanceContainer <../private/people/>; solid:instance <../data/customers.ttl>.
""",
        "text/turtle",
    )
    client.put(
        preferences,
        PREFIXES + f"<{alice.webid}> solid:privateTypeIndex <{private}>.",
        "text/turtle",
    )
    client.patch_sparql(
        pod + "profile/card",
        f"""PREFIX solid: <http://www.w3.org/ns/solid/terms#>
PREFIX pim: <http://www.w3.org/ns/pim/space#>
INSERT DATA {{
  <{alice.webid}> solid:publicTypeIndex <{public}>, <{ELSEWHERE}index.ttl>;
      pim:preferencesFile <{preferences}>, <{ELSEWHERE}prefs.ttl>.
}}""",
    )
    return alice, public, private


def test_the_owner_finds_public_and_private_registrations(indexed):
    alice, public, private = indexed
    pod = alice.pod
    assert find_instances(alice.client, alice.webid, PERSON) == [
        # Listed in both indexes: once, under the public one.
        TypeRegistration(pod + "data/customers.ttl", False, public),
        TypeRegistration(pod + "private/people/", True, private),
    ]
    assert find_instances(alice.client, alice.webid, ORDER) == [
        TypeRegistration(pod + "orders/", True, public)
    ]
    assert find_instances(alice.client, alice.webid, "http://schema.org/Nothing") == []


def test_others_see_the_public_index_only(indexed, make_user):
    alice, public, _ = indexed
    bob = make_user("bob")
    expected = [TypeRegistration(alice.pod + "data/customers.ttl", False, public)]
    assert find_instances(bob.client, alice.webid, PERSON) == expected  # 403 on the rest
    assert find_instances(SolidClient(), alice.webid, PERSON) == expected  # 401 on the rest


def test_a_missing_private_index_is_none(indexed):
    alice, public, private = indexed
    alice.client.delete(private)
    with pytest.raises(errors.NotFound):
        alice.client.get(private)
    assert find_instances(alice.client, alice.webid, PERSON) == [
        TypeRegistration(alice.pod + "data/customers.ttl", False, public)
    ]
