"""A person's answer to an invitation, through the live control plane's own pages, headless.

The same requests a person's browser makes: the invitation page, the WebID form, the redirect
to their identity provider (CSS), the login and authorization there (CSS's JSON interaction
API, `connectors.solid.css.interaction`), the callback, the consent page showing what is in
their pod, and Accept or Decline. Nothing is taken through the service layer: the consent, the
grants in the pod and the receipt are made by the control plane as for anyone.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from connectors.solid.css import complete_password_login

from .seed import PASSWORD
from .stack import Account

_TIMEOUT = 120  # an answer is ~20 CSS requests; a busy CSS queues four people's at once


class ConsentFlowError(RuntimeError):
    """A page of the flow did not answer as a person's browser would expect."""


class _Forms(HTMLParser):
    """The hidden and submit fields of every form on a page, by the form's id."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, list[tuple[str, str]]] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._current = found.get("id", "")
            self.forms.setdefault(self._current, [])
        elif tag == "input" and self._current is not None and found.get("type") == "hidden":
            self.forms[self._current].append((found.get("name", ""), found.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _form(html: str, form_id: str, page: str) -> list[tuple[str, str]]:
    parser = _Forms()
    parser.feed(html)
    if form_id not in parser.forms:
        raise ConsentFlowError(f"The {page} shows no form {form_id!r}.")
    return parser.forms[form_id]


def answer_invitation(
    control_plane: str,
    space_id: str,
    person: Account,
    *,
    accept: bool,
    ca_bundle: str | bool = True,
    at_provider: requests.Session | None = None,
) -> str:
    """Walk the invitation as `person` and accept or decline; return the page we end on.

    `at_provider`: the person's browser at their identity provider, kept from one answer to
    the next (its cookie), so CSS asks for the password once and remembers the rest."""
    browser = requests.Session()
    browser.trust_env = False  # the demo is on localhost: no proxy may see it
    with browser:
        join = urljoin(control_plane, f"spaces/{space_id}/join")
        page = _ok(browser.get(join, timeout=_TIMEOUT), "invitation page")
        fields = dict(_form(page.text, "join", "invitation page"))
        fields["webid"] = person.webid
        sent = browser.post(join, data=fields, allow_redirects=False, timeout=_TIMEOUT)
        if sent.status_code != 303:
            raise ConsentFlowError(f"The invitation page answered {sent.status_code}, no redirect.")
        authorization = sent.headers["Location"]
        redirect_uri = parse_qs(urlsplit(authorization).query)["redirect_uri"][0]
        callback = complete_password_login(
            authorization,
            email=person.member.email,
            password=PASSWORD,
            webid=person.webid,
            redirect_uri=redirect_uri,
            verify=ca_bundle,
            browser=at_provider,
            timeout=_TIMEOUT,
        )
        shown = _ok(
            browser.get(f"{redirect_uri}?{urlencode(callback)}", timeout=_TIMEOUT), "consent page"
        )
        form = _form(shown.text, "answer", "consent page")
        form.append(("answer", "accept" if accept else "decline"))
        answered = _ok(browser.post(shown.url, data=form, timeout=_TIMEOUT), "answer")
        return answered.url


def answer_all(
    control_plane: str,
    space_ids: list[str],
    person: Account,
    *,
    accept: bool,
    ca_bundle: str | bool = True,
) -> list[str]:
    """One person answers every space's invitation in turn, with one browser at CSS: the
    first answer signs in with the password, the others are let through on CSS's cookie."""
    at_provider = requests.Session()
    at_provider.trust_env = False  # the demo is on localhost: no proxy may see it
    with at_provider:
        return [
            answer_invitation(
                control_plane,
                space_id,
                person,
                accept=accept,
                ca_bundle=ca_bundle,
                at_provider=at_provider,
            )
            for space_id in space_ids
        ]


def _ok(response: requests.Response, page: str) -> requests.Response:
    if response.status_code != 200:
        raise ConsentFlowError(f"The {page} answered HTTP {response.status_code}.")
    return response
