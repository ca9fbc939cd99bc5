"""Joint statistics over an intersection: right figures, and nothing over fewer than k people."""

from __future__ import annotations

import pytest

from datafuse import joint_statistics


def labels(*incomes):
    return [{"income": income} for income in incomes]


def test_count_sum_mean_and_bands_over_the_shared_individuals():
    incomes = [
        20_000,
        35_000,
        40_000,
        45_000,
        50_000,
        55_000,
        70_000,
        75_000,
        80_000,
        85_000,
        90_000,
    ]
    result = joint_statistics(labels(*incomes), "income", k=3, bands=[30_000, 60_000])
    by_kind = {(f.statistic, f.lower, f.upper): f for f in result.figures}
    assert by_kind[("count", None, None)].value == 11
    assert by_kind[("sum", None, None)].value == sum(incomes)
    assert by_kind[("mean", None, None)].value == pytest.approx(sum(incomes) / 11)
    assert by_kind[("histogram", 60_000, None)].value == 5
    # The lowest band holds one person: suppressed, not reported as 1. Alone it would be the
    # count less the other bands, so the next-smallest band (the first of two with five) goes too.
    assert ("histogram", None, 30_000) not in by_kind
    assert ("histogram", 30_000, 60_000) not in by_kind
    assert result.suppressed == 2
    assert all(f.individuals >= 3 for f in result.figures)


def test_everything_is_suppressed_when_the_intersection_is_under_k():
    result = joint_statistics(labels(10, 20, 30), "income", k=5, bands=[15])
    assert result.figures == []
    assert result.suppressed == 5  # count, sum, mean and two bands


def test_values_that_are_not_numbers_are_left_out_and_counted():
    result = joint_statistics(
        [*labels(1, 2, 3, 4, 5), {"income": "n/a"}, {"income": None}, {}, {"income": True}],
        "income",
        k=5,
        statistics=("count", "mean"),
    )
    assert [(f.statistic, f.value) for f in result.figures] == [("count", 5), ("mean", 3.0)]
    assert result.missing == 4


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="at least 1"):
        joint_statistics([], "income", k=0)
    with pytest.raises(ValueError, match="Unknown statistics"):
        joint_statistics([], "income", k=5, statistics=("median",))
