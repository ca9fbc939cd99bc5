"""Telling people whose consent needs renewal: a Linked Data Notification to their inbox.

Sent when a space becomes active again under changed terms (every participant approved the new
terms): each person whose consent was given under the old terms, and whose profile names an
`ldp:inbox`, gets an Activity Streams `Announce` naming the space and their My data page. It
says *that* the terms changed, not who else consented. The notice is a courtesy: whatever
happens to it, no run reads their data until they renew (`server.consent.authority`).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from rdflib import Graph, Literal, URIRef

from connectors.solid import SolidClient, SolidSession
from connectors.solid import errors as solid_errors
from connectors.solid.http import Http
from connectors.solid.ldn import inbox_of, send
from vocab import AS, RDF, XSD

from ..spaces.model import Space
from .model import Consent
from .store import ConsentStore
from .terms import needs_renewal

log = logging.getLogger(__name__)


def renewal_notice(consent: Consent, space: Space, my_data: str, at: datetime) -> Graph:
    graph = Graph()
    graph.bind("as", AS)
    tag = hashlib.sha256(f"{consent.iri} {space.terms_digest}".encode()).hexdigest()[:16]
    activity = URIRef(f"{consent.iri}#renewal-{tag}")
    graph.add((activity, RDF.type, AS.Announce))
    graph.add((activity, AS.actor, URIRef(space.owner)))
    graph.add((activity, AS.object, URIRef(space.iri)))
    graph.add((activity, AS.context, URIRef(consent.iri)))
    graph.add((activity, AS.target, URIRef(consent.subject)))
    graph.add((activity, AS.url, URIRef(my_data)))
    graph.add(
        (
            activity,
            AS.summary,
            Literal(
                f"The terms of {space.name} changed. Your consent needs your renewal: until you "
                "renew it, no run reads your data. See what changed on your My data page."
            ),
        )
    )
    graph.add(
        (activity, AS.published, Literal(at.isoformat(timespec="seconds"), datatype=XSD.dateTime))
    )
    return graph


def notify_renewals(
    store: ConsentStore, space: Space, http: Http, public_url: str, now: datetime
) -> list[str]:
    """Notify everyone whose consent to `space` needs renewal; return the consents notified."""
    client = SolidClient(SolidSession.anonymous(http=http))
    notified = []
    for history in store.of_space(space.iri):
        for consent in history.consents:
            if not needs_renewal(consent, space, now):
                continue
            try:
                inbox = inbox_of(client, consent.subject)
                if inbox is None:
                    continue
                notice = renewal_notice(consent, space, f"{public_url}my-data", now)
                send(client, inbox, notice)
                notified.append(consent.iri)
            except solid_errors.SolidError as exc:
                log.warning(
                    "renewal notice not sent", extra={"consent": consent.iri, "reason": str(exc)}
                )
    return notified
