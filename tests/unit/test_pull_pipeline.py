"""The pull keeps the pods reading while it waits on the control plane, and still never reads a
person whose consent stopped counting before the question about them went out.

Two waits used to leave a pod server's places idle: each person's re-check (a round trip to
the control plane) held one of the server's places, and each page's prefilter question was
asked only once the page before was read. These tests pin both down without a network: the
scheduler and `pull_pages` with a fake pod and a fake control plane whose answers take time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.consent.model import PodResource
from server.datacage import job as job_module
from server.datacage import pull as pull_module
from server.datacage.control_plane import Job
from server.datacage.job import JobSettings, pull_pages
from server.datacage.pod_servers import PodServers, PullScheduler
from server.datacage.pull import PullLimits
from server.protocol.consents import JobConsent


def same_host() -> PodServers:
    return PodServers(resolve=lambda host: host)  # no DNS in unit tests


class Meter:
    """How many are inside, at most, and whether someone was re-checked while the server's
    places were all reading."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reading: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.rechecked_while_full = 0

    def enter(self, key: str) -> None:
        with self.lock:
            self.reading[key] = self.reading.get(key, 0) + 1
            self.most[key] = max(self.most.get(key, 0), self.reading[key])

    def leave(self, key: str) -> None:
        with self.lock:
            self.reading[key] -= 1


def test_people_are_re_checked_while_the_servers_places_are_reading():
    """Attack on throughput: with one person per place, every re-check round trip left a place
    idle. People ahead are re-checked while the places read, then queue for a place."""
    servers = same_host()
    urls = [f"https://a.example/{n}" for n in range(24)]
    meter = Meter()
    per_server = 2

    def work(index: int, pool: PullScheduler) -> None:
        time.sleep(0.01)  # the re-check's round trip, holding no place
        with meter.lock:  # answered while every place was reading: the round trip was hidden
            if meter.reading.get("a.example:443", 0) == per_server:
                meter.rechecked_while_full += 1
        with pool.slot(urls[index]):
            meter.enter("a.example:443")
            time.sleep(0.02)  # the read
            meter.leave("a.example:443")

    PullScheduler(servers, people_at_once=4, per_server=per_server, ahead=per_server).run(
        urls, work
    )
    assert meter.most == {"a.example:443": per_server}  # the request bound is never passed
    assert meter.rechecked_while_full > 0


def test_people_ahead_never_keep_a_thread_from_a_server_within_its_bound():
    """Attack: a slow server's people ahead must not take the threads the fast server's people
    need; they get a thread only when no server within its bound has anyone waiting."""
    servers = same_host()
    urls = [f"https://slow.example/{n}" for n in range(8)]
    urls += [f"https://fast.example/{n}" for n in range(16)]
    finished: dict[str, float] = {}
    began = time.monotonic()

    def work(index: int, pool: PullScheduler) -> None:
        url = urls[index]
        with pool.slot(url):
            time.sleep(0.15 if "slow" in url else 0.005)
        finished[url] = time.monotonic() - began

    PullScheduler(servers, people_at_once=6, per_server=2, ahead=2).run(urls, work)
    fast = max(t for u, t in finished.items() if "fast" in u)
    slow = max(t for u, t in finished.items() if "slow" in u)
    # The slow server needs 8 / 2 * 0.15 = 0.6 s however it is read; the fast one ~0.05 s.
    assert fast < 0.4 * slow, (fast, slow)


def test_no_one_is_taken_ahead_when_asked_for_none():
    servers = same_host()
    urls = [f"https://a.example/{n}" for n in range(12)]
    meter = Meter()

    def work(index: int, pool: PullScheduler) -> None:
        meter.enter("taken")
        time.sleep(0.005)
        meter.leave("taken")

    PullScheduler(servers, people_at_once=8, per_server=3).run(urls, work)
    assert meter.most == {"taken": 3}


@dataclass
class Read:
    body: bytes
    etag: str | None = '"1"'
    content_type: str | None = "text/turtle"


