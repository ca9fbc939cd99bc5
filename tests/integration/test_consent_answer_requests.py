"""What one person's answer asks of their pod provider, request by request.

The control plane runs on a loopback port and a person answers through its pages as a browser
does: the invitation's WebID form, the real sign-in at CSS (its JSON interaction API), the
callback, the consent page, Accept. Every request the control plane itself sends (a response
hook on the `requests.Session` under its `Http`, which the person's `SolidClient` uses too) is
recorded per step and printed. A second read of the profile, the pod root or a resource
within one step fails here, and so does any step that grows.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import requests
from rdflib import URIRef
from werkzeug.datastructures import MultiDict

from connectors.solid import SolidClient, SolidSession
from connectors.solid import errors as solid_errors
from connectors.solid.css import complete_password_login
from server import create_app
from server.consent.resolve import storage_of
from server.services import services
from tests.support.consent_space import make_active_space
from tests.support.live_server import serve_wsgi
from tests.support.pod_sessions import with_pod_session
from vocab import PIM

REQUESTS = [
    {"kind": "path", "target": "contacts/customers.ttl", "description": "Your customer record"},
    {"kind": "path", "target": "shop/orders.ttl", "description": "Your orders"},
]
CUSTOMERS = b'<#me> <http://schema.org/email> "ana@example.org" .\n'
ORDERS = b'<#o1> <http://schema.org/price> "12.50" .\n'

#: Requests per step, as measured with each thing read once (see docs/demo.md).
MOST = {"join": 2, "callback": 3, "consent page": 5, "accept": 25}


class Recorder:
    """Every request the control plane's transport sends, as `METHOD pattern`, per step."""

    def __init__(self, session: requests.Session, pod: str):
        self.session = session
        self.pod = pod
        self.steps: dict[str, Counter[str]] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        seen: Counter[str] = Counter()

        def hook(response: requests.Response, *args: object, **kwargs: object) -> None:
            seen[f"{response.request.method} {self.pattern(response.request.url or '')}"] += 1

        self.session.hooks["response"].append(hook)
        try:
            yield
        finally:
            self.session.hooks["response"].remove(hook)
            self.steps[name] = seen

    def pattern(self, url: str) -> str:
        if url.startswith(self.pod):
            # One receipt per consent: its name carries the space id and number.
            rest = re.sub(r"consent-receipts/[^/]+-\d+", "consent-receipts/<receipt>", url)
            return "<pod>/" + rest[len(self.pod) :]
        return re.sub(r"^https?://[^/]+", "<css>", url)

    def report(self) -> str:
        lines = []
        for name, seen in self.steps.items():
            lines.append(f"{name}: {sum(seen.values())} requests")
            lines += [f"  {count:2d} x {what}" for what, count in sorted(seen.items())]
        return "\n".join(lines)


