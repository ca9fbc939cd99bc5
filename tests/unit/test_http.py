"""The HTTP layer's policies: error mapping, timeouts, body limits and same-origin redirects.

`responses` stands in for servers that fail; everything above it (requests, our `Http`, DPoP
with a real key) is the real code.
"""

import pytest
import requests
import responses

from connectors.solid import errors
from connectors.solid.dpop import DPoPAuth, DPoPKey, ProofFactory
from connectors.solid.http import MAX_REDIRECTS, Http, TlsSettings, raise_for_status

URL = "https://pod.example/alice/notes.ttl"


class FixedToken:
    """A token source that always presents the same access token."""

    def access_token(self) -> str:
        return "access-token-for-alice"

    def renew(self, rejected_token: str) -> bool:
        return False


def dpop_auth() -> DPoPAuth:
    return DPoPAuth(ProofFactory(DPoPKey.generate()), FixedToken())


# --- Status codes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class", "words"),
    [
        (401, errors.Unauthenticated, "needs a signed-in identity it accepts"),
        (403, errors.Forbidden, "is not accessible to this identity"),
        (404, errors.NotFound, "does not exist"),
        (405, errors.UnsupportedRequest, "does not allow this operation"),
        (409, errors.Conflict, "conflicts with this request"),
        (410, errors.NotFound, "no longer exists"),
        (412, errors.PreconditionFailed, "changed since it was read"),
        (413, errors.TooLarge, "refused as too large by the server"),
        (415, errors.UnsupportedRequest, "does not accept this content type"),
        (501, errors.UnsupportedRequest, "is not supported by this server"),
        (500, errors.UpstreamError, "The server failed while handling"),
        (502, errors.UpstreamUnavailable, "is unavailable right now"),
        (503, errors.UpstreamUnavailable, "is unavailable right now"),
        (504, errors.UpstreamUnavailable, "is unavailable right now"),
        (418, errors.UpstreamError, "The server refused the request for"),
    ],
)
@responses.activate
def test_each_error_status_becomes_its_domain_error_naming_url_and_status(
    status, error_class, words
):
    responses.get(URL, status=status, body="personal data the server echoed back")
    response = Http().request("GET", URL)
    with pytest.raises(errors.SolidError) as raised:
        raise_for_status(response)
    error = raised.value
    assert type(error) is error_class
    assert words in str(error)
    assert URL in str(error)
    assert f"({status})" in str(error)
    assert "personal data" not in str(error)
    assert (error.url, error.status) == (URL, status)


@responses.activate
def test_an_error_names_what_the_caller_was_doing_instead_of_the_url():
    responses.get(URL, status=404)
    response = Http().request("GET", URL)
    with pytest.raises(errors.NotFound, match=r"^Alice's notes does not exist \(404\)\.$"):
        raise_for_status(response, "Alice's notes")


@pytest.mark.parametrize("status", [200, 201, 204, 304])
@responses.activate
def test_success_and_not_modified_do_not_raise(status):
    responses.get(URL, status=status)
    raise_for_status(Http().request("GET", URL))


# --- Transport failures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), "did not answer in time"),
        (requests.exceptions.ConnectTimeout("connect timed out"), "did not answer in time"),
        (requests.exceptions.ConnectionError("refused"), "Could not connect to"),
        (requests.exceptions.SSLError("certificate verify failed"), "The TLS connection to"),
    ],
)
@responses.activate
def test_transport_failures_become_upstream_unavailable_in_plain_words(failure, words):
    responses.get(URL, body=failure)
    with pytest.raises(errors.UpstreamUnavailable) as raised:
        Http().request("GET", URL)
    assert words in str(raised.value)
    assert URL in str(raised.value)
    assert raised.value.http_status == 504


@responses.activate
def test_a_tls_failure_gives_its_reason_cut_to_a_readable_length():
    responses.get(URL, body=requests.exceptions.SSLError("certificate verify failed " * 50))
    with pytest.raises(errors.UpstreamUnavailable, match="certificate verify failed") as raised:
        Http().request("GET", URL)
    assert len(str(raised.value)) < 300


