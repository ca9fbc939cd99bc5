"""Joint statistics over an intersection, with small groups suppressed before anything is said.

Datum's "who can afford the car": a dealer and a bank match their customers privately; the
bank's incomes of the *shared* customers are then summarised (count, sum, mean, a histogram
of bands). Every figure says how many distinct individuals it derives from; a figure over fewer
than ``k`` is suppressed: left out of the result, never reported as a small number, so the
output gate's rule (``dcg:individuals`` at least the space's k) holds by construction.

Suppression is primary (a figure under ``k``) and secondary (``datafuse.disclosure``): the
histogram's cells add up to the count, and the sum bounds them, so more cells (or the sum and
the mean) are left out until no suppressed figure can be worked out from the published ones.
Under a differential-privacy term (``datafuse.noise``) the figures kept are then noised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import pairwise

from datafuse.disclosure import Band, protect
from datafuse.noise import DifferentialPrivacy, Release, Sampler

STATISTICS = ("count", "sum", "mean", "histogram")


@dataclass(frozen=True)
class Figure:
    statistic: str  # one of STATISTICS ("histogram" is one figure per band)
    attribute: str
    value: float | int
    individuals: int
    lower: float | None = None  # a histogram band: lower <= value < upper
    upper: float | None = None


@dataclass(frozen=True)
class Statistics:
    figures: list[Figure]
    suppressed: int  # figures left out: under k, or because they would give one away
    missing: int  # labels without a usable value of the attribute
    privacy: DifferentialPrivacy | None = None  # the term the figures were noised under


def joint_statistics(
    labels: Sequence[Mapping[str, object]],
    attribute: str,
    *,
    k: int,
    bands: Sequence[float] = (),
    statistics: Sequence[str] = STATISTICS,
    privacy: DifferentialPrivacy | None = None,
    sampler: Sampler | None = None,
    population: int | None = None,
) -> Statistics:
    """Figures of ``attribute`` over ``labels`` (one per shared individual), none under ``k``.

    With ``privacy``, the figures kept carry Laplace noise calibrated to its epsilon
    (``sampler`` only for tests that need repeatable draws); each figure's ``individuals`` is
    then a noisy count too, capped at ``population`` (a public figure: how many people the run
    had on its own side) when given.
    """
    if k < 1:
        raise ValueError("k, the smallest group, must be at least 1.")
    unknown = sorted(set(statistics) - set(STATISTICS))
    if unknown:
        raise ValueError(f"Unknown statistics {unknown}; expected some of {list(STATISTICS)}.")
    values = [v for v in (_number(label.get(attribute)) for label in labels) if v is not None]
    missing = len(labels) - len(values)
    n = len(values)
    group: list[Figure] = []
    if "count" in statistics:
        group.append(Figure("count", attribute, n, n))
    if "sum" in statistics and n:
        group.append(Figure("sum", attribute, math.fsum(values), n))
    if "mean" in statistics and n:
        group.append(Figure("mean", attribute, math.fsum(values) / n, n))
    cells = _histogram(values, attribute, sorted(bands)) if "histogram" in statistics else []
    candidates = len(group) + len(cells)
    # The count, sum and mean cover the same n people: kept or left out together (n against k).
    kept = group if n >= k else []
    if cells:
        sum_published = n >= k and any(f.statistic in ("sum", "mean") for f in group)
        protection = protect(
            [int(cell.value) for cell in cells],
            _band_ranges(cells, values),
            k=k,
            total_sum=sum(map(Fraction, values), Fraction(0)) if sum_published else None,
        )
        if protection.sum_withheld:
            kept = [f for f in kept if f.statistic not in ("sum", "mean")]
        kept += [cell for index, cell in enumerate(cells) if index not in protection.cells]
    if privacy is not None and kept:
        kept = _noised(kept, values, privacy, sampler, k)
        if population is not None:
            kept = [replace(f, individuals=min(f.individuals, max(k, population))) for f in kept]
    return Statistics(kept, candidates - len(kept), missing, privacy)


def _histogram(values: list[float], attribute: str, bands: list[float]) -> list[Figure]:
    edges = [-math.inf, *bands, math.inf]
    figures = []
    for lower, upper in pairwise(edges):
        count = sum(1 for value in values if lower <= value < upper)
        figures.append(
            Figure(
                "histogram",
                attribute,
                count,
                count,
                None if lower == -math.inf else lower,
                None if upper == math.inf else upper,
            )
        )
    return figures


def _band_ranges(cells: list[Figure], values: list[float]) -> list[Band]:
    """What a strong attacker knows of each band's values: its edges, and for the open-ended
    lowest and highest bands, the data's own minimum and maximum (narrower ranges make the
    sum rule out more allocations, so the check errs on the side of suppressing)."""
    if not values:
        return [Band(Fraction(0), Fraction(0)) for _ in cells]
    low, high = Fraction(min(values)), Fraction(max(values))
    return [
        Band(
            Fraction(cell.lower) if cell.lower is not None else low,
            Fraction(cell.upper) if cell.upper is not None else high,
        )
        for cell in cells
    ]


def _noised(
    kept: list[Figure],
    values: list[float],
    term: DifferentialPrivacy,
    sampler: Sampler | None,
    k: int,
) -> list[Figure]:
    """The kept figures with noise; each figure's individuals becomes a noisy count too.

    A figure's ``individuals`` (at least k, since the true count is) is post-processed from
    the noisy count, so publishing it costs no extra budget: never the true count.
    """
    kinds = {f.statistic for f in kept}
    families = [
        family
        for family, needed in (
            ("count", bool(kinds & {"count", "mean"})),
            ("sum", bool(kinds & {"sum", "mean"})),
            ("histogram", "histogram" in kinds),
        )
        if needed
    ]
    release = Release(term, families, sampler)
    n = len(values)
    noisy_n = max(0, release.count(n)) if "count" in families else None
    noisy_sum = (
        release.sum(math.fsum(release.clamp(v) for v in values)) if "sum" in families else None
    )
    cells = [f for f in kept if f.statistic == "histogram"]
    noisy_cells = release.histogram([int(f.value) for f in cells]) if cells else []
    by_cell = {id(cell): max(0, value) for cell, value in zip(cells, noisy_cells, strict=True)}
    group_individuals = max(k, noisy_n if noisy_n is not None else k)
    out = []
    for figure in kept:
        if figure.statistic == "count":
            out.append(replace(figure, value=noisy_n, individuals=group_individuals))
        elif figure.statistic == "sum":
            out.append(replace(figure, value=noisy_sum, individuals=group_individuals))
        elif figure.statistic == "mean":
            mean = release.clamp(noisy_sum / noisy_n) if noisy_n else release.clamp(0.0)
            out.append(replace(figure, value=mean, individuals=group_individuals))
        else:
            value = by_cell[id(figure)]
            out.append(replace(figure, value=value, individuals=max(k, value)))
    return out


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