class _Hidden(HTMLParser):
    """The hidden fields of the form with the given id, as a browser would submit them."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = found.get("id") == self.form_id
        elif tag == "input" and self.inside and found.get("type") == "hidden":
            self.fields.append((found.get("name", ""), found.get("value", "")))


def hidden_fields(html: str, form_id: str) -> list[tuple[str, str]]:
    parser = _Hidden(form_id)
    parser.feed(html)
    return parser.fields


@pytest.fixture
def world(make_user, make_account, make_client_credentials, tmp_path):
    owner, cage = make_user("owner"), make_user("cage")
    person = make_account("answers")
    _write_own_data(person, make_client_credentials(person))
    built = []

    def build(base: str):
        app = create_app(
            {
                "TESTING": True,
                "PUBLIC_URL": base,
                "DATA_DIR": str(tmp_path / "data"),
                "REGISTRY_PATH": ":memory:",
                "DATACAGE_WEBID": cage.webid,
            }
        )
        built.append(app)
        return app

    with serve_wsgi(build=build) as base:
        app = built[0]
        space = make_active_space(app, owner.webid, REQUESTS)
        yield app, base, space, person


def test_an_answer_reads_each_thing_once_per_step(world, capsys):
    app, base, space, person = world
    recorder = Recorder(services(app).http.session, person.pod_url)
    browser = requests.Session()
    browser.trust_env = False
    join = urljoin(base, f"spaces/{space.id}/join")
    fields = [*hidden_fields(browser.get(join).text, "join"), ("webid", person.webid)]
    with recorder.step("join"):
        sent = browser.post(join, data=fields, allow_redirects=False)
    assert sent.status_code == 303, sent.text
    callback = complete_password_login(
        sent.headers["Location"],
        email=person.email,
        password=person.password,
        webid=person.webid,
        redirect_uri=urljoin(base, "login/callback"),
    )
    with recorder.step("callback"):
        back = browser.get(urljoin(base, "login/callback"), params=callback, allow_redirects=False)
    assert back.status_code == 303, back.text
    with recorder.step("consent page"):
        page = browser.get(urljoin(base, back.headers["Location"]))
    assert page.status_code == 200, page.text
    assert "ana@example.org" in page.text
    answer = [*hidden_fields(page.text, "answer"), ("answer", "accept")]
    assert len([name for name, _ in answer if name == "resource"]) == 2
    with recorder.step("accept"):
        accepted = browser.post(page.url, data=answer, allow_redirects=False)
    assert accepted.status_code == 303, accepted.text
    with capsys.disabled():
        print("\n" + recorder.report())
    report = recorder.report()
    for name, seen in recorder.steps.items():
        assert seen["GET <pod>/profile/card"] <= 1, report
        assert seen["HEAD <pod>/"] <= 1, report
        assert seen["HEAD <pod>/profile/"] <= 1, report
        again = [what for what, n in seen.items() if n > 1 and what.startswith(("GET", "HEAD"))]
        assert again == [], f"{name} read these more than once: {again}\n{report}"
        assert sum(seen.values()) <= MOST[name], f"{name} grew\n{report}"


def _write_own_data(person, credentials) -> None:
    """The person puts their data in their pod themselves (with their own login)."""
    own = SolidClient(
        SolidSession.from_client_credentials(credentials.issuer, credentials.id, credentials.secret)
    )
    own.put(person.pod_url + "contacts/customers.ttl", CUSTOMERS, "text/turtle")
    own.put(person.pod_url + "shop/orders.ttl", ORDERS, "text/turtle")


# --- What is granted is what the person saw, read afresh at the Accept ---------------------------
# The memo lives for one request: the Accept reads the profile and the pod again, so a change
# between the page and the Accept is seen and nothing is granted.


@pytest.fixture
def paged(make_user, tmp_path):
    owner, person, cage = make_user("owner"), make_user("person"), make_user("cage")
    app = create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": "http://localhost/",
            "DATA_DIR": str(tmp_path / "data"),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": cage.webid,
        }
    )
    person.client.put(person.pod + "contacts/customers.ttl", CUSTOMERS, "text/turtle")
    person.client.put(person.pod + "shop/orders.ttl", ORDERS, "text/turtle")
    space = make_active_space(app, owner.webid, REQUESTS)
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(csrf_token="t", webid=person.webid, signed_in_at=time.time())
    with_pod_session(app, client, person)
    return app, space, person, cage, client


def shown(client, space) -> list[tuple[str, str]]:
    page = client.get(f"/spaces/{space.id}/consent")
    assert page.status_code == 200, page.text
    return [*hidden_fields(page.text, "answer"), ("answer", "accept")]


def nothing_granted(app, space, person, cage) -> None:
    with app.app_context():
        assert services(app).consents.history(space.iri, person.webid).consents == []
    for path in ("contacts/customers.ttl", "shop/orders.ttl"):
        try:
            control = person.client.access_control(person.pod + path)
        except solid_errors.NotFound:
            continue
        assert control.agent_modes(cage.webid) == frozenset(), path


def test_a_file_removed_between_the_page_and_the_accept_grants_nothing(paged):
    app, space, person, cage, client = paged
    answer = shown(client, space)
    person.client.delete(person.pod + "shop/orders.ttl")
    refused = client.post(f"/spaces/{space.id}/consent", data=MultiDict(answer))
    assert refused.status_code == 409
    assert "changed since the page was shown" in refused.text
    nothing_granted(app, space, person, cage)


def test_a_file_added_between_the_page_and_the_accept_grants_nothing(paged):
    app, space, person, cage, client = paged
    person.client.delete(person.pod + "shop/orders.ttl")
    answer = shown(client, space)
    assert len([name for name, _ in answer if name == "resource"]) == 1
    person.client.put(person.pod + "shop/orders.ttl", ORDERS, "text/turtle")
    refused = client.post(f"/spaces/{space.id}/consent", data=MultiDict(answer))
    assert refused.status_code == 409
    nothing_granted(app, space, person, cage)


def test_a_storage_changed_in_the_profile_between_page_and_accept_grants_nothing(paged):
    """The page found the files under the pod root; the profile then names `contacts/` as the
    storage: the Accept reads the profile again, finds other URLs, and grants nothing."""
    app, space, person, cage, client = paged
    answer = shown(client, space)
    _claim_storage(person, person.pod + "contacts/")
    refused = client.post(f"/spaces/{space.id}/consent", data=MultiDict(answer))
    assert refused.status_code == 409
    assert person.pod + "contacts/contacts/customers.ttl" in refused.text
    nothing_granted(app, space, person, cage)


def test_a_storage_on_another_host_in_the_profile_is_not_trusted(paged):
    _app, space, person, _cage, client = paged
    _claim_storage(person, "http://pod.attacker.example/ana/")
    answer = shown(client, space)
    offered = sorted(value for name, value in answer if name == "resource")
    assert offered == [person.pod + "contacts/customers.ttl", person.pod + "shop/orders.ttl"]
    accepted = client.post(f"/spaces/{space.id}/consent", data=MultiDict(answer))
    assert accepted.status_code == 303


def test_one_client_asking_for_two_webids_gets_each_ones_own_storage(make_user):
    """The memo is kept per WebID asked for: one person's storage never stands for another's."""
    ana, bob = make_user("ana"), make_user("bob")
    with ana.client.reads_once():
        assert storage_of(ana.client, ana.webid) == ana.pod
        assert storage_of(ana.client, bob.webid) == bob.pod
        assert storage_of(ana.client, ana.webid) == ana.pod


def _claim_storage(person, storage: str) -> None:
    document = person.webid.split("#", 1)[0]
    person.client.patch(document, inserts=[(URIRef(person.webid), PIM.storage, URIRef(storage))])
