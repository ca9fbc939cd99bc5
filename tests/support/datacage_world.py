"""People with pods full of shop data, consents to a space, and a datacage worker: the world a
run needs, built through the real services (the consent pages have tests of their own)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask

from server import create_app
from server.attestation import SoftwareAttestationProvider
from server.consent.give import give_consent
from server.consent.model import PodResource
from server.datacage.delivery import DeliverySettings
from server.datacage.job import JobSettings
from server.datacage.sandbox import SandboxLimits
from server.datacage.worker import Identity, Worker
from server.services import services
from server.spaces.model import Space
from tests.support.consent_space import make_active_space
from tests.support.live_server import serve_wsgi

BUNDLES = Path(__file__).parents[1] / "fixtures" / "bundles"
SURVEY, LEAK = BUNDLES / "shop-survey", BUNDLES / "shop-leak"
REQUESTS = [
    {"kind": "path", "target": "contacts/customers.ttl", "description": "Your customer record"},
    {"kind": "path", "target": "shop/orders.csv", "description": "Your orders"},
]


def fill_pods(people: list) -> None:
    """Person n has a customer record with an e-mail address and n + 1 orders."""
    for n, person in enumerate(people):
        record = f'<#me> <http://schema.org/email> "shopper{n}@example.org" .\n'
        person.client.put(person.pod + "contacts/customers.ttl", record.encode(), "text/turtle")
        orders = "order,amount\n" + "".join(f"{i},9.50\n" for i in range(n + 1))
        person.client.put(person.pod + "shop/orders.csv", orders.encode(), "text/csv")


def consented_space(
    app: Flask,
    owner: str,
    people: list,
    cage_webid: str,
    bundle: Path,
    name: str,
    privacy: dict[str, float] | None = None,
) -> Space:
    """An approved space running `bundle`, to which every person consented."""
    space = make_active_space(
        app, owner, REQUESTS, bundle_source=bundle, name=name, privacy=privacy
    )
    for person in people:
        consent_to_survey(app, space, owner, person, cage_webid)
    return space


def consent_to_survey(app: Flask, space: Space, owner: str, person, cage_webid: str) -> None:
    """`person` consents to `space` through `give_consent`, as the consent page does: their
    customer record and orders, read by the datacage."""
    give_consent(
        services(app).consents,
        services(app).spaces.get(space.id, owner),
        person.client,
        grantee=cage_webid,
        resources=[
            PodResource(person.pod + "contacts/customers.ttl"),
            PodResource(person.pod + "shop/orders.csv"),
        ],
        storage=person.pod,
        clock=lambda: datetime.now(UTC),
    )


def make_worker(
    control_plane: str,
    cage,
    folder: Path,
    delivery: DeliverySettings | None = None,
    *,
    allow_plain_http: bool = True,
    key_service=None,  # a fleet's KeyServiceClient: pushed datasets sealed to fleet keys
) -> Worker:
    """A datacage worker signed in as `cage` (a test user), working in `folder`.

    The session's CSS serves plain http, so the development setting is on unless a test asks
    for the default (TLS only)."""
    credentials = cage.credentials
    return Worker(
        control_plane,
        Identity(credentials.issuer, credentials.id, credentials.secret),
        SoftwareAttestationProvider(folder / "attestation"),
        JobSettings(
            work_root=folder / "work",
            results_dir=folder / "results",
            sandbox=SandboxLimits(wall_seconds=30, cpu_seconds=20),
            delivery=delivery or DeliverySettings(),
            allow_plain_http_pods=allow_plain_http,
        ),
        key_service=key_service,
    )


@contextmanager
def serve_control_plane(
    folder: Path, datacage_webid: str, config: dict | None = None
) -> Iterator[tuple[str, Flask]]:
    """A live control plane naming `datacage_webid` as its datacage: (its URL, the app);
    `config` adds settings (a fleet's short leases, its broker)."""
    built: list[Flask] = []

    def build(base: str) -> Flask:
        settings = {
            "TESTING": True,
            "PUBLIC_URL": base,
            "DATA_DIR": str(folder),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": datacage_webid,
            "LOG_FORMAT": "text",
            **(config or {}),
        }
        built.append(create_app(settings))
        return built[0]

    with serve_wsgi(build=build) as base:
        yield base, built[0]


@dataclass
class SurveyWorld:
    """What a run needs: a live control plane, an approved space to which everyone consented,
    the owner (holding every role), the datacage's account and the people."""

    base: str
    app: Flask
    space: Space
    owner: object
    cage: object
    people: list
    folder: Path

    def worker(self, delivery: DeliverySettings | None = None) -> Worker:
        return make_worker(self.base, self.cage, self.folder / "cage", delivery)


@contextmanager
def survey_world(
    make_user,
    folder: Path,
    *,
    people: int = 5,
    person: str = "shopper",
    owner: str = "owner",
    name: str = "Shop survey",
    bundle: Path = SURVEY,
) -> Iterator[SurveyWorld]:
    """`people` test users with shop data in their pods, consented to a space running `bundle`."""
    holder, cage = make_user(owner), make_user("cage")
    persons = [make_user(f"{person}{n}") for n in range(people)]
    with serve_control_plane(folder / "control", cage.webid) as (base, app):
        fill_pods(persons)
        space = consented_space(app, holder.webid, persons, cage.webid, bundle, name)
        yield SurveyWorld(base, app, space, holder, cage, persons, folder)
