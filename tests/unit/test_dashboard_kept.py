"""The dashboard keeps what it read and drew, and never shows it after a write has returned.

A repeat view of an unchanged space reads no run or delivery again and draws nothing again
(the joins over every run and delivery were most of a view's time); every write a page shows
(a run created or changed, a delivery, a consent, a dataset, the space itself, the audit trail)
is on the next view, including a write that lands while a view is reading.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.consent.model import ConsentState
from server.dashboard import charts
from server.dashboard import stamp as stamps
from server.destinations import record_delivery
from server.push.records import PushedDataset, datasets_graph_name, datasets_to_graph
from server.registry import activity
from server.runs.model import Run, RunStatus
from server.services import services
from tests.support.consent_records import consent
from tests.support.dashboard_page import DELIVERED, tile
from tests.support.web_api import (  # noqa: F401
    ALICE,
    BOB,
    OWNER,
    STRANGER,
    app,
    bundle,
    callers,
    clean_environment,
    create,
    register,
    space,
)


def view(callers, space) -> str:  # noqa: F811
    response = callers[OWNER].get(f"/spaces/{space['id']}/dashboard")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def new_run(app, space, n: int, **changes) -> Run:  # noqa: F811
    store = services(app).runs.store
    values = {
        "id": f"run{n}",
        "iri": store.iri_of(f"run{n}"),
        "space_id": space["id"],
        "space_iri": space["iri"],
        "algorithm_digest": "sha256:" + "a" * 64,
        "terms_digest": "sha256:" + "b" * 64,
        "requested_by": OWNER,
        "requested_at": datetime.now(UTC) - timedelta(hours=1),
    }
    return store.create(Run(**{**values, **changes}))


def give(app, space, n: int) -> None:  # noqa: F811
    shared = services(app)
    history = shared.consents.history(space["iri"], f"https://p{n}.example/profile/card#me")
    now = datetime.now(UTC).replace(microsecond=0)
    history.consents.append(
        consent(
            iri=f"{history.iri}/1",
            space_iri=space["iri"],
            subject=history.subject,
            state=ConsentState.GIVEN,
            given_at=now - timedelta(hours=2),
            expires_at=now + timedelta(days=30),
        )
    )
    shared.consents.write(history)


class Queries:
    """Every query the app's registry answers, as text."""

    def __init__(self, registry, monkeypatch):
        self.seen: list[str] = []
        for name in ("select", "select_text"):
            original = getattr(registry, name)

            def logged(query, bindings=None, original=original):
                self.seen.append(query)
                return original(query, bindings)

            monkeypatch.setattr(registry, name, logged)

    def of_runs_or_deliveries(self) -> list[str]:
        return [q for q in self.seen if "dcg:Run" in q or "dcg:Delivery" in q]


def test_a_repeat_view_reads_no_run_or_delivery_and_draws_nothing_again(
    app,  # noqa: F811
    callers,  # noqa: F811
    space,  # noqa: F811
    monkeypatch,
):
    with app.app_context():
        for n in range(3):
            new_run(app, space, n, status=RunStatus.SUCCEEDED, gate_passed=True)
        record_delivery(services(app).registry, services(app).runs.store.iri_of("run2"),
                        DELIVERED, datetime.now(UTC), None)  # fmt: skip
    first = view(callers, space)
    queries = Queries(services(app).registry, monkeypatch)
    drawn: list[str] = []
    for name in ("flow_drawing", "consents_chart", "runs_chart"):
        original = getattr(charts, name)
        monkeypatch.setattr(
            charts,
            name,
            lambda *a, original=original, name=name, **k: drawn.append(name) or original(*a, **k),
        )
    again = view(callers, space)
    assert again == first
    assert queries.seen, "the view still checks what changed"
    assert queries.of_runs_or_deliveries() == []
    assert len(queries.seen) == 2  # the stamp, and the consent counters' version
    assert drawn == []


def test_a_kept_page_is_shown_only_to_whoever_may_see_it(app, callers, space):  # noqa: F811
    """The kept record is checked as a fresh one would be: a stranger, a signed-out visitor
    and an invitee who has not accepted get what they got before anything was kept."""
    with app.app_context():
        new_run(app, space, 1)
    view(callers, space)
    view(callers, space)
    path = f"/spaces/{space['id']}/dashboard"
    assert callers[STRANGER].get(path).status_code == 403
    assert callers["nobody"].get(path).status_code == 303
    invited = callers[OWNER].post(
        f"/api/spaces/{space['id']}/invitations",
        json={"webid": STRANGER, "roles": ["data-consumer"]},
    )
    assert invited.status_code == 201
    assert callers[STRANGER].get(path).status_code == 403  # invited, not yet in
    accepted = callers[STRANGER].post(
        f"/api/spaces/{space['id']}/invitations/{invited.get_json()['id']}/accept"
    )
    assert accepted.status_code == 200
    assert callers[STRANGER].get(path).status_code == 200
    assert callers[ALICE].get("/spaces/nosuchspace/dashboard").status_code == 404


