"""An attacker solves for suppressed figures from every figure joint_statistics publishes.

The attacker knows the band edges, k, and the range every value lies in (here 0 to 60, the
data sets' own domain: an income is not negative, nor above some public ceiling); it treats
the values in a band as anywhere between the band's edges. From the published count (or sum /
mean), the published histogram cells and the published sum, it enumerates every allocation of
the remaining people to the suppressed cells that is consistent with all of them
(non-negative counts that add up, and a sum each allocation can reach with every value inside
its band). It wins when

- a suppressed cell takes the same number of people in every consistent allocation (it is
  pinned; an empty cell shown to be empty only counts when the group is under k: that it is
  empty is otherwise a statement about k people or more, like any published figure), or
- the suppressed cells together hold fewer than k people (a derived figure the space forbids);
  with one person, the published sum then bounds that person's value.

Random data sets come from hypothesis; the same attack on today's suppression alone wins.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datafuse import joint_statistics
from datafuse.stats import Statistics

EDGES = (10, 20, 30, 40, 50)  # candidate band edges
DOMAIN = (0, 60)  # every value lies in it, and the attacker knows so


@dataclass(frozen=True)
class Finding:
    what: str

    def __str__(self) -> str:
        return self.what


def compositions(total: int, parts: int):
    """Every way to put ``total`` people into ``parts`` cells (stars and bars)."""
    if parts == 0:
        if total == 0:
            yield ()
        return
    for bars in itertools.combinations(range(total + parts - 1), parts - 1):
        cuts = (-1, *bars, total + parts - 1)
        yield tuple(cuts[i + 1] - cuts[i] - 1 for i in range(parts))


def attack(result: Statistics, edges: list[int], k: int, low: int, high: int) -> list[Finding]:
    published = {(f.statistic, f.lower, f.upper): f.value for f in result.figures}
    count = published.get(("count", None, None))
    total = published.get(("sum", None, None))
    mean = published.get(("mean", None, None))
    if count is None and total is not None and mean:
        count = round(total / mean)
    if total is None and mean is not None and count is not None:
        total = mean * count
    if count is None:
        return []  # nothing ties the cells to anything
    cells = list(itertools.pairwise([None, *edges, None]))
    # What the attacker knows of a value in each band: whole numbers, inside the data's range.
    ranges = [
        (max(low, lower if lower is not None else low), min(high, high if upper is None else upper))
        for lower, upper in cells
    ]
    known = {i: published.get(("histogram", lo, up)) for i, (lo, up) in enumerate(cells)}
    hidden = [i for i, value in known.items() if value is None]
    if not hidden:
        return []
    rest = int(count) - sum(int(v) for v in known.values() if v is not None)
    feasible = []
    for guess in compositions(rest, len(hidden)):
        allocation = dict(zip(hidden, guess, strict=True))
        counts = {**{i: int(v) for i, v in known.items() if v is not None}, **allocation}
        if any(counts[i] and ranges[i][0] > ranges[i][1] for i in counts):
            continue
        if total is not None:
            least = sum(counts[i] * ranges[i][0] for i in counts)
            most = sum(counts[i] * ranges[i][1] for i in counts)
            if not least <= Fraction(total) <= most:
                continue
        feasible.append(allocation)
    assert feasible, "the published figures contradict each other"
    findings = []
    for i in hidden:
        values = {allocation[i] for allocation in feasible}
        if len(values) == 1 and values != {0}:
            findings.append(Finding(f"cell {cells[i]} is pinned to {values.pop()}"))
        elif len(values) == 1 and 0 < rest < k:
            findings.append(Finding(f"cell {cells[i]} is shown empty in a group under k"))
    if 0 < rest < k:
        findings.append(Finding(f"the suppressed cells hold {rest} people, fewer than k={k}"))
        if rest == 1 and total is not None:
            others_low = sum(int(v) * ranges[i][0] for i, v in known.items() if v is not None)
            others_high = sum(int(v) * ranges[i][1] for i, v in known.items() if v is not None)
            floor = min(ranges[i][0] for i in hidden)
            ceiling = max(ranges[i][1] for i in hidden)
            bound = (max(floor, total - others_high), min(ceiling, total - others_low))
            if bound[1] - bound[0] < high - low:
                findings.append(Finding(f"that person's value lies in {bound}"))
    return findings


data_sets = st.lists(st.integers(*DOMAIN), min_size=0, max_size=24)
band_edges = st.lists(st.sampled_from(EDGES), min_size=1, max_size=3, unique=True).map(sorted)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=data_sets, edges=band_edges, k=st.integers(2, 6))
@example(values=[5, 12, 14, 15, 16, 17, 18, 25, 26, 27, 28, 29, 55], edges=[20, 50], k=5)
@example(values=[0, 0, 0, 0, 0], edges=[30], k=5)
def test_no_suppressed_figure_can_be_worked_out(values, edges, k):
    result = joint_statistics([{"v": v} for v in values], "v", k=k, bands=edges)
    assert all(f.individuals >= k for f in result.figures)
    findings = attack(result, edges, k, *DOMAIN)
    assert not findings, "; ".join(map(str, findings))


def test_the_issue_example_a_band_of_one_is_no_longer_recovered():
    # k = 5: one customer earns over 90 000; the other bands and the count were published.
    incomes = [20_000] * 6 + [45_000] * 7 + [70_000] * 5 + [250_000]
    result = joint_statistics(
        [{"income": v} for v in incomes], "income", k=5, bands=[30_000, 60_000, 90_000]
    )
    kept = {(f.statistic, f.lower, f.upper) for f in result.figures}
    assert ("histogram", 90_000, None) not in kept
    # Its partner in suppression is the next-smallest band (five people).
    assert ("histogram", 60_000, 90_000) not in kept
    assert {("count", None, None), ("sum", None, None)} <= kept
    assert not attack(result, [30_000, 60_000, 90_000], 5, 0, 1_000_000)
    assert math.isclose(sum(incomes), dict(((f.statistic), f.value) for f in result.figures)["sum"])


def test_when_the_sum_would_pin_a_cell_the_sum_and_the_mean_are_left_out():
    # Five people all at 0, bands split at 30: every band is suppressed (the empty one needs a
    # partner), but a published sum of 0 would put all five in the lower band.
    result = joint_statistics([{"v": 0}] * 5, "v", k=5, bands=[30])
    assert [f.statistic for f in result.figures] == ["count"]
    assert result.suppressed == 4  # sum, mean and both bands
    assert not attack(result, [30], 5, *DOMAIN)
    # Spread out, the same five leave the sum unable to pin anything: it stays.
    spread = joint_statistics([{"v": v} for v in (0, 10, 20, 40, 50)], "v", k=5, bands=[30])
    assert [f.statistic for f in spread.figures] == ["count", "sum", "mean"]
