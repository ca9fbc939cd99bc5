"""People, a space and a run on the compose stack, driven from outside as its users drive it.

Everything goes through the stack's published port (the entrance): accounts and pods at the
pod server's account API, pod data with each owner's own client, the space through the control
plane's JSON API with the owner's DPoP token, and the pages a browser uses for signing in,
consenting and choosing where results go (HTML forms; CSS's login through its JSON interaction
API). Nothing here reaches inside a container but `approve_datacage`, which reads what the pod
provider's operator would read (docs/deployment.md) and writes the admission policy.
"""

from __future__ import annotations

import contextlib
import json as _json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from connectors.solid import SolidClient, SolidSession
from connectors.solid.css import CssAccountApi, complete_password_login
from connectors.solid.http import Http, TlsSettings
from server.algorithms import build_bundle
from tests.support.compose_stack import ComposeStack

PASSWORD = "compose-test-password"
SURVEY = Path(__file__).parents[1] / "fixtures" / "bundles" / "shop-survey"
REQUESTS = [
    {"kind": "path", "target": "contacts/customers.ttl", "description": "Your customer record"},
    {"kind": "path", "target": "shop/orders.csv", "description": "Your orders"},
]
_TIMEOUT = 30


@contextlib.contextmanager
def localhost_names() -> Iterator[None]:
    """`*.localhost` names this machine in this process, as browsers make it (RFC 6761, 6.3);
    glibc here does not, and the stack's host names must be used as they are (DPoP, issuers)."""
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    socket.getaddrinfo = resolve
    try:
        yield
    finally:
        socket.getaddrinfo = real


@dataclass
class User:
    """An account with a pod on the stack's CSS, and a client that signs in as it."""

    email: str
    pod: str
    webid: str
    client: SolidClient


class _Forms(HTMLParser):
    """Every form's hidden fields, by the form's id."""

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


def hidden_fields(page: requests.Response, form_id: str) -> list[tuple[str, str]]:
    assert page.status_code == 200, f"{page.url}: HTTP {page.status_code}\n{page.text[:2000]}"
    parser = _Forms()
    parser.feed(page.text)
    assert form_id in parser.forms, f"{page.url} shows no form {form_id!r}"
    return parser.forms[form_id]


