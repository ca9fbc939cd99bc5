"""README's first command, non-interactively: `datacage demo --check` from nothing to the
reports in the data user's pod, then read back again after it stopped and checked against
plain sets computed here from the demo's own inputs.

The demo runs as a child process with its own pod provider (CSS behind nginx's entrance and
attestation gateway), control plane and datacage worker (real sandbox, real consent pages).
Afterwards nothing it started may still run; the test then starts a pod provider of its own on
the demo's pod folder and reads the reports as the retailer.
"""

from __future__ import annotations

import contextlib
import csv
import re

import pytest
import requests
from rdflib import Graph, Literal, URIRef

from connectors.solid import SolidClient, SolidSession
from connectors.solid.css import CommunitySolidServer, CssAccountApi, PodAccount
from connectors.solid.http import Http, TlsSettings
from server.attestation import TrustPolicy
from server.demo import seed
from server.demo.gateway import PodProvider
from tests.support.demo_run import RunningDemo, processes_using, run_to_end
from vocab import DCG, DF, RDF

PEOPLE = 12
REPORTS = "https://w3id.org/datacage/datafuse/report#"


def plain_sets(folder) -> tuple[set[str], dict[str, int]]:
    """The consenting individuals' addresses and the bank's list as it is on disk."""
    with (folder / "bank" / "customers.csv").open() as table:
        bank = {row["email"].strip().lower(): int(row["income"]) for row in csv.DictReader(table)}
    consenting = {seed.address(n) for n in range(PEOPLE) if seed.consents(n)}
    return consenting, bank


@pytest.mark.timeout(300)
def test_the_demo_runs_to_the_reports_in_the_data_users_pod_and_stops_everything(tmp_path):
    folder = tmp_path / "demo"
    code, output = run_to_end(folder, PEOPLE, timeout=280)
    assert code == 0, output.text
    assert "demo ready" in output.text
    assert "Traceback" not in output.text
    assert processes_using(folder) == []  # the CSS child, and nothing else, named the folder

    consenting, bank = plain_sets(folder)
    common = consenting & bank.keys()
    assert 5 <= len(common) < len(consenting)  # enough to report, and not trivially everyone
    declined = PEOPLE - len(consenting)
    assert f"{len(consenting)} people accepted each space" in output.text
    assert f"{declined} declined" in output.text
    gateway = re.search(
        r"attestation gateway: (\d+) request\(s\) admitted.*, (\d+) refused", output.text
    )
    assert gateway, output.text
    assert int(gateway[1]) >= len(consenting)  # every consenting person's pod, at least
    assert "none over plain http" in output.text
    # Where the time went, phase by phase, each with its seconds: what a long demo's note uses.
    for phase in (
        "pod provider start",
        "accounts and pods seeded",
        "spaces, approvals and the bank's pushes",
        "consent pages",
        "runs \\(claims, pulls, algorithms, gates, deliveries\\)",
        "Common customers: [a-z, -]+",  # the run's stages as seen (polled every 0.3 s)
        "Joint statistics: [a-z, -]+",
        "reports read back and checked",
    ):
        assert re.search(rf"\n +{phase}: \d+\.\d s\n", output.text), phase

    # The pods outlive the demo on disk: a CSS of our own on the same folder and port serves
    # them again, and the retailer reads its reports with credentials of its own.
    port = int(re.search(r":(\d+)/$", output.css_base)[1])
    (tmp_path / "front").mkdir()
    pods = PodProvider(tmp_path / "front", entrance_port=port, policy=NOBODY).start()
    css = CommunitySolidServer(
        port=pods.css_port, data_dir=folder / "css", public_url=pods.public_url, extra_ca=pods.ca
    )
    trusting = requests.Session()
    trusting.trust_env = False  # REQUESTS_CA_BUNDLE would replace `verify`
    trusting.verify = str(pods.ca)
    with pods_stopped(pods), started(css):
        with CssAccountApi(css.base_url, verify=str(pods.ca)) as accounts:
            retailer = PodAccount(
                seed.RETAILER.email, seed.PASSWORD, css.base_url + "retailer/",
                css.base_url + "retailer/profile/card#me", css.base_url,
            )  # fmt: skip
            credentials = accounts.create_client_credentials(retailer, "test")
        client = SolidClient(
            SolidSession.from_client_credentials(
                css.base_url,
                credentials.id,
                credentials.secret,
                http=Http(tls=TlsSettings(verify=str(pods.ca))),
            )
        )
        common_report = _graph(client, output.url("Common customers: the report"))
        stats_report = _graph(client, output.url("Joint statistics: the report"))
        stranger = trusting.get(output.url("Common customers: the report"), timeout=10)
        assert stranger.status_code == 401  # the retailer's alone

    node = URIRef(REPORTS + "common-customers")
    assert common_report.value(node, DF.commonCustomers) == Literal(len(common))
    assert common_report.value(node, DF.parties) == Literal(2)
    assert common_report.value(node, DCG.individuals) == Literal(len(consenting))

    figures = {
        str(stats_report.value(f, DF.statistic)): stats_report.value(f, DF.value).toPython()
        for f in stats_report.subjects(RDF.type, DF.Statistic)
        if stats_report.value(f, DF.lowerBound) is None
    }
    assert figures["count"] == len(common)
    assert figures["sum"] == sum(bank[address] for address in common)
    for report in (common_report, stats_report):
        text = report.serialize(format="turtle")
        assert "@shop.example" not in text  # counts only: no address left the cage
        assert "@elsewhere.example" not in text


#: The re-started provider's gateway admits no datacage: only the retailer reads, at the entrance.
NOBODY = TrustPolicy.approving([])


@contextlib.contextmanager
def started(css: CommunitySolidServer):
    """CSS started with a loaded machine's patience: node reads its whole configuration at
    start, which took more than the usual minute at a load average of 15."""
    css.start(timeout=180)
    try:
        yield css
    finally:
        css.stop()


@contextlib.contextmanager
def pods_stopped(pods: PodProvider):
    try:
        yield pods
    finally:
        pods.stop()


def _graph(client: SolidClient, url: str) -> Graph:
    return Graph().parse(data=client.get(url, accept="text/turtle").body, format="turtle")


@pytest.mark.timeout(200)  # ~20 s alone; CSS and the pods take longer on a busy machine
def test_ctrl_c_while_it_sets_up_stops_everything_it_started(tmp_path):
    folder = tmp_path / "demo"
    demo = RunningDemo(folder, 5)
    try:
        demo.until("Control plane on", timeout=100)  # CSS, pods, control plane and worker up
        assert processes_using(folder)  # the CSS child, found by its data folder
        assert demo.interrupt() == 0
    finally:
        demo.kill()
    assert "Stopped the Community Solid Server" in demo.output.text
    assert "Traceback" not in demo.output.text
    assert processes_using(folder) == []
