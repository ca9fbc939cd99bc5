"""DPoP nonces against a real resource server that plays RFC 9449 section 9 strictly.

The server runs on 127.0.0.1 in a thread and checks every proof the way a resource server must
(section 4.3): the ES256 signature against the proof's own `jwk`, `typ`, `htm`, `htu`, `iat`
within a minute, a `jti` never seen before, `ath` bound to the presented access token, and its
own current nonce. A proof without the current nonce gets `401` with
`WWW-Authenticate: DPoP error="use_dpop_nonce"` and a fresh `DPoP-Nonce` (section 9). The
nonce is rotated silently every N accepted requests, so the client learns each new one from a
challenge, unless the server is told to announce it on a success (section 8.2).

The same origin also serves a token endpoint (`/.oidc/token`) with a nonce of its own, refused
with `400 {"error": "use_dpop_nonce"}` (section 8), as Community Solid Server does on one
origin; it can hold its first challenges until several requests are in flight (to make
concurrent clients meet one challenge each), and answer `429` with a `Retry-After`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import jwt
import pytest

from connectors.solid import errors
from connectors.solid.dpop import DPoPAuth, DPoPKey, ProofFactory, b64url
from connectors.solid.http import Http, raise_for_status

ACCESS_TOKEN = "eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl"  # opaque to the resource server here
IAT_WINDOW_SECONDS = 60


class FixedToken:
    """A TokenSource that always presents the same access token and cannot renew it."""

    def __init__(self, token: str = ACCESS_TOKEN):
        self.token = token

    def access_token(self) -> str:
        return self.token

    def renew(self, rejected_token: str) -> bool:
        return False


@dataclass
class Exchange:
    """One request as the server saw it, and what it answered."""

    method: str
    path: str
    body: bytes
    proof_nonce: str | None
    status: int
    issued_nonce: str | None  # the DPoP-Nonce the server sent back, if any


class ProofRefused(Exception):
    """The proof broke a rule of RFC 9449 section 4.3: the client has a bug."""


class NonceResourceServer:
    """The rules of the resource server; the HTTP plumbing is in `_Handler`."""

    def __init__(
        self,
        *,
        rotate_every: int | None = None,
        always_new_nonce: bool = False,
        announce_new_nonce: bool = False,
        hold_challenges: int = 0,
        too_many: int = 0,
        retry_after: str | None = None,
    ):
        self.rotate_every = rotate_every
        self.always_new_nonce = always_new_nonce
        self.announce_new_nonce = announce_new_nonce
        # The first `hold_challenges` nonce challenges wait until all of them have arrived.
        self.held = threading.Barrier(hold_challenges) if hold_challenges else None
        self.to_hold = hold_challenges
        self.too_many = too_many  # how many requests to answer with 429 first
        self.retry_after = retry_after
        self.nonce = self._fresh_nonce()
        self.as_nonce = self._fresh_nonce()  # the token endpoint's own
        self.accepted = 0
        self.seen_jtis: set[str] = set()
        self.exchanges: list[Exchange] = []
        self.refusals: list[str] = []  # proofs refused for anything but a stale nonce
        self.base_url = ""  # set once the socket is bound
        self._lock = threading.Lock()

    @staticmethod
    def _fresh_nonce() -> str:
        return secrets.token_urlsafe(16)

    def url(self, path: str) -> str:
        return self.base_url + path

    def statuses(self) -> list[int]:
        return [exchange.status for exchange in self.exchanges]

    def handle(
        self, method: str, path: str, headers, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            if self.too_many > 0:
                self.too_many -= 1
                self._log(method, path, body, None, 429, None)
                extra = {"Retry-After": self.retry_after} if self.retry_after else {}
                return 429, extra, b""
        if path.startswith("/.oidc/token"):
            with self._lock:
                return self._token_endpoint(method, path, headers, body)
        answer = self._resource(method, path, headers, body)
        if answer[0] == 401 and "use_dpop_nonce" in answer[1].get("WWW-Authenticate", ""):
            with self._lock:
                hold = self.to_hold > 0
                self.to_hold -= 1
            if hold and self.held is not None:
                # Answer only once all held challengers are here (30 s: a loaded machine is slow);
                # past that, answer anyway and let the test see fewer simultaneous challenges.
                with contextlib.suppress(threading.BrokenBarrierError):
                    self.held.wait(timeout=30)
        return answer

    def _token_endpoint(self, method, path, headers, body) -> tuple[int, dict[str, str], bytes]:
        """An authorization server's nonce rules (section 8): 400 with JSON, own nonce."""
        try:
            claims = self._verify(method, path, headers, token=None)
        except ProofRefused as refusal:
            self.refusals.append(str(refusal))
            self._log(method, path, body, None, 400, None)
            return 400, {"Content-Type": "application/json"}, b'{"error":"invalid_dpop_proof"}'
        if claims.get("nonce") != self.as_nonce:
            self._log(method, path, body, claims.get("nonce"), 400, self.as_nonce)
            payload = json.dumps({"error": "use_dpop_nonce"}).encode()
            headers_out = {"Content-Type": "application/json", "DPoP-Nonce": self.as_nonce}
            return 400, headers_out, payload
        self._log(method, path, body, claims["nonce"], 200, None)
        payload = json.dumps({"access_token": "t", "token_type": "DPoP"}).encode()
        return 200, {"Content-Type": "application/json"}, payload

    def _resource(self, method, path, headers, body) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            try:
                claims = self._verify(method, path, headers)
            except ProofRefused as refusal:
                self.refusals.append(str(refusal))
                self._log(method, path, body, None, 401, None)
                challenge = f'DPoP error="invalid_dpop_proof", error_description="{refusal}"'
                return 401, {"WWW-Authenticate": challenge}, b""
            if self.always_new_nonce:
                self.nonce = self._fresh_nonce()
            if claims.get("nonce") != self.nonce:
                self._log(method, path, body, claims.get("nonce"), 401, self.nonce)
                challenge = 'DPoP error="use_dpop_nonce", error_description="Use the nonce"'
                return 401, {"WWW-Authenticate": challenge, "DPoP-Nonce": self.nonce}, b""
            self.accepted += 1
            extra: dict[str, str] = {}
            if self.rotate_every and self.accepted % self.rotate_every == 0:
                self.nonce = self._fresh_nonce()
                if self.announce_new_nonce:
                    extra["DPoP-Nonce"] = self.nonce
            status = 201 if method == "POST" else 200
            self._log(method, path, body, claims["nonce"], status, extra.get("DPoP-Nonce"))
            return status, {"Content-Type": "text/plain", **extra}, f"ok {self.accepted}".encode()

    def _log(self, method, path, body, proof_nonce, status, issued) -> None:
        self.exchanges.append(Exchange(method, path, body, proof_nonce, status, issued))

    def _verify(self, method: str, path: str, headers, token: str | None = ACCESS_TOKEN) -> dict:
        proofs = headers.get_all("DPoP") or []
        if len(proofs) != 1:
            raise ProofRefused(f"expected exactly one DPoP header, got {len(proofs)}")
        proof = proofs[0]
        try:
            header = jwt.get_unverified_header(proof)
        except jwt.PyJWTError as exc:
            raise ProofRefused(f"not a JWT: {exc}") from exc
        if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256":
            raise ProofRefused(f"typ/alg {header.get('typ')}/{header.get('alg')}")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or "d" in jwk:
            raise ProofRefused("the jwk header must be a public key")
        try:
            key = jwt.PyJWK(jwk, algorithm="ES256")
            claims = jwt.decode(
                proof,
                key=key.key,
                algorithms=["ES256"],
                options={"require": ["jti", "htm", "htu", "iat"], "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise ProofRefused(f"signature or claims: {exc}") from exc
        if claims["htm"] != method:
            raise ProofRefused(f"htm {claims['htm']} for a {method}")
        expected_htu = self.base_url + urlsplit(path).path
        if claims["htu"] != expected_htu:
            raise ProofRefused(f"htu {claims['htu']} is not {expected_htu}")
        if abs(claims["iat"] - time.time()) > IAT_WINDOW_SECONDS:
            raise ProofRefused("iat outside the accepted window")
        if claims["jti"] in self.seen_jtis:
            raise ProofRefused("jti replayed")
        self.seen_jtis.add(claims["jti"])
        if token is None:  # the token endpoint: a proof without `ath`
            if "ath" in claims:
                raise ProofRefused("ath on a token request")
            return claims
        if headers.get("Authorization") != f"DPoP {token}":
            raise ProofRefused("the DPoP-bound access token is missing or wrong")
        expected_ath = b64url(hashlib.sha256(token.encode("ascii")).digest())
        if claims.get("ath") != expected_ath:
            raise ProofRefused("ath does not match the access token")
        return claims


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server would offer
    disable_nagle_algorithm = True  # headers and body go out as two writes; do not wait 40 ms
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, payload = self.server.rules.handle(
            self.command, self.path, self.headers, body
        )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the exchanges are recorded by the rules; stderr stays quiet


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, rules: NonceResourceServer):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.rules = rules
        rules.base_url = f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def serve() -> Iterator:
    """Factory: `serve(rotate_every=8)` starts a resource server; all are stopped afterwards."""
    started: list[tuple[_Server, threading.Thread]] = []

    def start(**rules_options) -> NonceResourceServer:
        server = _Server(NonceResourceServer(**rules_options))
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        started.append((server, thread))
        return server.rules

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def new_client() -> tuple[Http, DPoPAuth]:
    return Http(), DPoPAuth(ProofFactory(DPoPKey.generate()), FixedToken())


def test_the_first_request_succeeds_after_exactly_one_nonce_challenge(serve):
    server = serve()
    http, auth = new_client()
    response = http.request("GET", server.url("/alice/notes.ttl"), auth=auth)
    assert response.status_code == 200
    assert http.read(response) == b"ok 1"
    assert server.statuses() == [401, 200]
    challenge, accepted = server.exchanges
    assert challenge.proof_nonce is None
    assert accepted.proof_nonce == challenge.issued_nonce
    assert [r.status_code for r in response.history] == [401]
    assert server.refusals == []


def test_a_learnt_nonce_is_reused_until_the_server_rotates_it(serve):
    server = serve(rotate_every=8)
    http, auth = new_client()
    for i in range(21):
        response = http.request("GET", server.url(f"/alice/r{i}?version={i}"), auth=auth)
        raise_for_status(response)
        http.read(response)
    # Accepted requests 8 and 16 rotate the nonce, so requests 9 and 17 meet one challenge each.
    assert server.statuses() == (
        [401, 200] + [200] * 7 + [401, 200] + [200] * 7 + [401, 200] + [200] * 4
    )
    assert server.accepted == 21
    assert len({e.proof_nonce for e in server.exchanges if e.status == 200}) == 3
    assert server.refusals == []


def test_a_nonce_announced_on_a_success_is_used_without_a_challenge(serve):
    server = serve(rotate_every=3, announce_new_nonce=True)
    http, auth = new_client()
    for i in range(10):
        raise_for_status(http.request("GET", server.url(f"/alice/r{i}"), auth=auth))
    assert server.statuses() == [401] + [200] * 10
    assert server.refusals == []


def test_a_post_is_resent_with_the_same_body_after_a_challenge(serve):
    server = serve()
    http, auth = new_client()
    body = b'<#it> <http://purl.org/dc/terms/title> "caf\xc3\xa9 \\"notes\\"" .\n'
    response = http.request(
        "POST",
        server.url("/alice/"),
        auth=auth,
        headers={"Content-Type": "text/turtle", "Slug": "notes"},
        data=body,
    )
    assert response.status_code == 201
    assert [(e.method, e.status, e.body) for e in server.exchanges] == [
        ("POST", 401, body),
        ("POST", 201, body),
    ]
    assert server.refusals == []


def test_a_server_that_always_wants_a_new_nonce_gets_two_requests_per_call_and_its_401(serve):
    server = serve(always_new_nonce=True)
    http, auth = new_client()
    for call in range(3):
        response = http.request("GET", server.url("/alice/notes.ttl"), auth=auth)
        assert response.status_code == 401
        assert len(server.exchanges) == 2 * (call + 1)
        with pytest.raises(errors.Unauthenticated, match=r"needs a signed-in identity.*\(401\)"):
            raise_for_status(response)
    assert server.statuses() == [401] * 6
    for first, retry in zip(server.exchanges[::2], server.exchanges[1::2], strict=True):
        assert retry.proof_nonce == first.issued_nonce  # the retry did use what it was given
    assert server.refusals == []


def test_the_server_really_refuses_proofs_that_break_the_rules(serve):
    """Guards the guard: the tests above mean something only if this server is strict."""
    server = serve()
    http = Http()
    proofs = ProofFactory(DPoPKey.generate())
    url = server.url("/alice/notes.ttl")
    token = {"Authorization": f"DPoP {ACCESS_TOKEN}"}

    def send(proof: str, headers: dict[str, str] = token) -> None:
        http.request("GET", url, headers={**headers, "DPoP": proof}).close()

    replayed = proofs.proof("GET", url, ACCESS_TOKEN)
    send(replayed)
    send(replayed)
    send(proofs.proof("GET", server.url("/alice/other.ttl"), ACCESS_TOKEN))
    send(proofs.proof("POST", url, ACCESS_TOKEN))
    send(proofs.proof("GET", url, "another-token"))
    send(proofs.proof("GET", url, ACCESS_TOKEN), headers={"Authorization": "DPoP stolen"})
    send(proofs.proof("GET", url))
    assert server.statuses() == [401] * 7
    assert server.exchanges[0].issued_nonce is not None  # the first was fine but for a nonce
    assert server.refusals == [
        "jti replayed",
        f"htu {server.url('/alice/other.ttl')} is not {url}",
        "htm POST for a GET",
        "ath does not match the access token",
        "the DPoP-bound access token is missing or wrong",
        "ath does not match the access token",
    ]


# --- Concurrency, server roles and rate limits ------------------------------------------------


def test_concurrent_threads_each_get_their_retry_with_the_nonce_of_their_own_challenge(serve):
    """Eight threads meet the same challenge at once. Each must retry with the nonce its own
    401 carried, even though another thread stored that same nonce a moment before."""
    threads_count = 8
    server = serve(hold_challenges=threads_count)
    http, auth = new_client()
    statuses: list[int] = []
    start = threading.Barrier(threads_count)

    def fetch(i: int) -> None:
        start.wait(timeout=30)
        response = http.request("GET", server.url(f"/alice/r{i}"), auth=auth)
        statuses.append(response.status_code)
        response.close()

    workers = [threading.Thread(target=fetch, args=(i,)) for i in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert statuses == [200] * threads_count
    assert sorted(server.statuses()) == [200] * threads_count + [401] * threads_count
    assert server.refusals == []


def test_token_endpoint_and_resource_nonces_on_one_origin_are_kept_apart(serve):
    """Like CSS, the identity provider and the pod share an origin but not a nonce: once
    each is learnt, alternating token and resource requests meet no further challenge."""
    server = serve()
    http, proofs = Http(), ProofFactory(DPoPKey.generate())
    as_auth, rs_auth = DPoPAuth(proofs), DPoPAuth(proofs, FixedToken())
    for _ in range(3):
        token = http.request(
            "POST", server.url("/.oidc/token"), auth=as_auth, data={"grant_type": "x"}
        )
        raise_for_status(token)
        raise_for_status(http.request("GET", server.url("/alice/notes.ttl"), auth=rs_auth))
    assert server.statuses() == [400, 200, 401, 200, 200, 200, 200, 200]
    assert server.refusals == []


def test_a_429_is_retried_after_the_wait_it_asks_for(serve):
    server = serve(too_many=2, retry_after="2")
    waits: list[float] = []
    http, auth = Http(sleep=waits.append), new_client()[1]
    response = http.request("GET", server.url("/alice/notes.ttl"), auth=auth)
    assert response.status_code == 200
    assert waits == [2.0, 2.0]
    assert server.statuses() == [429, 429, 401, 200]


def test_a_server_that_keeps_answering_429_gets_a_bounded_number_of_tries(serve):
    server = serve(too_many=100)
    waits: list[float] = []
    http, auth = Http(sleep=waits.append), new_client()[1]
    response = http.request("GET", server.url("/alice/notes.ttl"), auth=auth)
    with pytest.raises(errors.RateLimited, match=r"too many.*\(429\).*try again later"):
        raise_for_status(response)
    assert server.statuses() == [429] * 4
    assert waits == [1.0, 1.0, 1.0]  # no Retry-After: a short default pause


def test_a_429_asking_for_a_long_wait_is_reported_at_once_with_that_wait(serve):
    server = serve(too_many=100, retry_after="3600")
    waits: list[float] = []
    http, auth = Http(sleep=waits.append), new_client()[1]
    response = http.request("GET", server.url("/alice/notes.ttl"), auth=auth)
    with pytest.raises(errors.RateLimited, match="wait 3600 s") as refused:
        raise_for_status(response)
    assert refused.value.retry_after == 3600
    assert waits == []
    assert server.statuses() == [429]
