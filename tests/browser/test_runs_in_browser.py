"""A code provider follows a run in the browser: starts it from the space, watches the page
update while the datacage worker (a real one, with real pods and the real sandbox) carries it
out, and reads the outcome: status, individuals, the gate's verdict, the scrubbed log, and the
attestation evidence to check. Never the inputs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from server.services import services
from tests.support.browser_steps import open_space, sign_in
from tests.support.datacage_world import survey_world

PEOPLE = 5


@pytest.fixture
def world(make_user, tmp_path: Path):
    with survey_world(make_user, tmp_path, people=PEOPLE) as w:
        yield w.base, w.app, w.space, w.owner, w.worker()


def test_a_code_provider_starts_a_run_and_watches_it_end_with_a_gated_result(
    world, page, screenshot, browser_problems
):
    base, app, space, owner, worker = world
    sign_in(page, base, owner.account)
    open_space(page, space.name)
    page.get_by_role("link", name="See the runs or start one").click()
    expect(page.get_by_text("No run yet.")).to_be_visible()
    page.get_by_role("button", name="Start a run").click()
    expect(page.locator("#run-status")).to_have_text("Queued")
    screenshot(page, "queued")

    # The datacage picks it up while the page is open; the page refreshes itself.
    done: list = []
    cage = threading.Thread(target=lambda: done.append(worker.run_once()))
    cage.start()
    cage.join(120)
    assert done
    assert done[0] is not None
    assert done[0].succeeded
    expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=15_000)
    screenshot(page, "succeeded")
    expect(page.locator("#run-individuals")).to_contain_text(f"{PEOPLE} read of {PEOPLE}")
    expect(page.locator("#gate-verdict")).to_contain_text("Passed")
    expect(page.locator("#run-outcome")).to_contain_text("the output gate passed its result")
    expect(page.locator("#run-log")).to_contain_text("stays in the datacage")
    expect(page.locator("main")).not_to_contain_text(f"read {PEOPLE} people")  # the log did not
    expect(page.locator("#run-attestation")).to_contain_text("proves nothing about hardware")
    for person_data in ("@example.org", "orders.csv", "customers.ttl"):
        expect(page.locator("main")).not_to_contain_text(person_data)

    # The evidence the datacage presented can be downloaded and checked.
    href = page.locator("#run-evidence").get_attribute("href")
    evidence = json.loads(page.request.get(base.rstrip("/") + href).text())
    run = services(app).runs.of_space(space.id, owner.webid)[0]
    assert evidence["provider"] == "software-unattested"
    assert evidence["measurement"]["bundle_digest"] == run.algorithm_digest
    assert evidence["report_data"] == run.attestation.key_sha256

    # The runs list shows it too, counted and gated.
    page.get_by_role("link", name=f"Runs of {space.name}").click()
    row = page.locator("#runs tbody tr").first
    expect(row).to_contain_text("Succeeded")
    expect(row).to_contain_text("Passed")
    browser_problems.assert_none()
