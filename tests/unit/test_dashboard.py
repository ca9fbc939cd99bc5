"""The space dashboard: figures counted from real registry records (consents per day, runs and
their verdicts, deliveries, datasets, the audit head), the SVG builder's escaping of hostile
names, and the page itself: participants only, empty states in words, no script anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from server.consent.model import ConsentState
from server.consent.store import ConsentDates
from server.dashboard import charts
from server.dashboard.figures import Consumer, Day, Flow, Provider, delivery_word, per_day
from server.dashboard.svg import element
from server.destinations import record_delivery
from server.push.records import PushedDataset, datasets_graph_name, datasets_to_graph
from server.runs.model import Attestation, Run, RunStatus, RunSummary
from server.services import services
from server.web.dashboard import dashboard
from tests.support.consent_records import consent
from tests.support.dashboard_page import DELIVERED
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

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


# --- Counting ---------------------------------------------------------------------------------


def test_consents_are_counted_per_day_given_withdrawn_expired_and_in_force():
    dates = [
        ConsentDates(ConsentState.GIVEN, at(30), at(7), None),
        ConsentDates(ConsentState.GIVEN, at(30), at(7, 18), None),
        ConsentDates(ConsentState.WITHDRAWN, at(30), at(8), at(9)),
        ConsentDates(ConsentState.GIVEN, at(9, 6), at(8), None),  # ended, not yet swept
        ConsentDates(ConsentState.EXPIRED, at(10, 9), at(8), at(10, 10)),  # swept after its end
        ConsentDates(ConsentState.WITHDRAWN, at(30), None, at(8)),  # never given: not counted
        ConsentDates(ConsentState.REQUESTED, at(30), None, None),
    ]
    days = per_day(dates, NOW)
    assert [d.day.day for d in days] == [7, 8, 9, 10]
    assert [(d.given, d.withdrawn, d.expired, d.in_force) for d in days] == [
        (2, 0, 0, 2),
        (3, 0, 0, 5),
        (0, 1, 1, 3),
        (0, 0, 1, 2),
    ]
    assert per_day([], NOW) == []
    # A young space's chart still spans a week, its first days empty.
    week = per_day(dates, NOW, at_least=7)
    assert [d.day.day for d in week] == [4, 5, 6, 7, 8, 9, 10]
    assert week[:3] == [Day(at(n).date()) for n in (4, 5, 6)]
    assert week[3:] == days
    # A consent ending later today is still in force now.
    later = [ConsentDates(ConsentState.GIVEN, at(10, 20), at(9), None)]
    assert per_day(later, NOW)[-1].in_force == 1


def run(runs_store, of: dict, n: int, **changes) -> Run:
    values = {
        "id": f"run{n}",
        "iri": runs_store.iri_of(f"run{n}"),
        "space_id": of["id"],
        "space_iri": of["iri"],
        "algorithm_digest": "sha256:" + "a" * 64,
        "terms_digest": "sha256:" + "b" * 64,
        "requested_by": OWNER,
        "requested_at": at(n),
    }
    return runs_store.create(Run(**{**values, **changes}))


def test_the_figures_come_from_the_registry_in_one_query_per_kind(app, callers, space):  # noqa: F811
    register(callers[BOB], space, bundle())
    shared = services(app)
    store = shared.runs.store
    iri = space["iri"]
    with app.app_context():
        for n, (state, withdrawn) in enumerate(
            [(ConsentState.GIVEN, None), (ConsentState.WITHDRAWN, at(9))], start=1
        ):
            history = shared.consents.history(iri, f"https://p{n}.example/profile/card#me")
            history.consents.append(
                consent(
                    iri=f"{history.iri}/1",
                    space_iri=iri,
                    subject=history.subject,
                    state=state,
                    given_at=at(8),
                    withdrawn_at=withdrawn,
                    expires_at=at(30),
                )
            )
            shared.consents.write(history)
        evidence = Attestation("software-unattested", "m", "sha256:" + "a" * 64, "k" * 64)
        run(store, space, 1, status=RunStatus.FAILED, gate_passed=False, attestation=evidence)
        last = run(
            store,
            space,
            2,
            status=RunStatus.SUCCEEDED,
            gate_passed=True,
            individuals_included=2,
            individuals_read=1,
            started_at=at(2),
            finished_at=at(2) + timedelta(seconds=42),
            attestation=evidence,
        )
        record_delivery(shared.registry, last.iri, DELIVERED, at(2), None)
        dataset = PushedDataset(
            "dataset-1", iri + "/datasets#dataset-1", ALICE, "Customers <2026>", "s3",
            "s3://b/k", "csv", None, "sha256:" + "c" * 64, 10, "e" * 64, "k" * 64, at(3),
        )  # fmt: skip
        shared.registry.write(
            datasets_graph_name(iri), datasets_to_graph(iri, [dataset]), expected_revision=0
        )
        figures = dashboard(app).figures(space["id"], OWNER, NOW)[1]

    assert figures.consents_in_force == 1
    assert (figures.consents_given, figures.consents_withdrawn) == (2, 1)
    assert [r.outcome for r in figures.runs] == ["Blocked", "Passed"]
    assert figures.outcomes == {"Blocked": 1, "Passed": 1}
    assert figures.runs[-1].duration_s == 42
    assert figures.deliveries == {"delivered": 1}
    assert [d.consumer for d in figures.last_deliveries] == [OWNER]
    assert figures.datasets == 1
    assert figures.audit_length >= 5  # created, invited twice, accepted twice, registered
    flow = figures.flow
    assert flow.individuals == 1
    assert flow.providers == (Provider(ALICE, ("Customers <2026>",)),)
    assert flow.consumers == (Consumer(OWNER, "delivered"),)
    assert flow.attestation.startswith("software stand-in")
    assert flow.digest
    assert flow.algorithm == "churn-count 1.0.0"


def test_only_participants_see_the_figures(app, callers, space):  # noqa: F811
    assert callers[OWNER].get(f"/spaces/{space['id']}/dashboard").status_code == 200
    assert callers[STRANGER].get(f"/spaces/{space['id']}/dashboard").status_code == 403
    signed_out = callers["nobody"].get(f"/spaces/{space['id']}/dashboard")
    assert signed_out.status_code == 303
    assert "/login" in signed_out.headers["Location"] or "sign" in signed_out.headers["Location"]


def test_a_new_space_reads_well_with_nothing_yet(app, callers):  # noqa: F811
    fresh = create(callers[OWNER])
    response = callers[OWNER].get(f"/spaces/{fresh['id']}/dashboard")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script" not in page  # the CSP allows no script...
    assert "style=" not in page  # ... and no inline style
    assert "Nobody has consented yet" in page
    assert "No run yet" in page
    assert "No algorithm yet" in page
    assert "0 consents in force" in page
    assert "last run: no run yet" in page  # the owner consumes
    assert 'id="consents-chart"' not in page  # no empty axes pretending to be a chart
    overview = callers[OWNER].get(f"/spaces/{fresh['id']}").get_data(as_text=True)
    assert f"/spaces/{fresh['id']}/dashboard" in overview


# --- Drawing ----------------------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script> & co'


def test_hostile_names_stay_text_in_every_drawing():
    flow = Flow(
        individuals=3,
        providers=(Provider(f"https://evil.example/{HOSTILE}#me", (HOSTILE,)),),
        algorithm=HOSTILE,
        digest="sha256:" + "f" * 64,
        attestation="software stand-in: proves nothing about hardware",
        hardware=False,
        consumers=(Consumer("https://c.example/profile/card#me", HOSTILE),),
    )
    markup = str(charts.flow_drawing(HOSTILE, flow))
    assert "<script" not in markup
    tree = ElementTree.fromstring(markup)  # noqa: S314 (our own output); raises if malformed
    assert not [e for e in tree.iter() if e.tag.endswith("script")]
    assert tree.find(f"{SVG}title").text == f"How data flows in {HOSTILE}"
    texts = " ".join(e.text or "" for e in tree.iter(f"{SVG}title"))
    assert f"https://evil.example/{HOSTILE}#me" in texts  # the full name, as text
    assert tree.get("role") == "img"
    assert tree.get("aria-labelledby") == "flow-drawing-title flow-drawing-desc"


def test_the_builder_escapes_attributes_and_refuses_made_up_names():
    markup = str(element("text", HOSTILE, x=1.25, class_='a" onload="x'))
    assert markup == (
        '<text x="1.2" class="a&#34; onload=&#34;x">'
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co</text>"
    )
    with pytest.raises(ValueError, match="Not an SVG element or attribute name"):
        element("svg onload=alert(1)")
    with pytest.raises(ValueError, match="Not an SVG element or attribute name"):
        element("rect", **{"x onload": 1})


def test_charts_label_their_axes_and_say_in_words_what_they_show():
    days = per_day([ConsentDates(ConsentState.GIVEN, at(30), at(8), None)], NOW)
    tree = ElementTree.fromstring(str(charts.consents_chart(days)))  # noqa: S314 (our own)
    desc = tree.find(f"{SVG}desc").text
    assert desc == "3 days from 8 Mar to 10 Mar: 1 given, 0 withdrawn, 0 expired; 1 in force now."
    labels = [e.text for e in tree.iter(f"{SVG}text")]
    assert {"8 Mar", "10 Mar", "0", "In force", "Given"} <= set(labels)


def test_runs_are_numbered_as_in_the_table_and_coloured_by_their_verdict():
    def summary(status, gate):
        return RunSummary("https://dc.example/runs/r", status, at(1), "d", 6, 5, gate_passed=gate)

    runs = [
        summary(RunStatus.SUCCEEDED, True),
        summary(RunStatus.FAILED, False),  # the gate blocked it
        summary(RunStatus.FAILED, None),  # it failed before the gate
        summary(RunStatus.RUNNING, None),
    ]
    assert [r.outcome for r in runs] == ["Passed", "Blocked", "Failed", "Running"]
    tree = ElementTree.fromstring(str(charts.runs_chart(runs, first=18)))  # noqa: S314 (our own)
    labels = [e.text for e in tree.iter(f"{SVG}text")]
    assert [t for t in labels if t.startswith("#")] == ["#18", "#19", "#20", "#21"]
    bars = [e.get("class") for e in tree.iter(f"{SVG}rect")]
    assert {"outcome-passed", "outcome-blocked", "outcome-failed", "outcome-running"} <= set(bars)
    desc = tree.find(f"{SVG}desc").text
    assert desc == "4 runs: 1 blocked; 1 failed; 1 passed; 1 running. Bar height: individuals read."


def test_each_consumer_reads_what_the_last_run_came_to_for_them():
    def last(status, gate):
        return RunSummary("https://dc.example/runs/r", status, at(1), "d", 6, 5, gate_passed=gate)

    assert delivery_word(None, None) == "no run yet"
    assert delivery_word("delivered", last(RunStatus.SUCCEEDED, True)) == "delivered"
    assert delivery_word("no-destination", last(RunStatus.SUCCEEDED, True)) == (
        "no container chosen"
    )
    assert delivery_word(None, last(RunStatus.RUNNING, None)) == "run in progress"
    assert delivery_word(None, last(RunStatus.FAILED, False)) == "nothing sent (blocked)"
    assert delivery_word(None, last(RunStatus.SUCCEEDED, True)) == "nothing reported yet"
