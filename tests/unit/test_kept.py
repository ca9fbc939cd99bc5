"""What the pages keep: rendered pages bounded by count and by their total length, least
recently used dropped first, a page too long for the whole budget never kept; and the latest
record per space, handed out only under the stamp it was read under."""

from __future__ import annotations

from server.dashboard.kept import Kept, Latest


def made(text: str, log: list[str]):
    def make() -> str:
        log.append(text)
        return text

    return make


def test_a_kept_result_is_not_made_again():
    kept, log = Kept[str](4), []
    assert kept.get_or_make("a", made("one", log)) == "one"
    assert kept.get_or_make("a", made("two", log)) == "one"
    assert log == ["one"]


def test_the_least_recently_used_goes_first_when_the_count_is_full():
    kept, log = Kept[str](2), []
    kept.get_or_make("a", made("A", log))
    kept.get_or_make("b", made("B", log))
    kept.get_or_make("a", made("A", log))  # used again: "b" is now the oldest
    kept.get_or_make("c", made("C", log))
    assert len(kept) == 2
    kept.get_or_make("a", made("A", log))
    kept.get_or_make("b", made("B", log))
    assert log == ["A", "B", "C", "B"]


def test_long_pages_are_dropped_to_stay_within_the_budget():
    kept, log = Kept[str](100, budget=10), []
    kept.get_or_make("a", made("x" * 4, log))
    kept.get_or_make("b", made("y" * 4, log))
    kept.get_or_make("c", made("z" * 4, log))  # 12 characters: the oldest goes
    assert len(kept) == 2
    assert kept.held == 8
    kept.get_or_make("a", made("x" * 4, log))
    assert log.count("x" * 4) == 2


def test_a_page_longer_than_the_whole_budget_is_returned_but_never_kept():
    kept, log = Kept[str](100, budget=10), []
    kept.get_or_make("small", made("s", log))
    huge = "h" * 11
    assert kept.get_or_make("huge", made(huge, log)) == huge
    assert kept.get_or_make("huge", made(huge, log)) == huge
    assert log == ["s", huge, huge]
    assert len(kept) == 1  # and it pushed nothing out
    assert kept.held == 1


def test_two_threads_making_the_same_key_hold_it_once():
    """Results are made outside the lock, so another thread may keep the same key meanwhile:
    here the maker itself does, as that thread would."""
    kept = Kept[str](10, budget=100)

    def make_while_another_keeps_it() -> str:
        kept.get_or_make("a", lambda: "abc")
        return "abc"

    kept.get_or_make("a", make_while_another_keeps_it)
    assert len(kept) == 1
    assert kept.held == 3


def test_the_latest_value_is_handed_out_only_for_its_own_stamp():
    latest = Latest[str](2)
    latest.put("space-a", ("rev", 1), "record 1")
    assert latest.get("space-a", ("rev", 1)) == "record 1"
    assert latest.get("space-a", ("rev", 2)) is None  # the store moved on: read again
    latest.put("space-a", ("rev", 2), "record 2")
    assert latest.get("space-a", ("rev", 1)) is None
    latest.put("space-b", 1, "b")
    latest.get("space-a", ("rev", 2))  # used: "space-b" is now the oldest
    latest.put("space-c", 1, "c")
    assert len(latest) == 2
    assert latest.get("space-b", 1) is None
    assert latest.get("space-a", ("rev", 2)) == "record 2"
