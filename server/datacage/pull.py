"""Reading consented data from pods, person by person, exactly as each consent lists it.

People are read in parallel by a bounded pool (`PullLimits.people_at_once`), with at most
`PullLimits.per_host` requests in flight at any one pod server, so many providers are read at
once and none is flooded. A *pod server* is where the requests land: the address a pod's host
resolves to and its port, so `localhost`, `LOCALHOST` and `127.0.0.1` (or the subdomains of
one provider's pods) share one bound instead of each getting its own. The pool hands a free
thread the next person of a server that has a free place, in turn across servers: a slow server
keeps only its own places busy, and the others are read at full speed meanwhile.

Each read is retried with backoff when the server fails (5xx) or does not answer in time;
anything else is final. One person's failure is that person's part of the run, never the whole
run: a 403 is a withdrawal signal (recorded, not retried), an unreachable pod is reported as
such. Every read keeps the ETag, so provenance can name the exact version used.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from connectors.solid import SolidClient
from connectors.solid import errors as solid_errors

from ..protocol.consents import PodResource, Read
from .pod_servers import PodServers, PullScheduler

log = logging.getLogger(__name__)

#: Most resources read under one container grant, so a huge folder cannot swamp a run.
MAX_MEMBERS = 1000

#: The oldest a re-check's answer may be when the person's first request goes out. People are
#: re-checked ahead of their read (`PullScheduler`'s `ahead`) and then wait for a place at
#: their server; one who waited longer is asked again, the place held, so no older answer
#: lets a read begin.
MAX_ANSWER_AGE_S = 1.0


class _NoLongerCounts(Exception):
    """The consent stopped counting while its person waited for a place at their server."""


class ConsentLike(Protocol):
    iri: str
    subject: str
    resources: tuple[PodResource, ...]


class ConsentAuthority(Protocol):
    """Where the datacage asks whether a consent still counts, and reports a pod's refusal."""

    def still_in_force(self, consent: ConsentLike) -> bool: ...

    def record_refusal(self, consent: ConsentLike, url: str) -> None: ...


@dataclass(frozen=True)
class PullLimits:
    """How hard a pull may press: declared as worker options in `server.config`
    (`DATACAGE_PULL_PEOPLE_AT_ONCE`, `DATACAGE_PULL_PER_POD_SERVER`)."""

    people_at_once: int = 8
    per_host: int = 4  # requests in flight at one pod server
    attempts: int = 4
    first_backoff_s: float = 0.2
    longest_backoff_s: float = 3.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PullLimits:
        """The limits of a configuration (`server.config.OPTIONS`), defaults where unset."""
        defaults = cls()
        return cls(
            people_at_once=int(config.get("PULL_PEOPLE_AT_ONCE") or defaults.people_at_once),
            per_host=int(config.get("PULL_PER_POD_SERVER") or defaults.per_host),
        )


@dataclass(frozen=True)
class Input:
    url: str
    version: str | None
    content_type: str | None
    body: bytes = field(repr=False)


@dataclass
class PersonOutcome:
    consent: ConsentLike
    inputs: list[Input] = field(default_factory=list)
    skipped: str | None = None  # why nothing was read for this person
    withdrawn: bool = False  # the pod refused: recorded as a withdrawal
    lapsed: bool = False  # the consent stopped counting between planning and reading
    attestation_refused: bool = False  # the pod's gate did not admit this datacage
    transport_refused: bool = False  # a pod on plain http, and the development setting is off
    plain_http: bool = False  # read over plain http (the development setting allowed it)

    @property
    def reads(self) -> list[Read]:
        return [Read(i.url, i.version) for i in self.inputs]


#: Called after each person is done: (index of the consent, its outcome). From pool threads.
OnPerson = Callable[[int, PersonOutcome], None]


def pull(
    cage: SolidClient,
    authority: ConsentAuthority,
    consents: Sequence[ConsentLike],
    limits: PullLimits = PullLimits(),
    *,
    allow_plain_http: bool = False,
    on_person: OnPerson | None = None,
    servers: PodServers | None = None,
) -> list[PersonOutcome]:
    """Read every person's consented resources; the outcomes are in the order of `consents`.

    Pods are read over TLS only, with the datacage's RA-TLS client certificate, so a pod
    provider's attestation gateway can check the evidence before any byte flows. A pod on
    plain http is left out unless `allow_plain_http` (a development setting) says otherwise,
    and then the outcome says so, for the run's page and its provenance.

    `on_person` hears of each person as they are done (the run's progress per pod server);
    `servers` says which pod server a URL is on (default: by the address its host resolves to).
    """
    return pull_stream(
        cage,
        authority,
        [consents],
        limits,
        allow_plain_http=allow_plain_http,
        on_person=on_person,
        servers=servers,
    )


