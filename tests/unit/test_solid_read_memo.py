"""`ReadMemo`: reads kept per signed-in WebID and URL; a write forgets what it may change."""

from __future__ import annotations

import pytest

from connectors.solid.reads import ReadMemo

POD = "https://pod.example/ana/"


def reader(value: str, calls: list[str]):
    def read() -> str:
        calls.append(value)
        return value

    return read


def test_one_read_per_kind_identity_and_url():
    memo, calls = ReadMemo(), []
    assert memo.once("head", "ana", POD, reader("a", calls)) == "a"
    assert memo.once("head", "ana", POD, reader("b", calls)) == "a"
    assert calls == ["a"]


def test_another_identity_never_gets_what_one_read():
    """The same client object signed in as someone else (or asking for another WebID's
    storage) reads for itself: one person's storage is never another's."""
    memo, calls = ReadMemo(), []
    memo.once("storage", "https://id.example/ana#me", POD, reader(POD, calls))
    theirs = memo.once(
        "storage", "https://id.example/bob#me", POD, reader("https://pod.example/bob/", calls)
    )
    assert theirs == "https://pod.example/bob/"
    assert len(calls) == 2


def test_a_write_forgets_the_document_every_fragment_of_it_and_what_is_under_a_container():
    memo, calls = ReadMemo(), []
    for url in (POD + "profile/card#me", POD + "profile/card", POD + "a/b.ttl", POD + "c.ttl"):
        memo.once("head", "ana", url, reader(url, calls))
    memo.forget(POD + "profile/card")
    assert len(memo) == 2
    memo.forget(POD + "a/")
    assert len(memo) == 1
    memo.forget(POD + "a")  # not a container: a sibling document, not what is under a/
    assert len(memo) == 1


def test_a_failed_read_is_not_kept():
    memo, calls = ReadMemo(), []

    def refused() -> str:
        calls.append("x")
        raise PermissionError("refused")

    for _ in range(2):
        with pytest.raises(PermissionError):
            memo.once("head", "ana", POD, refused)
    assert calls == ["x", "x"]
    assert len(memo) == 0
