"""The pull's progress per pod server: planned by the control plane, counted by the datacage,
refused unless it is counts that fit the plan, and shown on the run page without naming anyone."""

from __future__ import annotations

import time

import pytest

from server import create_app
from server.consent.model import PodResource
from server.datacage.progress import PullCounts
from server.datacage.pull import PersonOutcome
from server.protocol.consents import JobConsent
from server.protocol.pull_progress import PodServerProgress, check_report
from server.runs.pull_progress import SMALL_SERVERS, origin_of, plan
from server.services import services
from tests.support.runs_world import CAGE, OWNER, active_space, attestation
from tests.support.waiting import wait_until

CSRF = {"X-CSRF-Token": "t"}


def test_the_plan_names_only_servers_of_at_least_k_people_and_at_most_a_few():
    urls = (
        [f"https://big.example/p{n}/data" for n in range(7)]
        + [f"https://BIG.example:443/q{n}/" for n in range(3)]
        + [f"https://alice.pods.example/{n}" for n in range(2)]  # one person's own server
        + [f"http://localhost:3000/p{n}/" for n in range(5)]
    )
    rows = plan(urls, k=5)
    assert rows == [
        PodServerProgress("http://localhost:3000", 5),
        PodServerProgress("https://big.example", 10),
        PodServerProgress("", 2),
    ]
    crowd = [f"https://s{n % 400}.example/p{n}" for n in range(4000)]  # 400 servers of 10
    assert len(plan(crowd, k=5, most=50)) == 51
    assert sum(r.to_read for r in plan(crowd, k=5)) == 4000


def test_origins_are_compared_as_the_server_sees_them():
    assert origin_of("HTTPS://Pods.Example.:443/a") == "https://pods.example"
    assert origin_of("http://[::1]:8080/x") == "http://[::1]:8080"
    assert origin_of("not a url") == ""


def test_a_report_that_does_not_fit_the_plan_is_refused():
    rows = [PodServerProgress("https://a.example", 10), PodServerProgress("", 3)]
    assert check_report(rows, [(4, 1), (0, 3)])[0] == PodServerProgress(
        "https://a.example", 10, 4, 1
    )
    for counts in ([(4, 1)], [(10, 1), (0, 0)], [(-1, 0), (0, 0)], [(0, 0), (0, 0), (0, 0)]):
        with pytest.raises(ValueError, match=r"pod servers|At most"):
            check_report(rows, counts)


def test_the_datacage_counts_people_per_row_and_sends_counts_only():
    sent: list[list[tuple[int, int]]] = []
    counts = PullCounts(["https://a.example", ""], sent.append, tick_s=0.05)

    def person(url: str, *, read: bool, lapsed: bool = False) -> PersonOutcome:
        consent = JobConsent(url + "#consent", "https://p.example/#me", (PodResource(url),))
        outcome = PersonOutcome(consent=consent, skipped=None if read else "refused")
        outcome.lapsed = lapsed
        if read:
            outcome.inputs.append(object())
        return outcome

    with counts.reporting():
        counts.on_person(0, person("https://a.example/1", read=True))
        counts.on_person(0, person("https://b.example/2", read=False))
        # A consent that stopped counting was neither read nor failed: it is not counted.
        counts.on_person(1, person("https://a.example/5", read=False, lapsed=True))
        wait_until(lambda: sent, "the first report of the counts")
        # Positions restart on every page: the row comes from the person's own pod server.
        counts.on_person(0, person("https://A.example:443/3", read=True))
        counts.on_person(1, person("https://x/4", read=True))
    assert sent[0] == [(1, 0), (0, 1)]
    assert sent[-1] == [(2, 0), (1, 1)]
    assert all(isinstance(n, int) for report in sent for row in report for n in row)


@pytest.fixture
def claimed(tmp_path):
    """A control plane with a running run whose plan has a large server and small ones."""
    app = create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": "https://dc.example/",
            "DATA_DIR": str(tmp_path),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": CAGE,
        }
    )
    with app.app_context():
        runs = services(app).runs
        space = active_space(runs)
        run = runs.start(space.id, OWNER)
        job = runs.claim(CAGE, attestation(run.algorithm_digest))
        urls = [f"https://pods.example/p{n}/" for n in range(6)] + ["https://alice.example/x"]

        def planned(r) -> None:
            r.pod_servers = plan(urls, space.terms.min_individuals)

        runs.store.change(run.id, planned)
    clients = {}
    for webid in (CAGE, OWNER):
        client = app.test_client()
        with client.session_transaction() as session:
            session.update(webid=webid, signed_in_at=time.time(), csrf_token="t")
        clients[webid] = client
    LEASES[run.id] = job.lease.token
    return app, space, run, clients


LEASES: dict[str, str] = {}


def _report(client, run, rows):
    headers = {**CSRF, "Datacage-Lease": LEASES.get(run.id, "")}
    return client.post(
        f"/api/datacage/runs/{run.id}/pull-progress", json={"pod_servers": rows}, headers=headers
    )


@pytest.mark.parametrize(
    "rows",
    [
        # Attack: a name, an IRI or words beside the counts.
        [
            {"read": 1, "failed": 0, "server": "https://alice.example/profile/card#me"},
            {"read": 0, "failed": 0},
        ],
        [{"read": 1, "failed": 0, "who": "alice"}, {"read": 0, "failed": 0}],
        # Attack: counts as text, a fraction, a boolean, more than the plan's people.
        [{"read": "3", "failed": 0}, {"read": 0, "failed": 0}],
        [{"read": 1.5, "failed": 0}, {"read": 0, "failed": 0}],
        [{"read": True, "failed": 0}, {"read": 0, "failed": 0}],
        [{"read": 7, "failed": 0}, {"read": 0, "failed": 0}],
        # Attack: rows the plan does not have (a channel in how many rows are sent).
        [{"read": 0, "failed": 0}] * 3,
        [{"read": 0, "failed": 0}] * 101,
    ],
)
def test_the_control_plane_refuses_anything_but_counts_that_fit_the_plan(claimed, rows):
    app, _space, run, clients = claimed
    response = _report(clients[CAGE], run, rows)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert all(r.read == 0 for r in services(app).runs.store.load(run.id).pod_servers)


def test_only_the_datacage_reports(claimed):
    _app, _space, run, clients = claimed
    response = _report(clients[OWNER], run, [{"read": 1, "failed": 0}, {"read": 0, "failed": 0}])
    assert response.status_code == 403


def test_the_run_page_shows_people_read_per_pod_server_without_naming_a_small_one(claimed):
    app, space, run, clients = claimed
    cage = clients[CAGE]
    assert (
        _report(cage, run, [{"read": 4, "failed": 1}, {"read": 0, "failed": 0}]).status_code == 204
    )
    # Not ahead (a count going back): ignored, not shown.
    assert (
        _report(cage, run, [{"read": 3, "failed": 1}, {"read": 1, "failed": 0}]).status_code == 204
    )
    page = clients[OWNER].get(f"/spaces/{space.id}/runs/{run.id}").get_data(as_text=True)
    assert 'id="run-pod-servers"' in page
    assert "https://pods.example" in page
    assert "alice.example" not in page  # one person's own server is never named
    assert SMALL_SERVERS.replace("'", "&#39;") in page
    row = page[page.index('data-server="https://pods.example"') :]
    assert '<td class="to-read">6</td><td class="read">4</td><td class="failed">1</td>' in row
    stored = services(app).runs.store.load(run.id).pod_servers
    assert [(r.read, r.failed) for r in stored] == [(4, 1), (0, 0)]
