"""What the organisations do in the demo, through the control plane's own services.

The retailer (data user and code provider) sets up one space per built-in bundle and invites
the bank (data provider); both approve; the retailer chooses where results go in its pod and
has an LDN inbox. The bank checks the datacage's evidence against its own trust policy and
pushes its customer list encrypted to the enclave key (`datacage push`'s library path, the
file connector into the demo folder). One space per bundle, rather than switching one space's
algorithm: a person's consent names the algorithm it was given for, and a pushed dataset is
sealed for one algorithm's evidence, so a switch would mean asking everyone again anyway.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

from flask import Flask
from rdflib import URIRef

import server.algorithms
from connectors import registry as connectors
from connectors.files import ROOTS_VARIABLE
from vocab import LDP

from ..algorithms import build_bundle
from ..attestation import measure_datacage_code
from ..attestation.admission import load_policy
from ..destinations import designate, statuses_of
from ..destinations.setup import default_container
from ..destinations.status import DeliveryStatus
from ..errors import WrongState
from ..push.provider import PushRequest, push_dataset
from ..runs.model import Run, RunStatus
from ..services import services
from ..spaces.model import Role, Space
from ..spaces.validation import check_space
from ..web.push_api import push_service
from .seed import DATA_REQUESTS, SCHEMA, bank_csv
from .stack import Account

BUILTIN = Path(server.algorithms.__file__).parent / "builtin"


class DemoFailed(RuntimeError):
    """Something the demo waited for did not happen: said in plain words."""


@dataclass(frozen=True)
class Plan:
    bundle: str  # a folder of server/algorithms/builtin/
    name: str
    description: str


PLANS = (
    Plan(
        "common-customers",
        "Common customers",
        "How many customers the shop and the bank have in common, matched privately by e-mail "
        "(CHECK_COMMON_DEMO_CUSTOMERS): neither sees the other's list.",
    ),
    Plan(
        "joint-stats",
        "Joint statistics",
        "The income of the customers the shop and the bank share, as a count, sum, mean and "
        "bands, every figure over at least five people (COMPUTE_JOINT_STATISTICS).",
    ),
)


def _now() -> datetime:
    return datetime.now(UTC)


def set_up_space(app: Flask, plan: Plan, retailer: Account, bank: Account) -> Space:
    """Created, joined, the bundle registered and approved by both organisations: active."""
    with app.app_context():
        spaces = services(app).spaces
        fields = check_space(
            name=plan.name,
            description=plan.description,
            purposes=["Marketing"],
            legal_basis="Consent",
            retention="P90D",
            data_requests=DATA_REQUESTS,
            consent_period="P1Y",
            recurring=False,
        )
        owner = retailer.webid
        space = spaces.create(owner, fields, frozenset({Role.DATA_CONSUMER, Role.CODE_PROVIDER}))
        invitation = spaces.invite(space.id, owner, bank.webid, frozenset({Role.DATA_PROVIDER}))
        spaces.accept(space.id, bank.webid, invitation.id)
        spaces.register_algorithm(space.id, owner, build_bundle(BUILTIN / plan.bundle))
        spaces.submit_for_approval(space.id, owner)
        terms = spaces.get(space.id, owner).terms_digest
        assert terms is not None  # complete once the bundle is registered
        for webid in (owner, bank.webid):
            spaces.approve(space.id, webid, terms)
        return spaces.get(space.id, owner)


def add_inbox(account: Account) -> str:
    """An `inbox/` container named by `ldp:inbox` in the profile, for delivery notices."""
    client = account.client()
    inbox = account.pod.pod_url + "inbox/"
    client.ensure_container(inbox)
    profile = account.webid.split("#", 1)[0]
    client.patch(profile, inserts=[(URIRef(account.webid), LDP.inbox, URIRef(inbox))])
    return inbox


def choose_results_container(app: Flask, space: Space, retailer: Account, cage: str) -> str:
    """The retailer designates the default results container, with its own pod client."""
    client = retailer.client()
    with app.app_context():
        found = services(app).spaces.get(space.id, retailer.webid)
        container = default_container(client, found)
        designate(services(app).destinations, found, client, container, datacage=cage, clock=_now)
    return container


def wait_for_evidence(app: Flask, space: Space, bank: Account, timeout: float = 60) -> None:
    """The worker publishes evidence for each open space's algorithm at its next poll."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with app.app_context():
                push_service(app).evidence_for(space.id, bank.webid)
            return
        except WrongState:
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"The datacage published no evidence for {space.name} in {timeout:g} s; "
                    "see demo.log."
                ) from None
            time.sleep(0.2)


