"""A consumer designates (or stops using) a container in their pod for a space's results.

Everything in the pod is done through the consumer's own pod session (they signed in at their
identity provider for this, as for consent): the container is created if missing, and the
datacage's WebID is granted **Append** on it and on its members (`acl:default` in WAC), nothing
else. Append lets the datacage add a result, never read one, replace one or list the container;
the results inherit the container's other authorizations, so the consumer (who keeps Control)
reads them and nobody else does unless the consumer chose so for that container. If their profile
names an LDN inbox in their own pod, the datacage gets Append there too, to post notifications.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rdflib import URIRef

from connectors.solid import AccessMode, SolidClient
from connectors.solid import errors as solid_errors
from vocab import LDP

from ..consent.resolve import storage_of
from ..errors import PodRefused, ValidationFailed, WrongState
from ..spaces import permissions
from ..spaces.model import Role, Space
from ..spaces.validation import is_safe_iri
from .store import Destination, DestinationStore

log = logging.getLogger(__name__)

#: Where results go unless the consumer says otherwise, under their pod root.
DEFAULT_CONTAINER = "datacage-results/{space}/"
GRANTED = (AccessMode.APPEND,)


@dataclass(frozen=True)
class Designated:
    destination: Destination
    done: list[str]  # what was changed in the pod, in plain words, to show the consumer


def default_container(person: SolidClient, space: Space) -> str:
    return storage_of(person, person.webid or "") + DEFAULT_CONTAINER.format(space=space.id)


def designate(
    store: DestinationStore,
    space: Space,
    person: SolidClient,
    container: str,
    *,
    datacage: str,
    clock: Callable[[], datetime],
) -> Designated:
    consumer = permissions.require_role(space, person.webid, Role.DATA_CONSUMER)
    if not datacage:
        raise WrongState(
            "This server names no datacage (DATACAGE_WEBID), so nothing can be set up."
        )
    container = container.strip()
    if not container.endswith("/"):
        container += "/"
    try:
        storage = storage_of(person, consumer)
        if not is_safe_iri(container) or not container.startswith(storage):
            raise ValidationFailed(
                {"container": [f"Choose a container inside your own pod ({storage})."]}
            )
        done = []
        previous = store.get(space.iri, consumer)
        if previous and previous.container != container:
            done += _take_back(person, previous, datacage)
        person.ensure_container(container)
        control = person.access_control(container)
        control.grant(datacage, GRANTED, include_members=True)
        done.append(
            f"Gave the datacage ({datacage}) Append on {container} and on what it will contain "
            f"({control.system}): it can add results there, not read, change or list them."
        )
        inbox = _inbox(person, consumer)
        if inbox and inbox.startswith(storage):
            person.access_control(inbox).grant(datacage, GRANTED, include_members=True)
            done.append(f"Gave the datacage Append on your inbox {inbox}, to notify you.")
    except solid_errors.SolidError as exc:
        raise PodRefused(
            f"Your pod did not accept the change, so nothing was recorded: {exc}"
        ) from exc
    destination = Destination(
        space_iri=space.iri,
        consumer=consumer,
        container=container,
        modes=tuple(m.value for m in GRANTED),
        access_system=control.system,
        designated_at=clock(),
        inbox=inbox,
    )
    store.put(destination)
    log.info("result destination set", extra={"space": space.iri, "consumer": consumer})
    return Designated(destination, done)


def remove_designation(
    store: DestinationStore, space: Space, person: SolidClient, *, datacage: str
) -> list[str]:
    consumer = permissions.require_role(space, person.webid, Role.DATA_CONSUMER)
    previous = store.get(space.iri, consumer)
    if previous is None:
        raise WrongState("You had designated no container for this space's results.")
    done = _take_back(person, previous, datacage)
    store.delete(space.iri, consumer)
    log.info("result destination removed", extra={"space": space.iri, "consumer": consumer})
    return done


def _take_back(person: SolidClient, previous: Destination, datacage: str) -> list[str]:
    try:
        person.access_control(previous.container).revoke(datacage)
    except solid_errors.NotFound:
        return [f"{previous.container} is no longer in your pod; nothing to take back there."]
    except solid_errors.SolidError as exc:
        raise PodRefused(
            f"The datacage's access to {previous.container} could not be taken back, so nothing "
            f"was changed: {exc}"
        ) from exc
    return [f"Took the datacage's access to {previous.container} back (results there stay)."]


def _inbox(person: SolidClient, webid: str) -> str | None:
    graph, _ = person.get_graph(webid.split("#", 1)[0])
    inbox = graph.value(URIRef(webid), LDP.inbox)
    return str(inbox) if inbox is not None else None
