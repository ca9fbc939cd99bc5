"""The three URLs `datacage demo` prints, walked in a real browser while the demo runs, then
Ctrl-C: every process it started stops.

Each person signs in the way the demo tells them to (their WebID on our sign-in page, then
CSS's own screens with the printed e-mail and password); the run page printed beside the report
shows its delivery. The report lives in the retailer's pod, which a browser alone cannot read
(CSS wants a DPoP-bound token on every request, which only a Solid app sends): the test plays
that app, fetching with credentials the retailer makes for itself at CSS, and shows the Turtle
as text (a browser has no Turtle viewer). The demo's pod provider serves https with a CA of
its own (in the demo folder): the browser is told to accept it, the test's clients trust it.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import requests
from playwright.sync_api import Route, expect

from connectors.solid import SolidClient, SolidSession
from connectors.solid.css import CssAccountApi, PodAccount
from connectors.solid.http import Http, TlsSettings
from server.demo import seed
from tests.support.browser_steps import sign_in
from tests.support.demo_run import RunningDemo, processes_using

PEOPLE = 12


@pytest.fixture
def running_demo(tmp_path):
    demo = RunningDemo(tmp_path / "demo", PEOPLE)
    try:
        yield demo, demo.ready(timeout=240), tmp_path / "demo"
    finally:
        demo.kill()  # only if the test failed before its own Ctrl-C


def person(output, member: seed.Member) -> SimpleNamespace:
    base = output.css_base
    return SimpleNamespace(
        webid=f"{base}{member.label}/profile/card#me", email=member.email, password=seed.PASSWORD
    )


@pytest.mark.timeout(300)
def test_the_printed_urls_show_the_space_my_data_and_the_report_then_ctrl_c_stops_all(
    running_demo, new_context, screenshot, browser_problems
):
    demo, output, folder = running_demo
    base = output.url("Space overview").split("spaces/")[0]
    retailer = person(output, seed.RETAILER)

    # The space overview, as the retailer who set it up.
    ca = str(folder / "pod-provider" / "ca.pem")  # the demo's pod provider's own CA
    page = new_context(ignore_https_errors=True).new_page()
    sign_in(page, base, retailer)
    page.goto(output.url("Space overview"))
    expect(page.get_by_role("heading", level=1, name="Common customers")).to_be_visible()
    expect(page.locator("#space-status")).to_contain_text("Active")
    screenshot(page, "space-overview")
    page.goto(output.url("Space dashboard"))
    consenting = sum(1 for n in range(PEOPLE) if seed.consents(n))
    expect(page.locator("#tile-consents .tile-figure")).to_have_text(str(consenting))
    expect(page.locator("#tile-deliveries .tile-figure")).to_have_text("1")
    screenshot(page, "space-dashboard")
    run_page = re.search(r"its delivery shows on (\S+)", output.text)[1]
    page.goto(run_page)
    expect(page.locator("#run-deliveries .delivery-delivered")).to_be_visible()
    screenshot(page, "run-page-delivered")

    # My data, as the first person (who accepted both spaces).
    mine = new_context(ignore_https_errors=True).new_page()
    sign_in(mine, base, person(output, seed.person(0)))
    mine.goto(output.url("An individual's My data"))
    expect(mine.get_by_role("heading", level=1, name="My data")).to_be_visible()
    expect(mine.locator("article.consent")).to_have_count(2)
    expect(mine.locator("#runs")).to_be_visible()  # both runs read this person's data
    screenshot(mine, "my-data")

    # The report in the retailer's pod, fetched as a Solid app signed in as the retailer does.
    report_url = output.url("Common customers: the report")
    assert requests.get(report_url, timeout=10, verify=ca).status_code == 401  # not for others
    client = retailer_client(output.css_base, ca)
    reader = new_context().new_page()

    def as_the_retailer(route: Route) -> None:
        body = client.get(route.request.url, accept="text/turtle").body
        route.fulfill(status=200, content_type="text/plain; charset=utf-8", body=body)

    reader.route(report_url, as_the_retailer)
    reader.goto(report_url)
    expect(reader.get_by_text("commonCustomers")).to_be_visible()
    screenshot(reader, "report-in-the-retailers-pod")
    browser_problems.assert_none()

    # Ctrl-C: the demo stops CSS, the control plane and the worker, and says so.
    assert demo.interrupt() == 0
    assert "Stopped the Community Solid Server" in demo.output.text
    assert processes_using(folder) == []
    with pytest.raises(requests.ConnectionError):
        requests.get(base, timeout=5)


def retailer_client(css_base: str, ca: str) -> SolidClient:
    account = PodAccount(
        seed.RETAILER.email, seed.PASSWORD, css_base + "retailer/",
        css_base + "retailer/profile/card#me", css_base,
    )  # fmt: skip
    with CssAccountApi(css_base, verify=ca) as accounts:
        credentials = accounts.create_client_credentials(account, "browser-test")
    return SolidClient(
        SolidSession.from_client_credentials(
            css_base, credentials.id, credentials.secret, http=Http(tls=TlsSettings(verify=ca))
        )
    )
