"""A person's second login in the same browser, as the demo's people answer their second space:
CSS remembers the login (its cookie), so no password is sent again; the WebID is picked and
the consent given again (the control plane asks with `prompt=consent`), and the code CSS hands
back is as good as the first (the control plane exchanges it for tokens).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from connectors.solid.css import CssError, complete_password_login
from connectors.solid.dpop import DPoPKey, ProofFactory
from connectors.solid.http import Http
from connectors.solid.oidc import JwksCache, begin_login, complete_login, fetch_issuer_metadata
from server import create_app
from tests.support.live_server import serve_wsgi


@pytest.fixture(scope="module")
def control_plane() -> Iterator[str]:
    """The real Flask app on a loopback port; CSS dereferences its Client ID Document."""
    with serve_wsgi(build=lambda base: create_app({"TESTING": True, "PUBLIC_URL": base})) as base:
        yield base


def test_a_second_login_in_the_same_browser_sends_no_password(css, make_account, control_plane):
    person = make_account("twice")
    http = Http()
    metadata = fetch_issuer_metadata(http, css.issuer)
    browser = requests.Session()
    browser.trust_env = False
    posted: list[str] = []
    browser.hooks["response"].append(
        lambda response, **_: (
            posted.append(response.request.url) if response.request.method == "POST" else None
        )
    )
    for attempt in range(2):
        pending = begin_login(
            metadata,
            client_id=control_plane + "clientid.jsonld",
            redirect_uri=control_plane + "login/callback",
        )
        callback = complete_password_login(
            pending.authorization_url,
            email=person.email,
            password=person.password,
            webid=person.webid,
            redirect_uri=pending.redirect_uri,
            browser=browser,
        )
        result = complete_login(
            http,
            metadata,
            pending,
            callback,
            ProofFactory(DPoPKey.generate()),
            JwksCache(http, metadata.jwks_uri),
        )
        assert result.webid == person.webid
        if attempt == 0:
            assert any(url.endswith("/login/password/") for url in posted)
            posted.clear()
    assert posted  # the WebID and the consent, asked again
    assert not any(url.endswith("/login/password/") for url in posted)  # but no password


def test_another_browser_is_not_let_through_on_someone_elses_login(
    css, make_account, control_plane
):
    """What CSS remembers is the browser's cookie: a browser without it, wrong password in
    hand, is refused although the person logged in elsewhere a moment ago."""
    person = make_account("elsewhere")
    metadata = fetch_issuer_metadata(Http(), css.issuer)

    def login(browser: requests.Session, password: str) -> dict[str, str]:
        pending = begin_login(
            metadata,
            client_id=control_plane + "clientid.jsonld",
            redirect_uri=control_plane + "login/callback",
        )
        return complete_password_login(
            pending.authorization_url,
            email=person.email,
            password=password,
            webid=person.webid,
            redirect_uri=pending.redirect_uri,
            browser=browser,
        )

    assert "code" in login(requests.Session(), person.password)
    with pytest.raises(CssError, match="log in"):
        login(requests.Session(), "not-the-password")
