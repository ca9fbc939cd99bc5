"""A data request can never take more than the person was shown: on real CSS, WAC and ACP.

A hostile space owner writes paths that a naive check lets through and the pod resolves to
something else (its root, another folder, an access list). Each is refused on the consent page
with a reason, and a grant for one is refused even when a caller skips the page.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.solid import SolidClient
from connectors.solid import errors as solid_errors
from server import create_app
from server.consent.give import give_consent
from server.consent.model import PodResource
from server.consent.resolve import find_requested
from server.errors import WrongState
from server.services import services
from server.spaces.model import DataRequest
from tests.support.consent_space import make_active_space

SECRET = b'<#me> <http://example.org/diagnosis> "private" .\n'

#: Each trick, and what it tries.
TRICKS = {
    "x/%2e%2e/": "an encoded '..' that the client sends as '..' and the pod resolves to its root",
    "%2e/": "an encoded '.' naming the root",
    "x/%2E%2e/": "mixed-case encoding",
    "x/.%2E/": "half encoded",
    "shop/%2e%2e/health/": "climbing into another folder",
    "x%2f..%2fhealth/": "an encoded '/'",
    "shop/..%5chealth/": "an encoded backslash",
    "health\\diagnosis.ttl": "a backslash",
    "health//diagnosis.ttl": "an empty segment",
    "health/diagnosis.ttl%00": "an encoded NUL",
    "health/diagnosis.ttl\x07": "a control character",
    "health\u2215diagnosis.ttl": "a character that looks like '/'",
    "health\uff0fdiagnosis.ttl": "a full-width '/'",
    "": "the whole pod",
    "./": "the whole pod, spelled as a folder",
    "/": "the whole pod, from the root",
    ".acl": "the root's access list",
    "health/.acl": "a folder's access list",
    "health/diagnosis.ttl.acr": "a resource's access control resource",
    "health/diagnosis.ttl%3Fext=acr": "a query hidden by encoding",
    "health/%252e%252e/": "double encoding",
}


@pytest.fixture(params=["WAC", "ACP"])
def pod(request, tmp_path):
    factory = request.getfixturevalue("make_user" if request.param == "WAC" else "make_acp_user")
    owner, person, cage = factory("owner"), factory("person"), factory("cage")
    app = create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": "http://dc.example/",
            "DATA_DIR": str(tmp_path / "data"),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": cage.webid,
        }
    )
    person.client.put(person.pod + "health/diagnosis.ttl", SECRET, "text/turtle")
    person.client.put(person.pod + "shop/orders.csv", b"order\n1\n", "text/csv")
    person.client.create_container(person.pod + "x/")
    return request.param, app, owner, person, cage


def can_read(client: SolidClient, url: str) -> bool:
    try:
        client.get(url)
    except (solid_errors.Forbidden, solid_errors.Unauthenticated):
        return False
    return True


def test_every_path_trick_is_refused_on_the_consent_page(pod):
    _system, _app, _owner, person, _cage = pod
    requests = tuple(DataRequest(what, path=trick) for trick, what in TRICKS.items())
    found = find_requested(person.client, person.webid, requests)
    for item in found:
        trick = item.request.path
        assert not item.shareable, f"{trick!r} ({item.request.description}) was offered"
        assert item.problem, trick
        assert item.resource is None, trick
    # The plain spelling still works, and a whole folder is offered as one.
    [file, folder] = find_requested(
        person.client,
        person.webid,
        (DataRequest("orders", path="shop/orders.csv"), DataRequest("shop", path="shop/")),
    )
    assert file.shareable
    assert file.resource == PodResource(person.pod + "shop/orders.csv")
    assert folder.resource == PodResource(person.pod + "shop/", is_container=True)


def test_a_grant_of_the_pod_root_through_an_encoded_dot_dot_is_refused(pod):
    """The page is not the only gate: a grant for a path that resolves elsewhere is refused,
    and the datacage never reads what was never asked for by name."""
    _system, app, owner, person, cage = pod
    space = make_active_space(
        app, owner.webid, [{"kind": "path", "target": "shop/", "description": "Your shop"}]
    )
    for sneaky in (person.pod + "x/%2e%2e/", person.pod, person.pod + "shop/.acl"):
        with pytest.raises(WrongState, match="cannot be shared"):
            give_consent(
                services(app).consents,
                space,
                person.client,
                grantee=cage.webid,
                resources=[PodResource(sneaky, is_container=sneaky.endswith("/"))],
                storage=person.pod,
                clock=lambda: datetime.now(UTC),
            )
    assert not can_read(cage.client, person.pod + "health/diagnosis.ttl")
    assert services(app).consents.history(space.iri, person.webid).consents == []


def test_a_type_index_pointing_outside_the_persons_pod_is_refused(pod, request):
    """A type registration is the person's own data, but a hostile app may have written it:
    one naming another person's pod (or the storage root) is not offered."""
    system, _app, _owner, person, _cage = pod
    factory = request.getfixturevalue("make_user" if system == "WAC" else "make_acp_user")
    other = factory("other")
    other.client.put(other.pod + "orders/1.csv", b"order\n2\n", "text/csv")
    index = person.pod + "settings/publicTypeIndex.ttl"
    person.client.put(
        index,
        f"""@prefix solid: <http://www.w3.org/ns/solid/terms#>.
<#elsewhere> a solid:TypeRegistration; solid:forClass <http://schema.org/Order>;
    solid:instanceContainer <{other.pod}orders/>.
<#everything> a solid:TypeRegistration; solid:forClass <http://schema.org/Order>;
    solid:instanceContainer <{person.pod}>.""",
        "text/turtle",
    )
    person.client.patch_sparql(
        person.pod + "profile/card",
        f"INSERT DATA {{ <{person.webid}> <http://www.w3.org/ns/solid/terms#publicTypeIndex> "
        f"<{index}> . }}",
    )
    found = find_requested(
        person.client,
        person.webid,
        (DataRequest("Your orders", rdf_class="http://schema.org/Order"),),
    )
    assert found
    assert all(not f.shareable and f.resource is None for f in found), found
