"""Pull resilience against real local HTTP servers: retries with backoff on 5xx and timeouts,
a pod that is down fails only that person, a 403 is a withdrawal signal that is never retried,
and the per-host limit holds."""

from __future__ import annotations

import socket
import threading
import time

from werkzeug.wrappers import Request, Response

from connectors.solid import SolidClient
from server.consent.model import PodResource
from server.datacage.pull import PullLimits
from server.datacage.pull import pull as pull_over_any_transport
from server.protocol.consents import JobConsent
from tests.support.live_server import serve_wsgi


def pull(*args, **kwargs):
    """The pull, with the development setting: these test pods are plain-http servers."""
    return pull_over_any_transport(*args, allow_plain_http=True, **kwargs)


FAST = PullLimits(attempts=4, first_backoff_s=0.01, longest_backoff_s=0.05)


class Authority:
    """The control plane's two answers, kept in memory: every consent counts until refused."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.refused: list[tuple[str, str]] = []

    def still_in_force(self, consent) -> bool:
        self.asked.append(consent.iri)
        return True

    def record_refusal(self, consent, url: str) -> None:
        self.refused.append((consent.iri, url))


class Pod:
    """A WSGI pod: each path answers a scripted list of statuses, then 200 with an ETag."""

    def __init__(self, script: dict[str, list[int]], delay: float = 0.0):
        self.script = script
        self.delay = delay
        self.hits: dict[str, int] = {}
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        self.busy: list[tuple[float, float]] = []  # (start, end) of each answer

    def overlapped_with(self, other: Pod) -> bool:
        """Whether this pod answered while `other` was answering too, most of the time."""
        ours = (min(s for s, _ in self.busy), max(e for _, e in self.busy))
        theirs = (min(s for s, _ in other.busy), max(e for _, e in other.busy))
        both = min(ours[1], theirs[1]) - max(ours[0], theirs[0])
        return both > 0.5 * min(ours[1] - ours[0], theirs[1] - theirs[0])

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            self.hits[request.path] = self.hits.get(request.path, 0) + 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            statuses = self.script.get(request.path, [])
            status = statuses.pop(0) if statuses else 200
        began = time.monotonic()
        time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
            self.busy.append((began, time.monotonic()))
        headers = {"ETag": f'"v{self.hits[request.path]}"'} if status == 200 else {}
        body = b"order,amount\n1,2\n" if status == 200 else b"no"
        return Response(body, status, headers, content_type="text/csv")(environ, start_response)


def consent(n: int, *urls: str) -> JobConsent:
    return JobConsent(
        f"https://dc.example/consents/{n}/1",
        f"https://p{n}/#me",
        tuple(PodResource(u) for u in urls),
    )


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://localhost:{port}/orders.csv"  # nothing listens there any more


def test_server_errors_are_retried_and_a_down_pod_fails_only_its_person():
    pod = Pod({"/flaky.csv": [503, 500], "/gone.csv": [503, 503, 503, 503, 503]})
    with serve_wsgi(pod) as base:
        authority = Authority()
        outcomes = pull(
            SolidClient(),
            authority,
            [
                consent(1, base + "flaky.csv"),
                consent(2, dead_url()),
                consent(3, base + "gone.csv"),
                consent(4, base + "fine.csv"),
            ],
            FAST,
        )
    flaky, down, failing, fine = outcomes
    assert [i.version for i in flaky.inputs] == ['"v3"']  # read on the third attempt
    assert pod.hits["/flaky.csv"] == 3
    assert down.inputs == []
    assert "could not be read" in (down.skipped or "")
    assert failing.inputs == []
    assert pod.hits["/gone.csv"] == FAST.attempts
    assert fine.inputs[0].body == b"order,amount\n1,2\n"
    assert authority.refused == []
    assert len(authority.asked) == 4  # each consent re-checked right before its read


def test_a_refusal_is_recorded_once_and_never_retried():
    pod = Pod({"/private.csv": [403]})
    with serve_wsgi(pod) as base:
        authority = Authority()
        (outcome,) = pull(
            SolidClient(), authority, [consent(1, base + "ok.csv", base + "private.csv")], FAST
        )
    assert outcome.withdrawn
    assert outcome.inputs == []  # what was read before the refusal is not used either
    assert pod.hits["/private.csv"] == 1
    assert authority.refused == [("https://dc.example/consents/1/1", base + "private.csv")]


def test_no_more_than_the_per_host_limit_is_in_flight_at_once():
    pod = Pod({}, delay=0.05)
    with serve_wsgi(pod) as base:
        consents = [consent(n, base + f"r{n}.csv") for n in range(12)]
        outcomes = pull(
            SolidClient(), Authority(), consents, PullLimits(people_at_once=8, per_host=3)
        )
    assert all(o.inputs for o in outcomes)
    assert 1 < pod.most_in_flight <= 3


def test_a_pod_gate_refusing_the_attestation_is_not_a_withdrawal_and_not_retried():
    pod = Pod({"/gated.csv": [495]})
    with serve_wsgi(pod) as base:
        authority = Authority()
        (outcome,) = pull(SolidClient(), authority, [consent(1, base + "gated.csv")], FAST)
    assert outcome.attestation_refused
    assert not outcome.withdrawn
    assert authority.refused == []  # nobody's consent changes
    assert pod.hits["/gated.csv"] == 1
    assert "attestation" in (outcome.skipped or "")


def test_a_client_error_is_not_retried():
    pod = Pod({"/teapot.csv": [418]})
    with serve_wsgi(pod) as base:
        (outcome,) = pull(SolidClient(), Authority(), [consent(1, base + "teapot.csv")], FAST)
    assert outcome.inputs == []
    assert pod.hits["/teapot.csv"] == 1


def test_a_pod_on_plain_http_is_not_read_unless_the_development_setting_allows_it():
    pod = Pod({})
    with serve_wsgi(pod) as base:
        authority = Authority()
        (refused,) = pull_over_any_transport(
            SolidClient(), authority, [consent(1, base + "a.csv")], FAST
        )
        (allowed,) = pull(SolidClient(), authority, [consent(2, base + "b.csv")], FAST)
    assert refused.transport_refused
    assert refused.inputs == []
    assert "TLS" in (refused.skipped or "")
    assert not refused.withdrawn
    assert authority.refused == []
    assert pod.hits.get("/a.csv", 0) == 0  # refused before anything went out in clear
    assert allowed.plain_http
    assert allowed.inputs


def test_people_on_several_pod_servers_are_read_from_all_of_them_at_once():
    # People arrive grouped by provider; one server's per-host limit must not hold the others.
    first, second = Pod({}, delay=0.15), Pod({}, delay=0.15)
    with serve_wsgi(first) as a, serve_wsgi(second) as b:
        consents = [consent(n, a + f"a{n}.csv") for n in range(6)]
        consents += [consent(10 + n, b + f"b{n}.csv") for n in range(6)]
        outcomes = pull(
            SolidClient(), Authority(), consents, PullLimits(people_at_once=4, per_host=2)
        )
    assert [o.consent for o in outcomes] == consents  # the outcomes keep the consents' order
    assert all(o.inputs for o in outcomes)
    # Both servers were kept at their limit together (all four threads busy), not one by one.
    assert first.most_in_flight == second.most_in_flight == 2
    assert first.overlapped_with(second)
