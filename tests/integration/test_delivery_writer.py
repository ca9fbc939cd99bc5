"""The result writer against the real CSS, with Web Access Control and with Access Control
Policies: Append on the container is enough to create a result once; a second write of the same
result makes no copy; only the consumer reads it (the datacage included gets 403)."""

from __future__ import annotations

import pytest
import requests

from connectors.solid import AccessMode
from connectors.solid import errors as solid_errors
from server.datacage.delivery.writer import write_result

DOCUMENT = b"<https://cp.example/runs/r1/result> <https://example.org/ns#orders> 21 .\n"

pytestmark = pytest.mark.css


@pytest.fixture(params=["wac", "acp"])
def people(request):
    make = request.getfixturevalue("make_user" if request.param == "wac" else "make_acp_user")
    return make("consumer"), make("cage"), make("other")


def test_append_creates_once_and_only_the_consumer_reads(people):
    consumer, cage, other = people
    container = consumer.pod + "results/"
    consumer.client.ensure_container(container)
    consumer.client.access_control(container).grant(
        cage.webid, [AccessMode.APPEND], include_members=True
    )
    first = write_result(cage.client, container, "r1.ttl", DOCUMENT)
    again = write_result(cage.client, container, "r1.ttl", DOCUMENT)
    assert first.how == "created"
    assert again.how.startswith("already there")
    assert again.location == first.location
    assert [e.url for e in consumer.client.list_container(container)] == [first.location]
    graph, _ = consumer.client.get_graph(first.location)
    assert len(graph) == 1  # the confirming append added nothing
    for outsider in (cage, other):
        with pytest.raises(solid_errors.Forbidden):
            outsider.client.get(first.location)
    assert requests.get(first.location, timeout=10).status_code == 401


def test_a_withdrawn_append_is_a_refusal_not_a_delivery(people):
    consumer, cage, _ = people
    container = consumer.pod + "results/"
    consumer.client.ensure_container(container)
    with pytest.raises(solid_errors.Forbidden):
        write_result(cage.client, container, "r1.ttl", DOCUMENT)
    assert consumer.client.list_container(container) == []
