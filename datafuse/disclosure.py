"""Secondary suppression: no suppressed figure may be worked out from the published ones.

Primary suppression leaves out each figure over fewer than ``k`` people. That alone is not
enough when figures are linked: a histogram's cells add up to the published count, so with a
single cell left out, ``count - Σ published cells`` gives it back (a band of exactly one
person, recovered), and the published sum then bounds that person's value.

The rule (the usual one in statistical disclosure control, in its k-threshold form):

1. **Counts.** In the relation ``count = Σ cells``, if any cell is suppressed, the suppressed
   cells together must cover at least ``k`` people, and there must be at least two of them.
   Otherwise the next-smallest published cell is suppressed too, and so on. What an attacker
   can derive is then the total of the suppressed cells: a figure over ``k`` people or more,
   which the space allows; how it splits between them stays open.
2. **The sum.** The published sum ties the cells too: people in a band have values inside its
   edges, so ``Σ cᵦ·lowerᵦ ≤ sum ≤ Σ cᵦ·upperᵦ`` can rule allocations out. Each suppressed cell
   that holds anyone must keep at least one other allocation consistent with every published
   figure (a *witness*: one person moved out of it or into it). When no witness is left, the
   next-smallest cell is suppressed; when every cell already is, the sum and the mean are (the
   count alone cannot pin a cell that is not alone). An empty suppressed cell may be shown to
   be empty: that is a statement about the whole group of k or more, like any published figure.
3. **A group's sum and mean follow its count**: they cover the same people, so they are kept or
   left out with it (``joint_statistics`` gives all three the same number of individuals).

The attacker assumed for rule 2 is a strong one: it knows the band edges, the smallest and the
largest value in the data, and that every value in a band lies between its edges. Nothing here
publishes a minimum or a maximum: each is one person's value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Band:
    """What an attacker can know of one histogram cell's people: their values' range."""

    low: Fraction
    high: Fraction


@dataclass(frozen=True)
class Protection:
    cells: frozenset[int]  # the histogram cells to leave out (indexes)
    sum_withheld: bool  # the sum and the mean must be left out too


def protect(
    counts: Sequence[int],
    bands: Sequence[Band],
    *,
    k: int,
    total_sum: Fraction | None,
) -> Protection:
    """The cells to suppress (primary and secondary) when the count ``Σ counts`` is published.

    ``total_sum`` is the exact published sum, or None when the sum (and mean) are not published.
    """
    suppressed = {index for index, count in enumerate(counts) if count < k}
    if not suppressed:
        return Protection(frozenset(), False)
    while _needs_more(counts, bands, suppressed, k, total_sum):
        published = [index for index in range(len(counts)) if index not in suppressed]
        if not published:
            # Every cell is out and a cell is still pinned: only the sum can be pinning it.
            return Protection(frozenset(suppressed), True)
        suppressed.add(min(published, key=lambda index: (counts[index], index)))
    return Protection(frozenset(suppressed), False)


def _needs_more(
    counts: Sequence[int],
    bands: Sequence[Band],
    suppressed: set[int],
    k: int,
    total_sum: Fraction | None,
) -> bool:
    if len(suppressed) < 2 or sum(counts[index] for index in suppressed) < k:
        return True
    if total_sum is None:
        return False
    # An empty cell may be pinned at 0: that says "none of these k or more people is in this
    # band", a statement about the group, not about anyone in it.
    return any(
        not _has_witness(counts, bands, suppressed, j, total_sum)
        for j in suppressed
        if counts[j] > 0
    )


def _has_witness(
    counts: Sequence[int],
    bands: Sequence[Band],
    suppressed: set[int],
    j: int,
    total_sum: Fraction,
) -> bool:
    """Another allocation of the suppressed people, consistent with the sum, that changes cell j."""
    for i in suppressed - {j}:
        for source, target in ((j, i), (i, j)):
            if counts[source] == 0:
                continue
            moved = list(counts)
            moved[source] -= 1
            moved[target] += 1
            if consistent(moved, bands, total_sum):
                return True
    return False


def consistent(counts: Sequence[int], bands: Sequence[Band], total_sum: Fraction) -> bool:
    """Could people counted so, each with a value inside their band, add up to ``total_sum``?"""
    if any(count and band.low > band.high for count, band in zip(counts, bands, strict=True)):
        return False  # a band the data's range does not reach holds nobody
    low = sum((count * band.low for count, band in zip(counts, bands, strict=True)), Fraction(0))
    high = sum((count * band.high for count, band in zip(counts, bands, strict=True)), Fraction(0))
    return low <= total_sum <= high
