"""bench/fleet.py's order of rounds: A-B-B-A blocks, so a load that drifts through the rounds
weighs on both sides of each ratio alike."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # scripts, no package

from fleet import abba


def test_two_rounds_of_each_side_are_one_mirrored_block():
    assert abba(2, "engine", "in-process") == ["engine", "in-process", "in-process", "engine"]
    assert abba(2, 1, 3) == [1, 3, 3, 1]


def test_more_rounds_repeat_the_block_and_give_each_side_as_many_turns():
    order = abba(5, "A", "B")
    assert order == ["A", "B", "B", "A", "A", "B", "B", "A", "A", "B"]
    assert order.count("A") == order.count("B") == 5


@pytest.mark.parametrize("rounds", [2, 4, 6])
def test_a_steady_drift_weighs_on_both_sides_alike(rounds):
    # A load rising by one unit a turn: over whole blocks both sides sum the same load.
    order = abba(rounds, "A", "B")
    load = {side: sum(turn for turn, s in enumerate(order) if s == side) for side in "AB"}
    assert load["A"] == load["B"]


def test_one_round_is_one_turn_of_each_and_none_is_refused():
    assert abba(1, "A", "B") == ["A", "B"]
    with pytest.raises(ValueError, match="at least one round"):
        abba(0, "A", "B")
