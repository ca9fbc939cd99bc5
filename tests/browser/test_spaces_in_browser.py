"""Organisations set up a space in a real browser, signed in at the real CSS identity provider.

Three people, each in their own browser context: the owner creates a space and invites two
WebIDs; the invitees sign in and accept; the code provider registers the algorithm; everyone
approves and the space turns active; a new algorithm version voids every approval.
Screenshots of each main page land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from server import create_app
from server.algorithms import build_bundle
from tests.support.browser_steps import (
    open_space,
    sign_in,
)
from tests.support.live_server import serve_wsgi

BUNDLE_SOURCE = Path(__file__).parents[1] / "fixtures" / "bundles" / "common-customers"


@pytest.fixture
def control_plane(tmp_path: Path) -> Iterator[str]:
    def build(base: str):
        return create_app(
            {
                "TESTING": True,
                "PUBLIC_URL": base,
                "DATA_DIR": str(tmp_path / "data"),
                "REGISTRY_PATH": ":memory:",
                "LOG_FORMAT": "text",
            }
        )

    with serve_wsgi(build=build) as base:
        yield base


@pytest.fixture
def bundles(tmp_path: Path) -> tuple[Path, Path]:
    """Version 1.0.0 of the sample algorithm, and a 1.0.1 that differs by one line."""
    first = tmp_path / "common-customers-1.0.0.zip"
    first.write_bytes(build_bundle(BUNDLE_SOURCE))
    changed = tmp_path / "src"
    shutil.copytree(BUNDLE_SOURCE, changed)
    manifest = changed / "manifest.toml"
    manifest.write_text(manifest.read_text().replace('version = "1.0.0"', 'version = "1.0.1"'))
    second = tmp_path / "common-customers-1.0.1.zip"
    second.write_bytes(build_bundle(changed))
    return first, second


def status(page: Page):
    return page.locator("#space-status")


def test_a_space_is_set_up_approved_and_its_approvals_voided_by_a_new_algorithm(
    css, make_account, control_plane, new_context, screenshot, browser_problems, bundles
):
    owner, coder, consumer = (make_account(n) for n in ("acme", "coder", "insights"))
    pages = {name: new_context().new_page() for name in ("owner", "coder", "consumer")}

    # The owner signs in and creates the space.
    o = pages["owner"]
    sign_in(o, control_plane, owner, screenshot)
    screenshot(o, "home-signed-in")
    o.get_by_role("link", name="Create a space").click()
    o.get_by_label("Name").fill("Common customers")
    o.get_by_label("Description").fill("Which customers do Acme and Insights share?")
    o.get_by_label("Marketing").check()
    o.get_by_label("Legal basis").select_option(label="Consent")
    o.get_by_label("Number").fill("6")
    o.get_by_label("Unit").select_option(label="months")
    o.get_by_label("Request 1: kind").select_option(label="A file or folder in the pod")
    o.locator("#data_requests-0-target").fill("customers.ttl")
    o.locator("#data_requests-0-description").fill("Your list of customers' e-mail addresses")
    o.get_by_label("Data provider").check()
    screenshot(o, "create-space-form")
    o.get_by_role("button", name="Create the space").click()
    expect(o.get_by_role("heading", level=1, name="Common customers")).to_be_visible()
    expect(status(o)).to_have_text("Draft")

    # A form with mistakes keeps what was typed and says what is wrong, next to the field.
    o.get_by_role("link", name="Edit the terms").click()
    o.get_by_label("Number").fill("0")
    o.get_by_role("button", name="Save the terms").click()
    expect(o.locator("#retention-error")).to_contain_text("longer than zero")
    screenshot(o, "form-with-error")
    o.get_by_label("Number").fill("6")
    o.get_by_role("button", name="Save the terms").click()

    # The owner invites two other WebIDs.
    for person, role in ((coder, "Code provider"), (consumer, "Data consumer")):
        o.get_by_label("Invite a WebID").fill(person.webid)
        o.locator("#invite").get_by_label(role).check()
        o.get_by_role("button", name="Send the invitation").click()
        expect(o.locator("#invitations")).to_contain_text(person.webid)
    screenshot(o, "space-with-invitations")

    # Each invitee signs in with the invited WebID and accepts.
    for key, person in (("coder", coder), ("consumer", consumer)):
        p = pages[key]
        sign_in(p, control_plane, person)
        expect(p.get_by_role("heading", name="Invitations waiting for you")).to_be_visible()
        open_space(p, "Common customers")
        p.get_by_role("button", name="Accept the invitation").click()
        expect(p.get_by_role("row", name=person.webid)).to_be_visible()

    # The code provider registers the algorithm; the page shows its digest.
    c = pages["coder"]
    c.get_by_role("link", name="Register the algorithm").click()
    c.get_by_label(re.compile("^Bundle")).set_input_files(bundles[0])
    screenshot(c, "register-algorithm")
    c.get_by_role("button", name="Upload and register").click()
    digest = c.locator("#algorithm-digest")
    expect(digest).to_have_text(re.compile(r"^sha256:[0-9a-f]{64}$"))
    first_digest = digest.inner_text()

    # The owner asks for approval; all three approve; the space turns active.
    o.reload()
    o.get_by_role("button", name="Ask everyone to approve").click()
    expect(status(o)).to_have_text("Awaiting approval")
    for key in ("owner", "coder", "consumer"):
        p = pages[key]
        p.reload()
        expect(p.get_by_text(first_digest).first).to_be_visible()
        p.get_by_role("button", name="Approve these terms").click()
    o.reload()
    expect(status(o)).to_have_text("Active")
    expect(o.get_by_text("Everyone approved the current terms")).to_be_visible()
    screenshot(o, "space-active")

    # A new algorithm version voids every approval: back to awaiting approval.
    c.reload()
    c.get_by_role("link", name="Register a new version").click()
    c.get_by_label(re.compile("^Bundle")).set_input_files(bundles[1])
    c.get_by_role("button", name="Upload and register").click()
    expect(c.locator("#algorithm-digest")).not_to_have_text(first_digest)
    o.reload()
    expect(status(o)).to_have_text("Awaiting approval")
    expect(o.get_by_text("Not approved")).to_have_count(3)
    screenshot(o, "approvals-voided")

    # The only error the browser saw is the 422 of the form sent with a mistake on purpose.
    browser_problems.assert_none(r"status of 422")


def test_signing_in_with_a_webid_that_is_not_one_says_so(control_plane, page, screenshot):
    page.goto(control_plane + "login")
    page.get_by_label("Your WebID").fill("not a webid")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#webid-error")).to_contain_text("full http(s) address")
    screenshot(page, "bad-webid")
