"""A participant reads a space's audit trail in the browser after a real run (real pods, a real
worker): the chain is intact, consents appear by pseudonym only, the SPARQL form answers and the
export downloads; an individual's My data names the consumers who received the results."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from rdflib import Graph

from server.services import services
from tests.support.browser_steps import open_space, sign_in
from tests.support.datacage_world import survey_world
from tests.support.delivery_world import designated

PEOPLE = 5


@pytest.fixture
def world(make_user, tmp_path: Path):
    with survey_world(
        make_user, tmp_path, people=PEOPLE, person="audited", name="Audited survey"
    ) as w:
        designated(w.app, w.space, w.owner, w.cage.webid)  # the consumer wants results in their pod
        services(w.app).runs.start(w.space.id, w.owner.webid)
        report = w.worker().run_once()
        assert report is not None
        assert report.succeeded, report.outcome
        yield w.base, w.space, w.owner, w.people


def test_a_participant_reads_the_trail_queries_it_and_exports_it(
    world, page, new_context, screenshot, browser_problems
):
    base, space, owner, people = world
    sign_in(page, base, owner.account)
    open_space(page, space.name)
    page.get_by_role("link", name="audit trail").click()
    expect(page.get_by_role("heading", level=1, name="Audit trail")).to_be_visible()
    expect(page.locator("#chain-state")).to_contain_text("The chain is intact")
    screenshot(page, "audit-trail")
    rows = page.locator("#entries .entry")
    expect(page.locator('[data-action="consent-given"]')).to_have_count(PEOPLE)
    expect(page.locator('[data-action="data-pulled"]')).to_have_count(PEOPLE)
    expect(page.locator('[data-action="run-finished"]')).to_contain_text("The run ended: succeeded")
    expect(page.locator('[data-action="result-delivered"]')).to_contain_text(owner.webid)
    expect(rows.last).to_contain_text("space-created")
    for person in people:  # individuals appear by pseudonym, never by WebID or pod
        expect(page.locator("main")).not_to_contain_text(person.webid)
        expect(page.locator("main")).not_to_contain_text(person.pod)

    export = page.locator("#export-nquads").get_attribute("href")
    quads = page.request.get(base.rstrip("/") + export)
    assert quads.ok
    turtle = page.request.get(
        base.rstrip("/") + page.locator("#export-turtle").get_attribute("href")
    )
    assert len(Graph().parse(data=turtle.text(), format="turtle")) > 0

    page.get_by_role("button", name="Run the query").click()
    expect(page.locator("body")).to_contain_text("run-finished")
    page.go_back()

    # A person whose data was read sees on My data who received the results.
    person = new_context().new_page()
    sign_in(person, base, people[0].account)
    person.get_by_role("link", name="My data").click()
    results = person.locator("#runs td.results")
    expect(results).to_have_count(1)
    expect(results).to_contain_text(owner.webid)
    expect(person.locator("#runs td.purposes")).to_contain_text("Marketing")
    expect(person.locator("a.usage-records")).to_contain_text("consent-receipts/")
    screenshot(person, "my-data-results")
    browser_problems.assert_none()
