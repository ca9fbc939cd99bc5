"""An individual consents in a real browser, at the real CSS, and withdraws again.

From the public invitation link, through CSS's own login and consent screens, to the consent
page that previews their pod; on Accept the datacage's own identity (client credentials) can
read exactly the listed resources and nothing beside them, and a receipt sits in their pod.
Withdrawal takes all of it back. Once on a CSS with Web Access Control, once with Access
Control Policies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from connectors.solid import SolidClient, SolidSession
from connectors.solid import errors as solid_errors
from server import create_app
from tests.browser.css_screens import sign_in_at_css
from tests.support.consent_space import make_active_space
from tests.support.live_server import serve_wsgi
from vocab import DPV

CUSTOMERS = b"""@prefix schema: <http://schema.org/> .
<#me> schema:email "ana@example.org" ; schema:name "Ana" .
<#shop-a> schema:customer <#me> .
"""
ORDERS = b"order,amount\n1001,25.00\n1002,12.50\n"
PRIVATE = b'<#diary> <http://schema.org/text> "not for anyone" .\n'

# The CSS fixtures are chosen per parameter (getfixturevalue), which the automatic marker
# cannot see: say it here, so `-m "not css"` skips these too.
pytestmark = pytest.mark.css

REQUESTS = [
    {"kind": "path", "target": "contacts/customers.ttl", "description": "Your customer record"},
    {"kind": "path", "target": "shop/", "description": "Your shop folder"},
]


@pytest.fixture(params=["wac", "acp"])
def pods(request: pytest.FixtureRequest):
    """(make_account, account API) of a CSS with WAC, then of one with ACP."""
    if request.param == "wac":
        return request.getfixturevalue("make_account"), request.getfixturevalue("css_accounts")
    return request.getfixturevalue("make_acp_account"), request.getfixturevalue("css_acp_accounts")


@pytest.fixture
def control_plane(tmp_path: Path, pods) -> Iterator[tuple[str, object, dict]]:
    make_account, accounts = pods
    people = {label: make_account(label) for label in ("owner", "person", "cage")}
    built = {}

    def build(base: str):
        built["app"] = create_app(
            {
                "TESTING": True,
                "PUBLIC_URL": base,
                "DATA_DIR": str(tmp_path / "data"),
                "REGISTRY_PATH": ":memory:",
                "LOG_FORMAT": "text",
                "DATACAGE_WEBID": people["cage"].webid,
            }
        )
        return built["app"]

    with serve_wsgi(build=build) as base:
        yield base, built["app"], {**people, "accounts": accounts}


def client_of(accounts, account) -> SolidClient:
    credentials = accounts.create_client_credentials(account)
    return SolidClient(
        SolidSession.from_client_credentials(credentials.issuer, credentials.id, credentials.secret)
    )


def status_of(client: SolidClient, url: str) -> int:
    try:
        client.get(url)
    except solid_errors.Forbidden:
        return 403
    except solid_errors.Unauthenticated:
        return 401
    return 200


def test_an_individual_consents_by_redirect_and_withdraws(
    control_plane, page: Page, screenshot, browser_problems
):
    base, app, people = control_plane
    person, owner, cage = people["person"], people["owner"], people["cage"]
    mine = client_of(people["accounts"], person)
    datacage = client_of(people["accounts"], cage)
    pod = person.pod_url
    mine.put(pod + "contacts/customers.ttl", CUSTOMERS, "text/turtle")
    mine.put(pod + "contacts/private.ttl", PRIVATE, "text/turtle")
    mine.put(pod + "shop/orders.csv", ORDERS, "text/csv")
    space = make_active_space(app, owner.webid, REQUESTS)
    listed = [pod + "contacts/customers.ttl", pod + "shop/orders.csv"]
    neighbour = pod + "contacts/private.ttl"
    assert all(status_of(datacage, url) == 403 for url in [*listed, neighbour])

    # The invitation link says who asks, what for, which data, which algorithm, and where.
    page.goto(base + f"spaces/{space.id}/join")
    expect(page.locator("#what-you-agree-to")).to_contain_text("Marketing")
    expect(page.locator("#what-you-agree-to")).to_contain_text("contacts/customers.ttl")
    expect(page.locator("#algorithm-digest")).to_have_text(space.algorithm.digest)
    expect(page.locator("#datacage-webid")).to_have_text(cage.webid)
    expect(page.locator("#never-leaves")).to_contain_text("Your data itself")
    expect(page.locator("#join-qr")).to_be_visible()
    screenshot(page, "invitation")

    # Sign-in by redirect at the person's own identity provider, back to the consent page.
    page.get_by_label("Your WebID").fill(person.webid)
    page.get_by_role("button", name="Sign in to decide").click()
    sign_in_at_css(page, email=person.email, password=person.password, screenshot=screenshot)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Your consent to {space.name}")
    resources = page.locator("#resources")
    expect(resources).to_contain_text(pod + "contacts/customers.ttl")
    expect(resources).to_contain_text('"ana@example.org"')  # the preview of their own data
    expect(resources).to_contain_text("a folder with 1 item")
    expect(resources).not_to_contain_text("private.ttl")
    screenshot(page, "consent-page")
    assert all(status_of(datacage, url) == 403 for url in listed)  # nothing before Accept

    page.get_by_role("button", name="Accept").click()
    expect(page.locator("#notice")).to_contain_text("your consent to Common customers is recorded")
    expect(page.locator(".consent .status").first).to_have_text("Given")
    screenshot(page, "my-data-given")

    # The datacage, as itself: 200 on exactly the listed resources, 403 on the neighbour.
    assert [status_of(datacage, url) for url in listed] == [200, 200]
    assert status_of(datacage, neighbour) == 403
    receipt_url = page.locator("a.receipt").first.inner_text()
    assert receipt_url.startswith(pod + "consent-receipts/")
    receipt, _ = mine.get_graph(receipt_url)
    assert (None, DPV.hasConsentStatus, DPV.ConsentGiven) in receipt
    assert (None, DPV.hasDataSubject, None) in receipt

    # Withdraw: the registry at once, then the pod through a fresh sign-in.
    page.get_by_role("button", name="Withdraw").click()
    sign_in_at_css(page, email=person.email, password=person.password)
    expect(page.locator("#notice")).to_contain_text("access was removed from your pod")
    expect(page.locator(".consent .status").first).to_have_text("Withdrawn")
    screenshot(page, "my-data-withdrawn")
    assert all(status_of(datacage, url) == 403 for url in [*listed, neighbour])
    receipt, _ = mine.get_graph(receipt_url)
    assert (None, DPV.hasConsentStatus, DPV.ConsentWithdrawn) in receipt
    assert (None, DPV.hasConsentStatus, DPV.ConsentGiven) not in receipt
    # The owner keeps full control of their own data.
    assert mine.get(pod + "contacts/customers.ttl").status == 200
    browser_problems.assert_none()


def test_a_recurring_space_keeps_only_an_encrypted_refresh_token_and_uses_it_to_clean_up(
    control_plane, page: Page, screenshot, tmp_path
):
    base, app, people = control_plane
    person, owner, cage = people["person"], people["owner"], people["cage"]
    mine = client_of(people["accounts"], person)
    datacage = client_of(people["accounts"], cage)
    listed = person.pod_url + "contacts/customers.ttl"
    mine.put(listed, CUSTOMERS, "text/turtle")
    space = make_active_space(app, owner.webid, REQUESTS[:1], recurring=True, name="Monthly")

    page.goto(base + f"spaces/{space.id}/join")
    page.get_by_label("Your WebID").fill(person.webid)
    page.get_by_role("button", name="Sign in to decide").click()
    callback = sign_in_at_css(page, email=person.email, password=person.password)
    page.get_by_role("button", name="Accept").click()
    expect(page.locator(".consent .status").first).to_have_text("Given")
    assert status_of(datacage, listed) == 200

    # The sign-in's callback cannot be replayed.
    page.goto(callback)
    expect(page.locator(".error-summary")).to_contain_text("already been used")

    # Only the refresh token and its DPoP key are kept, sealed: no token in clear on disk.
    vault = tmp_path / "data" / "vault"
    sealed = list((vault / "refresh").glob("*.sealed"))
    assert len(sealed) == 1
    assert not list((vault / "flows").glob("*.sealed"))  # the flow's access token is gone
    assert b"refresh" not in sealed[0].read_bytes()
    assert oct((vault / "vault.key").stat().st_mode & 0o777) == "0o600"
    assert oct(sealed[0].stat().st_mode & 0o777) == "0o600"

    # When the consent period has passed, the sweep removes the grant with the kept token.
    from datetime import UTC, datetime, timedelta

    from server.consent.expiry import expire_consents
    from server.services import services

    found = services(app)
    report = expire_consents(
        found.consents, found.vault, found.http, lambda: datetime.now(UTC) + timedelta(days=400)
    )
    assert len(report.cleaned) == 1, report
    assert status_of(datacage, listed) == 403
    assert not list((vault / "refresh").glob("*.sealed"))
    page.goto(base + "my-data")
    expect(page.locator(".consent .status").first).to_have_text("Expired")
    screenshot(page, "my-data-expired")