def push_bank_list(
    control_plane: str, folder: Path, space: Space, bank: Account, public_key_pem: str, people: int
) -> Path:
    """The bank's side of `datacage push dataset`: its own policy, its own folder."""
    bank_folder = folder / "bank"
    bank_folder.mkdir(mode=0o700, exist_ok=True)
    source = bank_folder / "customers.csv"
    source.write_text(bank_csv(people))
    (bank_folder / "datacage.pub").write_text(public_key_pem)
    policy = bank_folder / "trust-policy.toml"
    assert space.algorithm is not None
    policy.write_text(
        f'code_digests = ["{measure_datacage_code()}"]\n'
        f'bundle_digests = ["{space.algorithm.digest}"]\n'
        "# The demo's datacage has no hardware attestation: its software stand-in, by key.\n"
        'allow_software = true\nsoftware_key_files = ["datacage.pub"]\n'
    )
    share = bank_folder / "share"
    share.mkdir(mode=0o700, exist_ok=True)
    allow_pushed_files_from(share)
    target = f"{space.id}.dcgpush"
    request = PushRequest(
        control_plane=control_plane,
        space_id=space.id,
        name="bank-customers",
        source=source,
        format="csv",
        schema=SCHEMA,
        connector=connectors.get("file")({"folder": str(share), "name": target}),
        grant_lifetime=timedelta(hours=12),
    )
    push_dataset(bank.client().session, request, load_policy(policy), _now())
    return share / target


def allow_pushed_files_from(folder: Path) -> None:
    """Let the demo's datacage (a thread of this process) read pushed files from `folder`:
    it reads them only from folders its operator names (`DATACAGE_PUSH_FILE_ROOTS`), and
    `make run` names none."""
    named = [r for r in os.environ.get(ROOTS_VARIABLE, "").split(os.pathsep) if r]
    os.environ[ROOTS_VARIABLE] = os.pathsep.join([*named, str(folder.resolve())])


def start_run(app: Flask, space: Space, retailer: Account) -> Run:
    with app.app_context():
        return services(app).runs.start(space.id, retailer.webid)


@dataclass
class Watched:
    """A finished run, its deliveries, and how long it was seen in each stage (the demo polls
    the run's record every 0.3 s, so each figure is good to about that)."""

    run: Run
    statuses: list[DeliveryStatus]
    stages: list[tuple[str, float]]


def wait_for_run(app: Flask, run: Run, timeout: float = 240) -> Watched:
    """Until the run has finished and every consumer's delivery is settled."""
    began = time.monotonic()
    deadline = began + timeout
    stages: list[tuple[str, float]] = []
    seen, since = "", began
    while True:
        with app.app_context():
            found = services(app).runs.store.load(run.id)
            statuses = statuses_of(services(app).registry, found.iri)
        now = time.monotonic()
        finished = found.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)
        stage = "finished, delivery settling" if finished else found.stage
        if stage != seen:
            if seen:
                stages.append((seen, now - since))
            seen, since = stage, now
        if finished and (found.status is RunStatus.FAILED or _settled(statuses)):
            stages.append((seen, now - since))
            return Watched(found, statuses, stages)
        if now > deadline:
            raise DemoFailed(
                f"Run {run.id} is still {found.status.label.lower()} after {timeout:g} s; "
                "see demo.log."
            )
        time.sleep(0.3)


def _settled(statuses: list[DeliveryStatus]) -> bool:
    return bool(statuses) and all(s.state != "retrying" for s in statuses)


def run_page(control_plane: str, space: Space, run: Run) -> str:
    return urljoin(control_plane, f"spaces/{space.id}/runs/{run.id}")
