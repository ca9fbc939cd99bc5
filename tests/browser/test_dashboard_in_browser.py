"""A participant opens a space's dashboard in the browser after a real run: five people
consented from their own pods (real CSS), the datacage worker (real sandbox, software
attestation) read them and delivered the result into the consumer's pod, then one person
withdrew. The page shows it in figures and drawings: counts, the run's verdict, the delivery,
and who provides, what runs, who receives. Never a person's name or data, and nothing the CSP
would refuse (no script, no inline style)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from server.consent.withdraw import mark_withdrawn, remove_from_pod
from server.services import services
from tests.support.browser_steps import open_space, sign_in
from tests.support.datacage_world import survey_world
from tests.support.delivery_world import designated

PEOPLE = 5


@pytest.fixture
def world(make_user, tmp_path: Path):
    with survey_world(make_user, tmp_path, people=PEOPLE) as w:
        designated(w.app, w.space, w.owner, w.cage.webid)
        yield w.base, w.app, w.space, w.owner, w.people, w.worker()


def test_the_dashboard_shows_consents_the_run_its_delivery_and_the_data_flow(
    world, page, screenshot, browser_problems
):
    base, app, space, owner, people, worker = world
    with app.app_context():
        services(app).runs.start(space.id, owner.webid)
    outcome = worker.run_once()
    assert outcome is not None
    assert outcome.succeeded
    # Then one person withdraws, from their own pod as the My data page does.
    consents, leaver = services(app).consents, people[-1]
    with app.app_context():
        given = consents.history(space.iri, leaver.webid).consents[-1]
        gone = mark_withdrawn(consents, given, reason="You withdrew it.", now=datetime.now(UTC))
        assert remove_from_pod(consents, leaver.client, gone, lambda: datetime.now(UTC)) == []
    staying = PEOPLE - 1

    sign_in(page, base, owner.account)
    open_space(page, space.name)
    page.get_by_role("link", name="See the dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(space.name)

    # The figures at the top.
    expect(page.locator("#tile-consents .tile-figure")).to_have_text(str(staying))
    expect(page.locator("#tile-consents")).to_contain_text(f"{PEOPLE} given · 1 withdrawn")
    expect(page.locator("#tile-runs .tile-figure")).to_have_text("1")
    expect(page.locator("#tile-runs")).to_contain_text("1 passed")
    expect(page.locator("#tile-deliveries .tile-figure")).to_have_text("1")
    expect(page.locator("#tile-audit .tile-figure")).not_to_have_text("0")

    # The drawing of the data flow, announced by its title, labelled in words.
    flow = page.get_by_role("img", name="How data flows in Shop survey")
    expect(flow).to_be_visible()
    for label in (
        "Individuals' pods",
        f"{staying} consents in force",
        "shop-survey 1.0.0",
        "software stand-in:",
        "proves nothing about hardware",
        "last run: delivered",
    ):
        expect(flow).to_contain_text(label)
    expect(flow).to_contain_text(owner.webid.split("/")[3])  # the consumer's pod name

    # Charts, each with its figures as a table for whoever cannot see the drawing.
    expect(page.get_by_role("img", name="Consents over time")).to_be_visible()
    expect(page.get_by_role("img", name="Runs and their gate verdicts")).to_be_visible()
    screenshot(page, "dashboard")
    page.get_by_text("The figures as a table").click()
    today = datetime.now(UTC).strftime("%d %b %Y")
    row = page.locator("#consents-table tbody tr").first
    expect(row.locator("td")).to_have_text([today, str(PEOPLE), "1", "0", str(staying)])
    page.get_by_text("The runs as a table").click()
    run_row = page.locator("#runs-table tbody tr").first
    expect(run_row).to_contain_text("Succeeded")
    expect(run_row).to_contain_text("Passed")
    expect(run_row).to_contain_text(f"{PEOPLE} of {PEOPLE}")
    delivery = page.locator("#deliveries-table tbody tr")
    expect(delivery).to_have_count(1)
    expect(delivery).to_contain_text(owner.webid)
    expect(delivery).to_contain_text("delivered")
    screenshot(page, "dashboard-tables")

    # Counts only: no person's WebID, pod or data anywhere on the page.
    main = page.locator("main")
    for person in people:
        expect(main).not_to_contain_text(person.webid)
    for person_data in ("@example.org", "orders.csv", "customers.ttl"):
        expect(main).not_to_contain_text(person_data)
    browser_problems.assert_none()  # a CSP refusal would show here as a console error