class Pod:
    def __init__(self, slow_s: float = 0.0) -> None:
        self.read: list[str] = []
        self.when: dict[str, float] = {}  # when each read ended
        self.lock = threading.Lock()
        self.slow_s = slow_s

    def get(self, url: str) -> Read:
        time.sleep(self.slow_s if "slow" in url else 0.005)
        with self.lock:
            self.read.append(url)
            self.when[url] = time.monotonic()
        return Read(b"<#me> <#p> 1 .\n")


class ControlPlane:
    """Answers `check` after a while; `withdraw` takes effect for questions asked after it."""

    def __init__(self, people: dict[str, JobConsent], delay_s: float = 0.05) -> None:
        self.people = people
        self.delay_s = delay_s
        self.withdrawn: set[str] = set()
        self.questions: list[tuple[float, float, list[str]]] = []  # (asked, answered, iris)
        self.lock = threading.Lock()
        self.on_answer = lambda iris: None

    def check(self, iris: list[str]) -> list[JobConsent]:
        asked = time.monotonic()
        with self.lock:
            gone = set(self.withdrawn)  # what counts is the state when the question arrives
        time.sleep(self.delay_s)
        answer = [self.people[i] for i in iris if i not in gone]
        with self.lock:
            self.questions.append((asked, time.monotonic(), list(iris)))
        self.on_answer(iris)
        return answer

    def record_refusal(self, consent, url: str) -> None:
        raise AssertionError(f"the pod refused {url}")


def world(count: int, servers=lambda n: "pod.example") -> tuple[Job, dict[str, JobConsent]]:
    people = {}
    for n in range(count):
        url = f"http://{servers(n)}/p{n}/record.ttl"
        iri = f"https://dc.example/consents/{n}"
        people[iri] = JobConsent(iri, f"{url}#me", (PodResource(url),))
    job = Job("run1", "https://dc.example/runs/run1", "https://dc.example/spaces/s", "S", 1,
              "sha256:00", {}, tuple(people))  # fmt: skip
    return job, people


def settings(tmp_path: Path) -> JobSettings:
    return JobSettings(
        tmp_path / "work",
        tmp_path / "results",
        pull=PullLimits(people_at_once=4, per_host=2),
        allow_plain_http_pods=True,
    )


def test_the_next_page_is_asked_about_while_this_page_is_read(tmp_path, monkeypatch):
    """Attack on throughput: each page's prefilter question used to wait for the page before
    to be read whole, and the pods waited for its answer."""
    monkeypatch.setattr(job_module, "PAGE", 10)
    job, people = world(30)
    plane, pod = ControlPlane(people), Pod()
    outcomes = pull_pages(job, pod, plane, settings(tmp_path), servers=same_host())
    assert sum(1 for o in outcomes if o.inputs) == 30
    page_questions = [q for q in plane.questions if len(q[2]) == 10]
    assert len(page_questions) == 3
    # The second and third pages were asked about before the page ahead of them was read.
    for number in (1, 2):
        ahead = page_questions[number - 1][2]
        read_whole = max(pod.when[people[iri].resources[0].url] for iri in ahead)
        assert page_questions[number][0] < read_whole


def test_a_pages_last_people_do_not_leave_another_server_idle(tmp_path, monkeypatch):
    """Attack on throughput: pages read one after the other left every server but the one
    holding a page's last people idle until that page was read whole."""
    monkeypatch.setattr(job_module, "PAGE", 10)
    job, people = world(20, servers=lambda n: "slow.example" if n < 10 else "fast.example")
    plane, pod = ControlPlane(people, delay_s=0.0), Pod(slow_s=0.1)
    pull_pages(job, pod, plane, settings(tmp_path), servers=same_host())
    slow = [t for url, t in pod.when.items() if "slow.example" in url]
    fast = [t for url, t in pod.when.items() if "fast.example" in url]
    assert len(slow) == len(fast) == 10
    assert max(fast) < max(slow)  # the second page was read while the first still was


