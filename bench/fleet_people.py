"""The people of bench/fleet.py: real accounts and pods on two Community Solid Servers, their
shop data on each pod server's disk, and their consents given through the consent service.

Set-up is not what the fleet benchmark measures, but at hundreds of people per server it was
most of its time and where it broke: one node process per server, asked for more at once than
it can serve, stopped answering. So set-up asks each server for at most `PER_SERVER` things at
a time (both servers at once), and a call a busy server dropped (no answer, a closed
connection, a 5xx) is tried again after a growing pause. Only set-up does that: the measured
runs keep the worker's own behaviour.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar
from urllib.parse import urlsplit

from rdflib import RDF, Graph, URIRef

from connectors.solid import SolidClient, SolidSession
from connectors.solid.css import CommunitySolidServer, CssAccountApi, PodAccount
from connectors.solid.css.errors import CssError
from connectors.solid.errors import SolidError, UpstreamError
from connectors.solid.http import Http
from server.errors import PodRefused
from tests.support.datacage_world import consent_to_survey
from vocab import ACL

#: Set-up calls at once at each single-threaded CSS: one being served, one being prepared by
#: this process; more only queue inside node and time out there.
PER_SERVER = 2
TRIES = 6
FIRST_PAUSE_S = 1.0
#: A busy CSS takes seconds to answer during set-up; the pod client's default (30 s) held,
#: but a connection a loaded machine is slow to accept needs longer than 5 s.
SET_UP_TIMEOUT = (20.0, 120.0)

T = TypeVar("T")

#: Set-up calls tried again, printed with the set-up's figures: a busy machine says so.
retried: list[str] = []


def dropped(exc: BaseException) -> bool:
    """A call the server did not carry out because it was too busy, worth trying again."""
    if isinstance(exc, PodRefused) and exc.__cause__ is not None:
        return dropped(exc.__cause__)  # give_consent undid its part; the cause says why
    if isinstance(exc, CssError):  # no status but a URL: CSS did not answer at all
        return (exc.status is None and exc.url is not None) or (exc.status or 0) >= 500
    return isinstance(exc, UpstreamError)  # 5xx, no answer in time, connection refused


def patiently(step: str, call: Callable[[int], T]) -> T:
    """`call(attempt)`, again after a growing pause while the server drops it (set-up only)."""
    for attempt in range(TRIES):
        try:
            return call(attempt)
        except (SolidError, PodRefused) as exc:
            if not dropped(exc) or attempt == TRIES - 1:
                raise SystemExit(f"set-up failed to {step}: {exc}") from exc
            retried.append(step)  # list.append is atomic: the set-up's threads share it
            time.sleep(FIRST_PAUSE_S * 2**attempt)
    raise AssertionError("unreachable")


def signed_in(api: CssAccountApi, account: PodAccount) -> SimpleNamespace:
    """The person as a client signed in with their own client credentials (Solid-OIDC)."""
    credentials = api.create_client_credentials(account)
    session = SolidSession.from_client_credentials(
        credentials.issuer, credentials.id, credentials.secret, http=Http(timeout=SET_UP_TIMEOUT)
    )
    return SimpleNamespace(
        client=SolidClient(session),
        pod=account.pod_url,
        webid=account.webid,
        credentials=credentials,
    )


def account(api: CssAccountApi, email: str, pod_name: str) -> PodAccount:
    return api.create_account(email=email, password=secrets.token_urlsafe(12), pod_name=pod_name)


def pod_files(n: int) -> dict[str, bytes]:
    """Person n's shop data: a customer record and 1 to 20 orders."""
    record = f'<#me> <http://schema.org/email> "shopper{n}@example.org" .\n'
    orders = "order,amount\n" + "".join(f"{i},9.50\n" for i in range(n % 20 + 1))
    return {"contacts/customers.ttl": record.encode(), "shop/orders.csv": orders.encode()}


def owner_acl(resource: str, owner: str) -> bytes:
    """A resource's own ACL giving its owner full control, as CSS's own pod ACLs do."""
    graph = Graph()
    rule = URIRef(resource + ".acl#owner")
    graph.add((rule, RDF.type, ACL.Authorization))
    graph.add((rule, ACL.agent, URIRef(owner)))
    graph.add((rule, ACL.accessTo, URIRef(resource)))
    for mode in (ACL.Read, ACL.Write, ACL.Control):
        graph.add((rule, ACL.mode, mode))
    return graph.serialize(format="turtle").encode()


def write_pod(server: CommunitySolidServer, person: SimpleNamespace, n: int) -> None:
    """Person n's data, written into the server's file store as a pod provider seeds its disk
    (CSS's file backend serves what is there, typed by extension): 800 authenticated PUTs
    through two node processes took minutes and measured nothing. Each resource gets its own
    ACL, the owner's alone, so a consent's grant edits it instead of first walking up the pod
    for the inherited one (four requests less a resource); the grants are then CSS's to
    enforce on every read of the runs."""
    assert server.data_dir is not None
    root = Path(server.data_dir, urlsplit(person.pod).path.strip("/"))
    if not root.is_dir():
        raise SystemExit(f"CSS keeps the pod {person.pod} somewhere other than {root}")
    for path, body in pod_files(n).items():
        (root / path).parent.mkdir(exist_ok=True)
        (root / path).write_bytes(body)
        (root / f"{path}.acl").write_bytes(owner_acl(person.pod + path, person.webid))


def one_person(server: CommunitySolidServer, api: CssAccountApi, label: str, n: int):
    def attempt(tries: int) -> SimpleNamespace:
        # A retried person is a fresh account: a half-made one (its e-mail taken) stays unused.
        name = f"{label}{n}" + (f"r{tries}" if tries else "")
        person = signed_in(api, account(api, f"{name}@example.org", name))
        write_pod(server, person, n)
        return person

    return patiently(f"make person {label}{n} on {server.base_url}", attempt)


def make_people(servers, apis, count: int) -> list[list[SimpleNamespace]]:
    """`count` people on each server: a real account with a password login, a pod, client
    credentials and a signed-in client each; accounts made through CSS's account API."""

    def on(server, api, label: str) -> list[SimpleNamespace]:
        with ThreadPoolExecutor(PER_SERVER) as pool:
            return list(pool.map(lambda n: one_person(server, api, label, n), range(count)))

    labels = "abcdefghijklmnopqrstuvwxyz"
    with ThreadPoolExecutor(len(servers)) as both:
        return list(both.map(on, servers, apis, labels[: len(servers)]))


def consent_all(app, spaces, owner: str, people: Iterable, cage_webid: str) -> None:
    """Each person consents to each space through `give_consent`, the consent service the
    consent page calls: the reservation in the registry, Read grants on both resources in
    the pod's ACLs, the receipt, the usage-records container, the record turned given."""

    def one(person, space) -> None:
        def attempt(_tries: int) -> None:
            consent_to_survey(app, space, owner, person, cage_webid)

        patiently(f"give {person.webid}'s consent to {space.name}", attempt)

    def on(group: list) -> None:
        with ThreadPoolExecutor(PER_SERVER) as pool:
            list(pool.map(lambda pair: one(*pair), [(p, s) for p in group for s in spaces]))

    groups = list(people)
    with ThreadPoolExecutor(len(groups)) as each_server:
        list(each_server.map(on, groups))