class StackWorld:
    """The stack's two public names on its port, its CA, and its users."""

    def __init__(self, stack: ComposeStack, port: int, ca: Path) -> None:
        self.stack = stack
        self.pods = f"https://pods.localhost:{port}/"
        self.control_plane = f"https://datacage.localhost:{port}/"
        self.ca = ca
        self.tls = TlsSettings(verify=str(ca))

    def user(self, label: str) -> User:
        with CssAccountApi(self.pods, verify=str(self.ca)) as accounts:
            email = f"{label}@compose.example"
            account = accounts.create_account(email=email, password=PASSWORD, pod_name=label)
            credentials = accounts.create_client_credentials(account, "compose test")
        session = SolidSession.from_client_credentials(
            credentials.issuer, credentials.id, credentials.secret, http=Http(tls=self.tls)
        )
        return User(email, account.pod_url, account.webid, SolidClient(session))

    def fill_pod(self, user: User, n: int) -> None:
        """Person n: a customer record with an e-mail address and n + 1 orders."""
        record = f'<#me> <http://schema.org/email> "shopper{n}@example.org" .\n'
        user.client.put(user.pod + "contacts/customers.ttl", record.encode(), "text/turtle")
        orders = "order,amount\n" + "".join(f"{i},9.50\n" for i in range(n + 1))
        user.client.put(user.pod + "shop/orders.csv", orders.encode(), "text/csv")

    # --- the owner's JSON API calls -----------------------------------------------------

    def api(
        self,
        owner: User,
        method: str,
        path: str,
        *,
        json: dict | None = None,
        data: bytes | None = None,
        content_type: str = "application/json",
    ) -> requests.Response:
        """One DPoP-signed request (redirects of a POST are not followed)."""
        body = data if json is None else _json.dumps(json).encode()
        headers = {"Content-Type": content_type} if body is not None else {}
        url = urljoin(self.control_plane, path)
        return owner.client.session.request(method, url, headers=headers, data=body)

    def active_space(self, owner: User) -> dict:
        """Created with every role, the survey bundle registered, submitted and approved."""
        made = self.api(owner, "POST", "api/spaces", json={
            "name": "Compose survey", "description": "Orders per shopper, as counts.",
            "purposes": ["Marketing"], "legal_basis": "Consent", "retention": "P90D",
            "data_requests": REQUESTS, "consent_period": "P1Y", "recurring": False,
            "roles": ["data-provider", "code-provider", "data-consumer"],
        })  # fmt: skip
        assert made.status_code == 201, made.text
        space = made.json()["id"]
        bundle = self.api(owner, "PUT", f"api/spaces/{space}/algorithm", data=build_bundle(SURVEY),
                          content_type="application/zip")  # fmt: skip
        assert bundle.status_code == 201, bundle.text
        submitted = self.api(owner, "POST", f"api/spaces/{space}/submit")
        assert submitted.status_code == 200, submitted.text
        terms = submitted.json()["terms_digest"]
        approved = self.api(owner, "POST", f"api/spaces/{space}/approvals",
                            json={"terms_digest": terms})  # fmt: skip
        assert approved.status_code == 200, approved.text
        return approved.json()

    def start_run(self, owner: User, space_id: str) -> str:
        started = self.api(owner, "POST", f"spaces/{space_id}/runs")
        assert started.status_code == 303, started.text
        return urljoin(self.control_plane, started.headers["Location"])

    # --- what a browser does ------------------------------------------------------------

    def browser(self) -> requests.Session:
        browser = requests.Session()
        browser.trust_env = False  # REQUESTS_CA_BUNDLE would replace `verify`
        browser.verify = str(self.ca)
        return browser

    def through_identity_provider(
        self, browser: requests.Session, sent: requests.Response, user: User
    ) -> requests.Response:
        """A 303 to CSS: log in there as `user`, consent, and come back to the control plane."""
        assert sent.status_code == 303, f"{sent.url}: HTTP {sent.status_code}\n{sent.text[:2000]}"
        authorization = sent.headers["Location"]
        redirect_uri = parse_qs(urlsplit(authorization).query)["redirect_uri"][0]
        callback = complete_password_login(
            authorization, email=user.email, password=PASSWORD, webid=user.webid,
            redirect_uri=redirect_uri, verify=str(self.ca),
        )  # fmt: skip
        return browser.get(f"{redirect_uri}?{urlencode(callback)}", timeout=_TIMEOUT)

    def consent(self, space_id: str, person: User) -> str:
        """The invitation page, sign-in at CSS, the consent page, Accept: the page it ends on."""
        with self.browser() as browser:
            join = urljoin(self.control_plane, f"spaces/{space_id}/join")
            fields = dict(hidden_fields(browser.get(join, timeout=_TIMEOUT), "join"))
            fields["webid"] = person.webid
            sent = browser.post(join, data=fields, allow_redirects=False, timeout=_TIMEOUT)
            shown = self.through_identity_provider(browser, sent, person)
            answer = [*hidden_fields(shown, "answer"), ("answer", "accept")]
            answered = browser.post(shown.url, data=answer, timeout=_TIMEOUT)
            assert answered.status_code == 200, answered.text[:2000]
            return answered.url

    def choose_results_container(self, space_id: str, owner: User) -> str:
        """Sign in, open the results page, sign in at the pod for it, grant and save."""
        container = owner.pod + "results/compose-survey/"
        with self.browser() as browser:
            login = urljoin(self.control_plane, "login")
            fields = dict(hidden_fields(browser.get(login, timeout=_TIMEOUT), "signin"))
            fields["webid"] = owner.webid
            sent = browser.post(login, data=fields, allow_redirects=False, timeout=_TIMEOUT)
            self.through_identity_provider(browser, sent, owner)
            results = urljoin(self.control_plane, f"spaces/{space_id}/results")
            page = browser.get(results, timeout=_TIMEOUT)
            sent = browser.post(results, data=hidden_fields(page, "results-start"),
                                allow_redirects=False, timeout=_TIMEOUT)  # fmt: skip
            choose = self.through_identity_provider(browser, sent, owner)
            form = [*hidden_fields(choose, "results-choose"), ("container", container),
                    ("action", "save")]  # fmt: skip
            saved = browser.post(choose.url, data=form, timeout=_TIMEOUT)
            assert saved.status_code == 200, saved.text[:2000]
        return container

    # --- the pod provider's operator ----------------------------------------------------

    def approve_datacage(
        self, admission: Path, bundle_digest: str, services: tuple[str, ...] = ("datacage",)
    ) -> Path:
        """What docs/deployment.md has the operator do: read the datacage's code digest and
        its software stand-in's key, and approve them with the bundle in the policy file.
        `services`: every datacage container (a fleet's workers: a stand-in key each)."""
        code = self.stack.exec(services[0], "python", "-c", _CODE_DIGEST).strip()
        files = []
        for number, service in enumerate(services, start=1):
            files.append("cage.pub" if number == 1 else f"cage-{number}.pub")
            key = self.stack.exec(service, "python", "-c", _STAND_IN_KEY)
            (admission / files[-1]).write_text(key)
        policy = admission / "policy.toml"
        policy.write_text(
            f'code_digests = ["{code}"]\nbundle_digests = ["{bundle_digest}"]\n'
            f"allow_software = true\nsoftware_key_files = {_json.dumps(files)}\n"
            "max_age_seconds = 3600\n"
        )
        return policy

    def wait_for_result(self, owner: User, container: str, within: float) -> str:
        """The first resource the datacage delivered into `container`."""
        deadline = time.monotonic() + within
        while True:
            found = [e.url for e in owner.client.list_container(container) if not e.is_container]
            if found:
                return found[0]
            assert time.monotonic() < deadline, (
                f"nothing delivered into {container} in {within:.0f} s\n"
                f"datacage:\n{self.stack.logs('datacage')}\ngateway:\n{self.stack.logs('gateway')}"
            )
            time.sleep(2)


_CODE_DIGEST = (
    "from server.attestation import measure_datacage_code; print(measure_datacage_code())"
)
_STAND_IN_KEY = (
    "from pathlib import Path; from server.attestation import SoftwareAttestationProvider as P; "
    "print(P(Path('/var/lib/datacage-worker/attestation')).public_key_pem(), end='')"
)