def test_a_person_withdrawn_after_the_page_answer_asked_ahead_is_never_read(tmp_path, monkeypatch):
    """The page's answer, asked ahead, is older when its people are read: it is a prefilter
    only. Someone it still counted who withdraws right after it is not read."""
    monkeypatch.setattr(job_module, "PAGE", 10)
    job, people = world(20)
    plane, pod = ControlPlane(people), Pod()
    leaver = job.consent_iris[15]

    def withdraw_after_page_two(iris: list[str]) -> None:
        if iris == list(job.consent_iris[10:20]):
            with plane.lock:
                plane.withdrawn.add(leaver)

    plane.on_answer = withdraw_after_page_two
    outcomes = pull_pages(job, pod, plane, settings(tmp_path), servers=same_host())
    page_two = [q for q in plane.questions if q[2] == list(job.consent_iris[10:20])]
    assert page_two  # the page's answer counted the leaver (they withdrew after it)
    assert people[leaver].resources[0].url not in pod.read
    [gone] = [o for o in outcomes if o.consent.iri == leaver]
    assert gone.lapsed
    assert not gone.inputs
    assert sum(1 for o in outcomes if o.inputs) == 19


def test_a_failing_page_question_ends_the_pull_with_its_error(tmp_path, monkeypatch):
    monkeypatch.setattr(job_module, "PAGE", 10)
    job, people = world(20)
    plane, pod = ControlPlane(people, delay_s=0.0), Pod()
    original = plane.check

    def check(iris: list[str]):
        if iris == list(job.consent_iris[10:20]):
            raise RuntimeError("the control plane is gone")
        return original(iris)

    plane.check = check  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="control plane is gone"):
        pull_pages(job, pod, plane, settings(tmp_path), servers=same_host())


class Authority:
    """The re-check, answered at once; `withdraw` counts for the questions after it."""

    def __init__(self) -> None:
        self.withdrawn: set[str] = set()
        self.asked: list[str] = []
        self.lock = threading.Lock()

    def still_in_force(self, consent) -> bool:
        with self.lock:
            self.asked.append(consent.iri)
            return consent.iri not in self.withdrawn

    def record_refusal(self, consent, url: str) -> None:
        raise AssertionError(f"the pod refused {url}")


class SlowPod(Pod):
    def __init__(self, on_read=lambda url: None) -> None:
        super().__init__()
        self.on_read = on_read

    def get(self, url: str) -> Read:
        self.on_read(url)
        time.sleep(0.3)
        return super().get(url)


def test_an_answer_grown_old_waiting_for_a_place_is_asked_again(monkeypatch):
    """Attack on the promise: a person re-checked ahead waits for a place after the answer.
    Withdrawn while they wait, past the answer's age limit, they must not be read."""
    monkeypatch.setattr(pull_module, "MAX_ANSWER_AGE_S", 0.05)
    _job, people = world(2)
    first, second = people.values()
    authority = Authority()

    def withdraw_the_second_once_the_first_reads(url: str) -> None:
        if url == first.resources[0].url:
            time.sleep(0.1)  # by now the second person was answered and waits for the place
            with authority.lock:
                authority.withdrawn.add(second.iri)

    pod = SlowPod(withdraw_the_second_once_the_first_reads)
    outcomes = pull_module.pull(
        pod,
        authority,
        [first, second],
        PullLimits(people_at_once=2, per_host=1),
        allow_plain_http=True,
        servers=same_host(),
    )
    assert pod.read == [first.resources[0].url]
    assert outcomes[1].lapsed
    assert not outcomes[1].inputs
    assert authority.asked.count(second.iri) == 2  # answered ahead, then asked again


def test_a_fresh_answer_is_not_asked_again(monkeypatch):
    _job, people = world(6)
    authority, pod = Authority(), Pod()
    outcomes = pull_module.pull(
        pod,
        authority,
        list(people.values()),
        PullLimits(people_at_once=4, per_host=2),
        allow_plain_http=True,
        servers=same_host(),
    )
    assert all(o.inputs for o in outcomes)
    assert sorted(authority.asked) == sorted(people)  # once each
