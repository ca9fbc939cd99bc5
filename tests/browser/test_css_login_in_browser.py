"""A person signs in on the Community Solid Server's own screens, in chromium.

The real control plane is served on a loopback port so CSS reads our actual Client ID Document;
the browser then comes back to our redirect URI, whose code our OIDC client exchanges. The
callback view does not exist yet, so these tests look at the URL the browser arrives at, not at
the page (a 404 for now).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import pytest

from connectors.solid import DPoPKey, Http, ProofFactory
from connectors.solid.oidc import (
    IssuerMetadata,
    JwksCache,
    LoginResult,
    PendingLogin,
    begin_login,
    complete_login,
    fetch_issuer_metadata,
)
from server import create_app
from tests.browser.css_screens import CssSignInError, sign_in_at_css
from tests.support.live_server import serve_wsgi


@pytest.fixture(scope="module")
def control_plane() -> Iterator[str]:
    with serve_wsgi(build=lambda base: create_app({"TESTING": True, "PUBLIC_URL": base})) as base:
        yield base


@dataclass
class Client:
    """Our side of the flow: where the person is sent, and the exchange of what comes back."""

    http: Http
    metadata: IssuerMetadata
    base: str

    def begin(self) -> PendingLogin:
        return begin_login(
            self.metadata,
            client_id=self.base + "clientid.jsonld",
            redirect_uri=self.base + "login/callback",
        )

    def finish(self, pending: PendingLogin, callback: dict[str, str]) -> LoginResult:
        jwks = JwksCache(self.http, self.metadata.jwks_uri)
        return complete_login(
            self.http, self.metadata, pending, callback, ProofFactory(DPoPKey.generate()), jwks
        )


@pytest.fixture
def client(css, control_plane) -> Client:
    http = Http()
    return Client(http, fetch_issuer_metadata(http, css.issuer), control_plane)


def _callback(landed: str, pending: PendingLogin) -> dict[str, str]:
    assert landed.startswith(pending.redirect_uri + "?"), landed
    return dict(parse_qsl(urlsplit(landed).query))


# The callback view is not written yet: its 404 is expected, any other problem is not.
def _callback_404(pending: PendingLogin) -> str:
    return re.escape(pending.redirect_uri + "?")


def test_a_person_signs_in_on_the_css_screens_and_comes_back_with_a_code(
    css, make_account, client, page, screenshot, browser_problems
):
    person = make_account("person")
    pending = client.begin()

    taken = []
    page.goto(pending.authorization_url)
    landed = sign_in_at_css(
        page,
        email=person.email,
        password=person.password,
        screenshot=lambda page, name: taken.append(screenshot(page, name)),
    )

    assert page.url.startswith(client.base), "the browser is back at the control plane"
    callback = _callback(landed, pending)
    assert callback["state"] == pending.state
    assert callback["iss"] == css.issuer
    assert callback["code"]
    assert client.finish(pending, callback).webid == person.webid
    assert [path.name for path in taken] == ["css-login.png", "css-consent.png"]
    assert all(path.stat().st_size > 0 for path in taken)
    browser_problems.assert_none(_callback_404(pending))


def test_a_remembered_login_skips_the_form_and_each_person_has_their_own_browser(
    make_account, client, new_context, browser_problems
):
    alice, bob = make_account("alice"), make_account("bob")
    alice_page, bob_page = new_context().new_page(), new_context().new_page()
    for person, page in ((alice, alice_page), (bob, bob_page)):
        pending = client.begin()
        page.goto(pending.authorization_url)
        landed = sign_in_at_css(page, email=person.email, password=person.password)
        assert client.finish(pending, _callback(landed, pending)).webid == person.webid

    # "Stay logged in" was checked: the second time, CSS shows only the consent screen.
    screens: list[str] = []
    pending = client.begin()
    alice_page.goto(pending.authorization_url)
    landed = sign_in_at_css(
        alice_page,
        email=alice.email,
        password=alice.password,
        screenshot=lambda _page, name: screens.append(name),
    )
    assert screens == ["css-consent"]
    assert client.finish(pending, _callback(landed, pending)).webid == alice.webid
    browser_problems.assert_none(_callback_404(pending))


def test_a_wrong_password_is_reported_with_css_s_own_message(make_account, client, page):
    person = make_account("person")
    page.goto(client.begin().authorization_url)
    with pytest.raises(CssSignInError, match="Invalid email/password combination"):
        sign_in_at_css(page, email=person.email, password="not-" + person.password, timeout=10)
