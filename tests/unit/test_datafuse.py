"""DataFuse's matching: the same answers as plain sets, for n parties, in both modes and groups."""

from __future__ import annotations

import secrets

import pytest

from datafuse import GROUPS, X25519, PartySet, match, normalise_email, normalise_emails
from datafuse.groups import BlindingError
from datafuse.parallel import parallel_map
from datafuse.party import Party


def test_both_groups_are_offered_with_the_test_extra():
    # rbcl is in the test extra, so ristretto255 is tested below beside the X25519 default.
    assert sorted(GROUPS) == ["ristretto255", "x25519"]


def emails(prefix: str, numbers) -> list[str]:
    return [f"{prefix}{n}@example.org" for n in numbers]


@pytest.mark.parametrize(
    ("value", "plus", "expected"),
    [
        ("  Ann.Lee@Example.ORG ", False, "ann.lee@example.org"),
        ("mailto:ann@example.org", False, "ann@example.org"),
        ("MAILTO: ann@example.org", False, "ann@example.org"),
        ("ann+shop@example.org", False, "ann+shop@example.org"),
        ("ann+shop@example.org", True, "ann@example.org"),
        ("+shop@example.org", True, None),
        ("not an address", False, None),
        ("ann@localhost", False, None),
        ("a@b@example.org", False, None),
        ("Ame\u0301lie@example.org", False, "am\u00e9lie@example.org"),  # NFC
    ],
)
def test_email_normalisation(value, plus, expected):
    assert normalise_email(value, plus_addressing=plus) == expected


def test_normalised_lists_are_distinct_and_keep_first_seen_order():
    values = ["B@x.org", "a@x.org", " b@X.org", "nope", "a+1@x.org"]
    assert normalise_emails(values) == ["b@x.org", "a@x.org", "a+1@x.org"]
    assert normalise_emails(values, plus_addressing=True) == ["b@x.org", "a@x.org"]


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_two_parties_find_exactly_the_plain_intersection(group):
    first, second = emails("c", range(0, 300)), emails("c", range(250, 700))
    found = match([PartySet("a", first), PartySet("b", second)], group=GROUPS[group])
    assert found.size == len(set(first) & set(second)) == 50
    assert found.party_sizes == {"a": 300, "b": 450}
    assert found.multiplications == 2 * (300 + 450)
    assert found.labels is None
    assert found.group == group


def test_three_parties_intersect_all_three_sets():
    sets = [emails("c", range(0, 400)), emails("c", range(100, 500)), emails("c", range(350, 900))]
    found = match([PartySet(str(i), s) for i, s in enumerate(sets)])
    assert found.size == len(set(sets[0]) & set(sets[1]) & set(sets[2])) == 50
    assert found.multiplications == 3 * sum(map(len, sets))


def test_labelled_mode_returns_the_labels_of_the_shared_identifiers_only():
    bank = emails("c", range(0, 200))
    incomes = [{"income": 1000 * n} for n in range(200)]
    dealer = emails("c", range(150, 400))
    found = match([PartySet("dealer", dealer), PartySet("bank", bank, incomes)], labels_from="bank")
    assert found.size == 50
    assert sorted(label["income"] for label in found.labels) == [1000 * n for n in range(150, 200)]


def test_duplicates_count_once_and_the_first_label_wins():
    first = PartySet("a", ["x@e.org", "x@e.org", "y@e.org"], [{"v": 1}, {"v": 2}, {"v": 3}])
    found = match([first, PartySet("b", ["x@e.org", "x@e.org"])], labels_from="a")
    assert found.size == 1
    assert found.labels == [{"v": 1}]


def test_bad_matches_are_refused_in_plain_words():
    with pytest.raises(ValueError, match="at least two parties"):
        match([PartySet("a", ["x@e.org"])])
    with pytest.raises(ValueError, match="name of its own"):
        match([PartySet("a", []), PartySet("a", [])])
    with pytest.raises(ValueError, match="with labels attached"):
        match([PartySet("a", []), PartySet("b", [])], labels_from="a")


def test_blinding_commutes_and_differs_per_key():
    a, b = Party("a"), Party("b")
    element = [X25519.hash_to_element("ann@example.org")]
    assert b.blind(a.blind(element)) == a.blind(b.blind(element))
    assert a.blind(element) != b.blind(element)
    # The same address under a new run's key blinds to something else: nothing links runs.
    assert Party("a").blind(element) != a.blind(element)


def test_keys_are_fresh_per_party_and_unusable_once_destroyed():
    with Party("a") as party:
        party.blind_own(["ann@example.org"])
    with pytest.raises(RuntimeError, match="destroyed"):
        party.blind_own(["ann@example.org"])
    assert not any(party._key._secret)  # the bytes we hold are zeroed


def test_a_low_order_point_is_refused_not_blinded_to_zero():
    with pytest.raises(BlindingError):
        Party("a").blind([bytes(32)])  # u = 0 has order 2: every clamped scalar sends it to 0


def test_parallel_blinding_equals_serial_blinding():
    items = [X25519.hash_to_element(f"p{n}@e.org") for n in range(5000)]
    secret = secrets.token_bytes(32)
    serial = Party("a", secret=secret, workers=1).blind(items)
    assert Party("a", secret=secret, workers=3).blind(items) == serial
    assert parallel_map(lambda chunk: list(chunk), items, 32, 4) == items
