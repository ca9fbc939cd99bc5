"""What we report about access never exceeds what a real CSS grants (ACP and WAC).

A matcher that names a client application is something we cannot evaluate for an agent
alone. Against CSS (`file-acp.json`) these tests take the client id CSS sees in each user's
own access token, so the policies below really do apply to those users' requests; what we
report, or let an edit through on, must never be more than CSS then allows.
"""

from __future__ import annotations

import jwt
import pytest
from rdflib import Graph

from connectors.solid import AccessMode, errors

ACP_PREFIXES = """@prefix acp: <http://www.w3.org/ns/solid/acp#>.
@prefix acl: <http://www.w3.org/ns/auth/acl#>.
"""


def client_id_of(user) -> str:
    """The client CSS sees for this user's requests: its access token's `client_id`, a plain
    name for client-credentials tokens, so policies name it as a literal (CSS compares values)."""
    claims = jwt.decode(user.session.access_token(), options={"verify_signature": False})
    return claims["client_id"]


@pytest.fixture
def alice_and_bob(make_acp_user):
    alice, bob = make_acp_user("alice"), make_acp_user("bob")
    alice.client.put(alice.pod + "shared/one.txt", "one", "text/plain")
    return alice, bob


def test_a_none_of_naming_bobs_client_is_no_grant_to_bob(alice_and_bob):
    alice, bob = alice_and_bob
    url = alice.pod + "shared/one.txt"
    acr = f"""{ACP_PREFIXES}
<#root> a acp:AccessControlResource; acp:resource <./one.txt>; acp:accessControl <#c>.
<#c> a acp:AccessControl; acp:apply [ a acp:Policy; acp:allow acl:Read;
    acp:allOf [ a acp:Matcher; acp:agent <{bob.webid}> ];
    acp:noneOf [ a acp:Matcher; acp:agent <{bob.webid}>; acp:client "{client_id_of(bob)}" ] ].
"""
    alice.client.put(url + ".acr", acr, "text/turtle", if_none_match="*")
    with pytest.raises(errors.Forbidden):
        bob.client.get(url)  # CSS: the noneOf matcher excludes Bob's requests
    assert alice.client.access_control(url).agent_modes(bob.webid) == frozenset()


def test_a_denial_naming_bobs_client_is_a_denial(alice_and_bob):
    alice, bob = alice_and_bob
    url = alice.pod + "shared/one.txt"
    acr = f"""{ACP_PREFIXES}
<#root> a acp:AccessControlResource; acp:resource <./one.txt>; acp:accessControl <#c>.
<#c> a acp:AccessControl; acp:apply [ a acp:Policy; acp:allow acl:Read, acl:Write;
        acp:allOf [ a acp:Matcher; acp:agent <{bob.webid}> ] ],
    [ a acp:Policy; acp:deny acl:Write;
        acp:allOf [ a acp:Matcher; acp:agent <{bob.webid}>; acp:client "{client_id_of(bob)}" ] ].
"""
    alice.client.put(url + ".acr", acr, "text/turtle", if_none_match="*")
    assert bob.client.get(url).text() == "one"
    with pytest.raises(errors.Forbidden):
        bob.client.put(url, "overwritten", "text/plain")
    assert alice.client.access_control(url).agent_modes(bob.webid) == {AccessMode.READ}


def test_the_lock_out_check_refuses_an_acr_whose_denial_may_catch_the_owner(alice_and_bob):
    """A denial naming Alice with her client does catch her requests on CSS (shown first with
    Read, on another resource: CSS 7 always leaves a pod owner Control of ACRs, so Control
    itself cannot show it). An edit leaving such a denial of Control must be refused: the
    check may not read it as a denial that concerns nobody."""
    alice, _ = alice_and_bob
    denial = f"""{ACP_PREFIXES}
<#root> a acp:AccessControlResource; acp:resource <./NAME>; acp:accessControl <#c>, <#owner>.
<#owner> a acp:AccessControl; acp:apply [ a acp:Policy; acp:allow acl:Read, acl:Write;
    acp:allOf [ a acp:Matcher; acp:agent <{alice.webid}> ] ].
<#c> a acp:AccessControl; acp:apply [ a acp:Policy; acp:deny MODE;
    acp:allOf [ a acp:Matcher; acp:agent <{alice.webid}>; acp:client "{client_id_of(alice)}" ] ].
"""
    victim = alice.pod + "shared/victim.txt"
    alice.client.put(victim, "v", "text/plain")
    shown = denial.replace("NAME", "victim.txt").replace("MODE", "acl:Read")
    alice.client.put(victim + ".acr", shown, "text/turtle")
    with pytest.raises(errors.Forbidden):
        alice.client.get(victim)  # the matcher with her client applies to her requests

    url = alice.pod + "shared/one.txt"
    access = alice.client.access_control(url)
    edited = _parse(denial.replace("NAME", "one.txt").replace("MODE", "acl:Control"), url)
    with pytest.raises(errors.WouldLockOutOwner):
        access._check_owners_keep_control(edited, access._ancestors())


def _parse(turtle: str, base: str) -> Graph:
    return Graph().parse(data=turtle, format="turtle", publicID=base + ".acr")
