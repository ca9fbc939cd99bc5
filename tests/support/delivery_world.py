"""Consumers who designated a container for results, with an LDN inbox in their pod."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from rdflib import URIRef

from server.destinations import designate
from server.services import services
from server.spaces.model import Space
from vocab import LDP


def add_inbox(user) -> str:
    """An `inbox/` container in the user's pod, named by `ldp:inbox` in their profile."""
    inbox = user.pod + "inbox/"
    user.client.ensure_container(inbox)
    user.client.patch(
        user.webid.split("#", 1)[0], inserts=[(URIRef(user.webid), LDP.inbox, URIRef(inbox))]
    )
    return inbox


def designated(app: Flask, space: Space, consumer, cage_webid: str, name: str = "results/"):
    """The consumer designates `<pod><name>` for the space's results, through their own client."""
    with app.app_context():
        return designate(
            services(app).destinations,
            services(app).spaces.get(space.id, consumer.webid),
            consumer.client,
            consumer.pod + name,
            datacage=cage_webid,
            clock=lambda: datetime.now(UTC),
        )