def test_every_write_the_page_shows_is_on_the_next_view(app, callers, space):  # noqa: F811
    register(callers[BOB], space, bundle())
    shared = services(app)
    page = view(callers, space)
    assert (tile(page, "runs"), tile(page, "deliveries"), tile(page, "consents")) == ("0", "0", "0")

    with app.app_context():
        run = new_run(app, space, 1)
    page = view(callers, space)
    assert tile(page, "runs") == "1"
    assert "Queued" in page or "queued" in page

    with app.app_context():

        def finish(r: Run) -> None:
            r.status, r.gate_passed = RunStatus.SUCCEEDED, False

        shared.runs.store.change(run.id, finish)
    page = view(callers, space)
    assert "1 blocked" in page

    with app.app_context():
        shared.runs.store.record_delivery(run.iri, DELIVERED, datetime.now(UTC), None)
    page = view(callers, space)
    assert tile(page, "deliveries") == "1"
    assert "last run: delivered" in page

    with app.app_context():
        give(app, space, 1)
    assert tile(view(callers, space), "consents") == "1"

    with app.app_context():
        dataset = PushedDataset(
            "dataset-1", space["iri"] + "/datasets#dataset-1", ALICE, "Customers 2026", "s3",
            "s3://b/k", "csv", None, "sha256:" + "c" * 64, 10, "e" * 64, "k" * 64,
            datetime.now(UTC),
        )  # fmt: skip
        shared.registry.write(
            datasets_graph_name(space["iri"]),
            datasets_to_graph(space["iri"], [dataset]),
            expected_revision=0,
        )
    page = view(callers, space)
    assert tile(page, "datasets") == "1"
    assert "Customers 2026" in page

    audit_before = int(tile(page, "audit"))
    renamed = callers[OWNER].patch(f"/api/spaces/{space['id']}", json={"name": "Renamed study"})
    page = view(callers, space)
    if renamed.status_code == 200:  # the name can change in this state: the page says so
        assert "Renamed study" in page
    callers[OWNER].post(
        f"/api/spaces/{space['id']}/invitations", json={"webid": "https://x.example/#me",
                                                        "roles": ["data-consumer"]}
    )  # fmt: skip
    assert int(tile(view(callers, space), "audit")) > audit_before


def test_a_write_landing_while_a_view_reads_is_on_the_next_view(
    app,  # noqa: F811
    callers,  # noqa: F811
    space,  # noqa: F811
    monkeypatch,
):
    """The stamp is read before the runs: a run written between the two is read by this view
    (kept under the older stamp) or the next, never lost behind a newer stamp."""
    with app.app_context():
        new_run(app, space, 1)
    view(callers, space)
    stamped = stamps.page_stamp
    raced = []

    def stamp_then_a_write(registry, space_iri):
        found = stamped(registry, space_iri)
        if not raced:
            raced.append(new_run(app, space, 2))
        return found

    monkeypatch.setattr(stamps, "page_stamp", stamp_then_a_write)
    view(callers, space)
    monkeypatch.setattr(stamps, "page_stamp", stamped)
    assert raced
    assert tile(view(callers, space), "runs") == "2"


def test_the_counter_moves_with_each_write_and_a_recount_leaves_it(app, space):  # noqa: F811
    shared = services(app)
    with app.app_context():
        registry = shared.registry
        assert activity.activity(registry, space["iri"]) is None
        run = new_run(app, space, 1)
        assert activity.activity(registry, space["iri"]) == 1
        shared.runs.store.change(run.id, lambda r: None)
        assert activity.activity(registry, space["iri"]) == 2
        # Without the space named, the delivery finds it in the run's record.
        record_delivery(registry, run.iri, DELIVERED, datetime.now(UTC), None)
        assert activity.activity(registry, space["iri"]) == 3
        give(app, space, 1)
        shared.consents.recount(space["iri"])
        assert activity.activity(registry, space["iri"]) == 3
        assert registry.names() == sorted(registry.names())  # the counter is no record
        assert not [n for n in registry.names() if n.endswith("/activity")]


def test_two_spaces_keep_their_own_pages(app, callers, space):  # noqa: F811
    """Kept pages are per space: a second space's view never shows the first one's runs."""
    other = create(callers[OWNER])
    with app.app_context():
        new_run(app, space, 1)
    assert tile(view(callers, space), "runs") == "1"
    assert tile(view(callers, other), "runs") == "0"
    with app.app_context():
        new_run(app, other, 2)
    assert tile(view(callers, space), "runs") == "1"
    assert tile(view(callers, other), "runs") == "1"
