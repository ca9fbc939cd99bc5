"""Drive a person's login at a Community Solid Server without a browser.

CSS's login, WebID choice and consent screens are backed by a JSON API (`/.account/`): each
step answers with the next URL in a `location` field rather than a 3xx. Tests, benchmarks and
the demo use this to complete real authorization-code flows exactly as a person's browser
would: same cookies, same redirects, same consent, just no pixels.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests

from .errors import CssError

_MAX_STEPS = 10


def complete_password_login(
    authorization_url: str,
    *,
    email: str,
    password: str,
    webid: str,
    redirect_uri: str,
    timeout: float = 15,
    verify: str | bool = True,
    browser: requests.Session | None = None,
) -> dict[str, str]:
    """Log in, pick `webid` and consent; return the query parameters sent to `redirect_uri`.

    `verify`: a CA bundle for an identity provider served with a private CA (the demo's).
    `browser`: a person's own session, kept across logins as a browser keeps CSS's cookie, so
    a second login of the same person is answered from what CSS remembers (no password)."""
    if browser is None:
        browser = requests.Session()
        browser.trust_env = False
    browser.verify = verify
    base = f"{urlsplit(authorization_url).scheme}://{urlsplit(authorization_url).netloc}/"
    account = urljoin(base, ".account/")

    def post(url: str, body: dict[str, Any], step: str) -> str:
        response = browser.post(
            url, json=body, timeout=timeout, headers={"Accept": "application/json"}
        )
        if response.status_code >= 400:
            raise CssError(f"CSS refused to {step} (HTTP {response.status_code}).")
        location = response.json().get("location")
        if not isinstance(location, str):
            raise CssError(f"CSS did not say where to go after we {step}.")
        return location

    def follow(url: str) -> str | None:
        """Follow redirects; return the callback URL if we reached it, else None."""
        for _ in range(_MAX_STEPS):
            if url.startswith(redirect_uri):
                return url
            response = browser.get(
                url, allow_redirects=False, timeout=timeout, headers={"Accept": "application/json"}
            )
            if not response.is_redirect:
                return None
            url = urljoin(url, response.headers["Location"])
        raise CssError("CSS redirected too many times during login.")

    def controls() -> dict[str, Any]:
        response = browser.get(account, timeout=timeout, headers={"Accept": "application/json"})
        return response.json()["controls"]

    # Starts the interaction (CSS sets its session cookie), or, for a person CSS remembers
    # with every step already agreed, comes straight back to the application.
    callback = follow(authorization_url)
    if callback is not None:
        return dict(parse_qsl(urlsplit(callback).query))
    steps = (
        ("password", "login", {"email": email, "password": password, "remember": True}, "log in"),
        ("oidc", "webId", {"webId": webid, "remember": True}, "pick the WebID"),
        ("oidc", "consent", {"remember": True}, "consent"),
    )
    for group, control, body, step in steps:
        known = controls()
        if group == "password" and "logout" in known.get("account", {}):
            continue  # the browser's cookie is still logged in: CSS asks for no password
        callback = follow(post(known[group][control], body, step))
        if callback is not None:  # CSS may skip steps it remembers
            return dict(parse_qsl(urlsplit(callback).query))
    raise CssError("The login finished without coming back to the application.")