@pytest.mark.parametrize("url", ["http://", "pod.example/alice/notes.ttl", "gopher://pod.example/"])
def test_a_url_that_cannot_be_requested_is_the_callers_error_not_the_servers(url):
    with pytest.raises(errors.SolidError, match="is not a valid URL") as raised:
        Http().request("GET", url)
    assert not isinstance(raised.value, errors.UpstreamError)


# --- Body size limits -------------------------------------------------------------------------


@responses.activate
def test_a_body_declared_too_large_is_refused_before_reading():
    responses.get(URL, body=b"x" * 2000, auto_calculate_content_length=True)
    response = Http(max_body_bytes=1000).request("GET", URL)
    assert response.headers["Content-Length"] == "2000"
    with pytest.raises(errors.TooLarge, match=r"is 2,000 bytes, over the limit of 1,000\.") as e:
        Http(max_body_bytes=1000).read(response)
    assert URL in str(e.value)


@responses.activate
def test_a_body_without_declared_length_is_cut_off_while_streaming():
    responses.get(URL, body=b"x" * 2000)
    http = Http(max_body_bytes=1000)
    response = http.request("GET", URL)
    assert "Content-Length" not in response.headers
    with pytest.raises(errors.TooLarge, match=r"is larger than the limit of 1,000 bytes\."):
        http.read(response)


@responses.activate
def test_a_per_call_limit_overrides_the_default():
    responses.get(URL, body=b"x" * 2000)
    http = Http(max_body_bytes=10)
    assert http.read(http.request("GET", URL), limit=2000) == b"x" * 2000
    with pytest.raises(errors.TooLarge):
        http.read(http.request("GET", URL), limit=1999)


# --- Redirects --------------------------------------------------------------------------------


@responses.activate
def test_a_same_origin_redirect_on_get_is_followed_with_a_fresh_proof():
    responses.get(URL, status=301, headers={"Location": "/alice/moved.ttl"})
    responses.get("https://pod.example/alice/moved.ttl", body="<a> <b> <c>.")
    response = Http().request("GET", URL, auth=dpop_auth())
    assert response.status_code == 200
    assert response.url == "https://pod.example/alice/moved.ttl"
    assert [call.request.url for call in responses.calls] == [
        URL,
        "https://pod.example/alice/moved.ttl",
    ]
    proofs = [call.request.headers["DPoP"] for call in responses.calls]
    assert proofs[0] != proofs[1]


@responses.activate
def test_a_same_origin_redirect_on_head_is_followed():
    responses.head(URL, status=307, headers={"Location": "https://pod.example/alice/other"})
    responses.head("https://pod.example/alice/other", status=200)
    assert Http().request("HEAD", URL).url == "https://pod.example/alice/other"


@pytest.mark.parametrize(
    ("location", "origin"),
    [
        ("https://evil.example/steal", "https://evil.example:443"),
        ("http://pod.example/alice/notes.ttl", "http://pod.example:80"),  # downgrade to http
        ("https://pod.example:8443/alice/", "https://pod.example:8443"),  # another port
        ("https://pod.example@evil.example/", "https://evil.example:443"),  # userinfo trick
    ],
)
@responses.activate
def test_a_redirect_to_another_origin_is_refused_and_our_credentials_never_go_there(
    location, origin
):
    responses.get(URL, status=302, headers={"Location": location})
    elsewhere = responses.get(location, status=200, body="thanks for the token")
    with pytest.raises(errors.UpstreamError, match="redirected to another site") as raised:
        Http().request("GET", URL, auth=dpop_auth())
    assert f"({origin})" in str(raised.value)
    assert "not followed" in str(raised.value)
    assert raised.value.status == 302
    assert elsewhere.call_count == 0
    assert len(responses.calls) == 1
    sent = responses.calls[0].request
    assert sent.url == URL
    assert sent.headers["Authorization"] == "DPoP access-token-for-alice"  # went to the pod only


