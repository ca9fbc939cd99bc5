"""The datacage's re-check right before each read, asked in shared batches (`BatchedRecheck`):
an answer is only ever one given after the read was about to start."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from server.datacage.recheck import BatchedRecheck


@dataclass(frozen=True)
class Person:
    iri: str


class ControlPlane:
    """Answers from `in_force` as it is when a question arrives; can hold the first one."""

    def __init__(self, in_force: set[str]):
        self.in_force = set(in_force)
        self.questions: list[list[str]] = []
        self.first_arrived = threading.Event()
        self.release_first = threading.Event()
        self.release_first.set()

    def ask(self, iris: list[str]) -> set[str]:
        self.questions.append(iris)
        answer = self.in_force & set(iris)  # taken when the question arrives
        if len(self.questions) == 1:
            self.first_arrived.set()
            assert self.release_first.wait(10)
        return answer


def in_thread(recheck: BatchedRecheck, person: Person, answers: dict) -> threading.Thread:
    thread = threading.Thread(
        target=lambda: answers.update({person: recheck.still_in_force(person)})
    )
    thread.start()
    return thread


def test_a_withdrawal_while_a_question_is_on_its_way_is_seen_by_whoever_asks_after_it():
    """The attack on a batching shortcut: Bob's read is about to start while a question
    (about Alice) is on its way; Bob withdraws meanwhile. An answer taken before Bob asked
    must not let him be read."""
    alice, bob = (
        Person("https://dc.example/consents/a/1"),
        Person("https://dc.example/consents/b/1"),
    )
    plane = ControlPlane({alice.iri, bob.iri})
    plane.release_first.clear()
    recheck = BatchedRecheck(plane.ask, lambda consent, url: None)
    answers: dict = {}
    first = in_thread(recheck, alice, answers)
    assert plane.first_arrived.wait(10)
    plane.in_force.discard(bob.iri)  # withdrawn while the question about Alice is out
    second = in_thread(recheck, bob, answers)
    plane.release_first.set()
    first.join(10)
    second.join(10)
    assert answers == {alice: True, bob: False}
    assert plane.questions == [[alice.iri], [bob.iri]]


def test_reads_about_to_start_together_share_one_question():
    people = [Person(f"https://dc.example/consents/{n}/1") for n in range(40)]
    plane = ControlPlane({p.iri for p in people[::2]})
    plane.release_first.clear()
    recheck = BatchedRecheck(plane.ask, lambda consent, url: None, max_asked=30)
    answers: dict = {}
    threads = [in_thread(recheck, people[0], answers)]
    assert plane.first_arrived.wait(10)
    threads += [in_thread(recheck, p, answers) for p in people[1:]]
    while recheck.waiting < 39:
        threading.Event().wait(0.01)
    plane.release_first.set()
    for thread in threads:
        thread.join(10)
    assert answers == {p: n % 2 == 0 for n, p in enumerate(people)}
    assert [len(q) for q in plane.questions] == [1, 30, 9]  # bounded, and in arrival order
    assert recheck.questions == 3


def test_a_failed_question_fails_every_read_waiting_on_it():
    def broken(iris: list[str]) -> set[str]:
        raise ConnectionError("control plane down")

    recheck = BatchedRecheck(broken, lambda consent, url: None)
    with pytest.raises(ConnectionError):
        recheck.still_in_force(Person("https://dc.example/consents/a/1"))
    with pytest.raises(ConnectionError):  # and the next read asks again, not stuck
        recheck.still_in_force(Person("https://dc.example/consents/a/1"))