def pull_stream(
    cage: SolidClient,
    authority: ConsentAuthority,
    pages: Iterable[Sequence[ConsentLike]],
    limits: PullLimits = PullLimits(),
    *,
    allow_plain_http: bool = False,
    on_person: OnPerson | None = None,
    servers: PodServers | None = None,
) -> list[PersonOutcome]:
    """`pull` over people that come a page at a time, on one pool: the next page is taken in
    while this one is still read (as soon as a server would otherwise idle, or few wait), so
    a page's last people never leave the other servers idle. The outcomes are in the order
    the people came. `on_person`'s index counts from the first page's first person."""
    servers = servers or PodServers()
    people: list[ConsentLike] = []
    outcomes: list[PersonOutcome | None] = []
    lock = threading.Lock()

    def one(index: int, hosts: PullScheduler) -> None:
        with lock:
            consent = people[index]
        outcome = _pull_person(cage, authority, consent, hosts, limits, allow_plain_http)
        with lock:
            outcomes[index] = outcome
        if on_person is not None:
            on_person(index, outcome)

    # As many people again as a server has places may be re-checked ahead of their read.
    scheduler = PullScheduler(servers, limits.people_at_once, limits.per_host, limits.per_host)
    scheduler.start(one)
    try:
        for page in pages:
            page = list(page)
            with lock:
                people.extend(page)
                outcomes.extend([None] * len(page))
            scheduler.add([c.resources[0].url if c.resources else "" for c in page])
            # Room for the next page once a server runs dry or few people wait.
            scheduler.wait_for_room(2 * limits.people_at_once, max(len(page), 1))
            if scheduler.failed:
                break  # no more pages asked for: `join` raises the failure
    except BaseException as exc:  # a page that could not be had: nobody else is taken
        scheduler.stop(exc)
        with contextlib.suppress(BaseException):
            scheduler.join()
        raise
    scheduler.close()
    scheduler.join()
    return outcomes  # type: ignore[return-value]


def _pull_person(
    cage: SolidClient,
    authority: ConsentAuthority,
    consent: ConsentLike,
    hosts: PullScheduler,
    limits: PullLimits,
    allow_plain_http: bool = False,
) -> PersonOutcome:
    outcome = PersonOutcome(consent)
    plain = [r.url for r in consent.resources if urlsplit(r.url).scheme != "https"]
    if plain and not allow_plain_http:
        # Checked before anything is asked of the pod: no token or proof goes out in clear.
        outcome.skipped = "the pod is not served over TLS; the datacage reads only over TLS"
        outcome.transport_refused = True
        return outcome
    outcome.plain_http = bool(plain)
    try:
        # Checked right before this person's read, not when the run was planned.
        if not authority.still_in_force(consent):
            outcome.skipped = "the consent no longer counts"
            outcome.lapsed = True
            return outcome
        answered: list[float | None] = [time.monotonic()]

        def still_fresh() -> bool:
            """Asked with the server's place held, before each request: only the first one
            may find the answer too old (the others are the same read, already begun)."""
            if answered[0] is None:
                return True
            age, answered[0] = time.monotonic() - answered[0], None
            return age <= MAX_ANSWER_AGE_S or authority.still_in_force(consent)

        for resource in consent.resources:
            if resource.is_container:
                urls = _retrying(
                    lambda r=resource: _members(cage, r.url), hosts, resource, limits, still_fresh
                )
            else:
                urls = [resource.url]
            for url in urls:
                read = _retrying(lambda u=url: cage.get(u), hosts, url, limits, still_fresh)
                outcome.inputs.append(Input(url, read.etag, read.content_type, read.body))
    except _NoLongerCounts:
        outcome.inputs.clear()
        outcome.skipped = "the consent no longer counts"
        outcome.lapsed = True
    except (solid_errors.Forbidden, solid_errors.Unauthenticated) as exc:
        url = getattr(exc, "url", None) or "a consented resource"
        authority.record_refusal(consent, url)
        outcome.inputs.clear()  # a partial read of a withdrawn person is not used
        outcome.withdrawn = True
        outcome.skipped = f"the pod refused the read of {url}; recorded as withdrawn"
    except solid_errors.CertificateRefused:
        outcome.inputs.clear()  # the pod's gate refused our attestation: not the person's doing
        outcome.skipped = "the pod's server did not accept the datacage's attestation"
        outcome.attestation_refused = True
    except solid_errors.SolidError as exc:
        outcome.inputs.clear()
        outcome.skipped = f"the pod could not be read: {exc}"
    log.info(
        "pulled",
        extra={"consent": consent.iri, "inputs": len(outcome.inputs), "skipped": outcome.skipped},
    )
    return outcome


def _retrying(
    call,
    hosts: PullScheduler,
    target: object,
    limits: PullLimits,
    still_fresh: Callable[[], bool] = lambda: True,
):
    url = target.url if isinstance(target, PodResource) else str(target)
    for attempt in range(limits.attempts):
        try:
            with hosts.slot(url):
                if not still_fresh():
                    raise _NoLongerCounts
                return call()
        except solid_errors.UpstreamError as exc:  # 5xx, timeouts, refused connections
            status = getattr(exc, "status", None)
            if attempt + 1 == limits.attempts or (status is not None and status < 500):
                raise  # out of attempts, or an answer that will not change by asking again
            ceiling = min(limits.longest_backoff_s, limits.first_backoff_s * 2**attempt)
            wait = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret
            log.info("retrying", extra={"url": url, "attempt": attempt + 1, "error": str(exc)})
            time.sleep(wait)  # the server's place is free meanwhile
    raise AssertionError("unreachable")  # the loop returns or raises


def _members(cage: SolidClient, container: str) -> list[str]:
    found = []
    for entry in cage.walk(container, limit=MAX_MEMBERS):
        if not entry.is_container:
            found.append(entry.url)
    return sorted(found)
