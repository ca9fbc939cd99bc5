"""A data consumer chooses, in a real browser, where a space's results go in their pod, signing
in at the real CSS; a run then delivers there, and the run page says so. Changing and stopping
the designation take the datacage's access back."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from connectors.solid import errors as solid_errors
from tests.browser.css_screens import sign_in_at_css
from tests.support.browser_steps import open_space, sign_in
from tests.support.datacage_world import survey_world
from tests.support.delivery_world import add_inbox


@pytest.fixture
def world(make_user, tmp_path: Path):
    with survey_world(make_user, tmp_path) as w:
        inbox = add_inbox(w.owner)
        yield w.base, w.space, w.owner, w.cage, inbox, w.worker()


def can_append(cage, container: str) -> bool:
    try:
        cage.client.put(container + "probe.ttl", "<#a> <#b> <#c> .", "text/turtle")
    except solid_errors.Forbidden:
        return False
    return True


def test_a_consumer_designates_a_container_receives_a_run_and_stops_again(
    world, page, screenshot, browser_problems
):
    base, space, owner, cage, inbox, worker = world
    sign_in(page, base, owner.account)
    open_space(page, space.name)
    page.get_by_role("link", name="Choose where the results go in your pod").click()
    expect(page.locator("#no-destination")).to_be_visible()
    screenshot(page, "no-destination")

    # Through the consumer's own sign-in at their identity provider, to the choice.
    page.get_by_role("button", name="Choose a container").click()
    sign_in_at_css(page, email=owner.account.email, password=owner.account.password)
    container = owner.pod + f"datacage-results/{space.id}/"
    expect(page.get_by_label("Container in your pod")).to_have_value(container)
    screenshot(page, "choose")
    # Somewhere outside their own pod is refused in plain words; the sign-in still holds.
    page.get_by_label("Container in your pod").fill(cage.pod + "drop/")
    page.get_by_role("button", name="Grant and save").click()
    expect(page.locator("#container-error")).to_contain_text("inside your own pod")
    assert not can_append(cage, container)
    page.get_by_label("Container in your pod").fill(container)
    page.get_by_role("button", name="Grant and save").click()
    notice = page.locator("#notice")
    expect(notice).to_contain_text(f"Append on {container}")
    expect(notice).to_contain_text(f"Append on your inbox {inbox}")
    expect(notice).to_contain_text("subscribe to")  # CSS offers Solid Notifications
    expect(page.locator("#destination-container")).to_have_text(container)
    expect(page.locator("#destination-inbox")).to_contain_text(inbox)
    screenshot(page, "designated")

    # A run delivers there; the run page shows it, with a link for the consumer.
    page.goto(base + f"spaces/{space.id}/runs")
    page.get_by_role("button", name="Start a run").click()
    done: list = []
    thread = threading.Thread(target=lambda: done.append(worker.run_once()))
    thread.start()
    thread.join(120)
    assert done
    assert done[0].succeeded
    expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=15_000)
    row = page.locator("#run-deliveries tbody tr")
    expect(row).to_contain_text("Delivered")
    expect(row).to_contain_text("Yes")  # notified
    link = row.get_by_role("link", name="In your pod")
    assert link.get_attribute("href").startswith(container)
    screenshot(page, "run-delivered")

    # Moving the results elsewhere takes the old grant back; stopping takes the new one back.
    page.goto(base + f"spaces/{space.id}/results")
    page.get_by_role("button", name="Change or stop").click()
    sign_in_at_css(page, email=owner.account.email, password=owner.account.password)
    elsewhere = owner.pod + "elsewhere/"
    page.get_by_label("Container in your pod").fill(elsewhere)
    page.get_by_role("button", name="Grant and save").click()
    expect(page.locator("#notice")).to_contain_text(f"Took the datacage's access to {container}")
    expect(page.locator("#destination-container")).to_have_text(elsewhere)
    assert not can_append(cage, container)
    assert can_append(cage, elsewhere)

    page.get_by_role("button", name="Change or stop").click()
    sign_in_at_css(page, email=owner.account.email, password=owner.account.password)
    page.get_by_role("button", name="Stop delivering here").click()
    expect(page.locator("#notice")).to_contain_text("no longer be delivered")
    expect(page.locator("#no-destination")).to_be_visible()
    screenshot(page, "stopped")
    assert not can_append(cage, elsewhere)
    browser_problems.assert_none(r"status of 422 .*results/choose")  # the refused container