@responses.activate
def test_the_default_port_written_out_is_the_same_origin():
    responses.get(URL, status=302, headers={"Location": "https://pod.example:443/alice/moved"})
    responses.get("https://pod.example:443/alice/moved", status=200, body="here")
    response = Http().request("GET", URL, auth=dpop_auth())
    assert response.status_code == 200
    assert responses.calls[1].request.headers["Authorization"] == "DPoP access-token-for-alice"


@responses.activate
def test_an_anonymous_read_follows_a_redirect_to_another_origin():
    # A WebID like https://w3id.org/people/alice redirects to the pod that hosts the profile.
    responses.get(URL, status=303, headers={"Location": "https://elsewhere.example/card"})
    responses.get("https://elsewhere.example/card", status=200, body="profile")
    response = Http().request("GET", URL)
    assert response.status_code == 200
    assert "Authorization" not in responses.calls[1].request.headers
    assert "DPoP" not in responses.calls[1].request.headers


@responses.activate
def test_a_redirect_loop_stops_after_the_redirect_limit():
    responses.get(URL, status=302, headers={"Location": URL})
    with pytest.raises(errors.UpstreamError, match=f"Too many redirects from {URL}"):
        Http().request("GET", URL)
    assert len(responses.calls) == MAX_REDIRECTS + 1


@pytest.mark.parametrize("status", [301, 303, 307, 308])
@responses.activate
def test_a_redirected_post_is_not_followed_and_is_not_mistaken_for_success(status):
    container = "https://pod.example/alice/"
    responses.post(container, status=status, headers={"Location": "/alice/elsewhere/"})
    target = responses.post("https://pod.example/alice/elsewhere/", status=201)
    response = Http().request("POST", container, data=b"<a> <b> <c>.")
    assert response.status_code == status
    assert target.call_count == 0
    with pytest.raises(errors.UpstreamError, match=rf"redirected the request for {container}"):
        raise_for_status(response)


def test_retry_after_reads_seconds_and_http_dates():
    from connectors.solid.http import retry_after_seconds

    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    now = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
    assert retry_after_seconds("Tue, 14 Nov 2023 22:14:20 GMT", now=now) == 60.0
    assert retry_after_seconds("Tue, 14 Nov 2023 22:00:00 GMT", now=now) == 0.0  # past: now


# --- The environment, read once per origin ----------------------------------------------------


class Recording(requests.adapters.HTTPAdapter):
    """Answers 200 itself and keeps the settings each request was sent with."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict] = []

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        self.sent.append(kwargs)
        response = requests.Response()
        response.status_code, response.url, response.raw = 200, request.url, None
        return response


def test_the_proxy_environment_is_read_once_per_origin_not_per_request(monkeypatch):
    calls = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(
        requests.sessions,
        "get_environ_proxies",
        lambda url, no_proxy=None: calls.append(url) or real(url, no_proxy=no_proxy),
    )
    session = requests.Session()
    session.mount("https://", Recording())
    http = Http(session)
    for _ in range(5):
        http.request("GET", URL)
    http.request("GET", "https://other.example/x")
    assert len(calls) == 2  # one per origin


def test_the_environment_still_chooses_proxies_and_the_ca_bundle(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not read by this adapter")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    adapter = Recording()
    session = requests.Session()
    session.mount("https://", adapter)
    Http(session).request("GET", URL)
    Http(session).request("GET", "https://direct.example/x")
    Http(session, tls=TlsSettings(verify="/our/ca.pem", cert=("c.pem", "k.pem"))).request(
        "GET", URL
    )
    proxied, direct, ours = adapter.sent
    assert proxied["proxies"]["https"] == "http://proxy.example:3128"
    assert proxied["verify"] == str(bundle)  # as requests does when it trusts the environment
    assert "https" not in direct["proxies"]
    assert ours["verify"] == "/our/ca.pem"
    assert ours["cert"] == ("c.pem", "k.pem")
    assert all(sent["stream"] is True for sent in adapter.sent)


def test_a_session_that_does_not_trust_the_environment_gets_no_proxy(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    adapter = Recording()
    session = requests.Session()
    session.trust_env = False
    session.mount("https://", adapter)
    Http(session).request("GET", URL)
    assert adapter.sent[0]["proxies"] == {}
