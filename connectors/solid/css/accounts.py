"""A client for the Community Solid Server account API (JSON, version 0.5).

Tests, benchmarks and the demo need people with pods: an account, a password login, a pod with
its WebID, and client credentials for scripts. CSS offers all of this as a JSON API under
`/.account/`, discovered through `controls` links (upstream `documentation/markdown/usage/
account/json-api.md`); we follow those links instead of building URLs, as the API asks.

Every failure becomes a `CssError` naming the step, the HTTP status and CSS's own `message`.
Passwords, account tokens and client secrets never appear in messages or `repr()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests

from connectors.solid.css.errors import CssError

API_VERSION = "0.5"


@dataclass(frozen=True)
class PodAccount:
    """A CSS account with a password login and one pod, as created by `create_account`."""

    email: str
    password: str = field(repr=False)
    pod_url: str
    webid: str
    issuer: str


@dataclass(frozen=True)
class ClientCredentials:
    """A client id and secret that log in as `webid` with no browser (client_credentials grant)."""

    id: str
    secret: str = field(repr=False)
    webid: str
    issuer: str


def _no_cookie_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy, no netrc: the test bed is on localhost
    # CSS also answers a login with a cookie that authenticates later calls; one session serves
    # many accounts here, so a kept cookie could make a call act as the wrong account.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session


class CssAccountApi:
    """Create accounts, pods and client credentials on one CSS through its JSON API.

    A `session` passed in is used as is; it should not keep cookies (see `_no_cookie_session`).
    `verify` is the CA bundle of a CSS served with a private CA (the demo's pod provider).
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 15,
        verify: str | bool = True,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self._owns_session = session is None
        self.session = session or _no_cookie_session()
        if session is None:
            self.session.verify = verify

    def create_account(self, *, email: str, password: str, pod_name: str) -> PodAccount:
        """Create an account, give it a password login and a pod named `pod_name`.

        CSS rewrites unusual pod names (lower case, `-` for other characters), so use the
        returned `pod_url`, not the name, to find the pod.
        """
        created = self._call(
            "create an account", "POST", self.base_url + ".account/account/", json={}
        )
        token = _field(created, "authorization", "create an account")
        controls = self._controls(token)
        self._call(
            f"add a password login for {email}",
            "POST",
            _control(controls, "password", "create"),
            token=token,
            json={"email": email, "password": password},
        )
        step = f"create the pod {pod_name!r}"
        pod = self._call(
            step, "POST", _control(controls, "account", "pod"), token=token, json={"name": pod_name}
        )
        return PodAccount(
            email=email,
            password=password,
            pod_url=_field(pod, "pod", step),
            webid=_field(pod, "webId", step),
            issuer=self.base_url,
        )

    def login(self, email: str, password: str) -> str:
        """Log in with a password and return the account token (`CSS-Account-Token`)."""
        answer = self._call(
            f"log in as {email}",
            "POST",
            self.base_url + ".account/login/password/",
            json={"email": email, "password": password, "remember": False},
        )
        return _field(answer, "authorization", f"log in as {email}")

    def create_client_credentials(
        self, account: PodAccount, name: str = "datacage"
    ) -> ClientCredentials:
        """Issue client credentials for the account's WebID; CSS shows the secret only once."""
        token = self.login(account.email, account.password)
        step = f"create client credentials for {account.webid}"
        answer = self._call(
            step,
            "POST",
            _control(self._controls(token), "account", "clientCredentials"),
            token=token,
            json={"name": name, "webId": account.webid},
        )
        return ClientCredentials(
            id=_field(answer, "id", step),
            secret=_field(answer, "secret", step),
            webid=account.webid,
            issuer=account.issuer,
        )

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> CssAccountApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _controls(self, token: str) -> dict[str, Any]:
        index = self._call(
            "read the account controls", "GET", self.base_url + ".account/", token=token
        )
        if index.get("version") != API_VERSION:
            raise CssError(
                f"CSS at {self.base_url} speaks account API version {index.get('version')!r}; "
                f"this client knows version {API_VERSION}."
            )
        controls = index.get("controls")
        if not isinstance(controls, dict):
            raise CssError(f"CSS at {self.base_url} sent account controls that are not an object.")
        return controls

    def _call(
        self,
        step: str,
        method: str,
        url: str,
        *,
        token: str | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"CSS-Account-Token {token}"
        try:
            response = self.session.request(
                method, url, headers=headers, json=json, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise CssError(
                f"Could not {step}: CSS at {self.base_url} did not answer ({type(exc).__name__}).",
                url=url,
            ) from None
        return _json_answer(response, step)


def _json_answer(response: requests.Response, step: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not response.ok:
        detail = body.get("message") if isinstance(body, dict) else None
        raise CssError(
            f"CSS refused to {step} (HTTP {response.status_code}): "
            f"{detail or response.reason or 'no explanation given'}",
            url=response.url,
            status=response.status_code,
        )
    if not isinstance(body, dict):
        raise CssError(
            f"Could not {step}: CSS answered HTTP {response.status_code} without a JSON object.",
            url=response.url,
            status=response.status_code,
        )
    return body


def _control(controls: dict[str, Any], group: str, name: str) -> str:
    # An expired or refused account token is not an HTTP error: CSS answers with the anonymous
    # controls, so a missing account control is how that failure shows.
    url = controls.get(group, {}).get(name)
    if not isinstance(url, str):
        raise CssError(
            f"CSS did not offer the account control {group}.{name}: the account token was "
            "not accepted (expired or logged out)."
        )
    return url


def _field(answer: dict[str, Any], key: str, step: str) -> str:
    value = answer.get(key)
    if not isinstance(value, str) or not value:
        raise CssError(f"Could not {step}: CSS's answer has no {key!r}.")
    return value
