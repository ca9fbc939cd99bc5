"""Joint statistics over an intersection, with small groups suppressed before anything is said.

Datum's "who can afford the car": a dealer and a bank match their customers privately; the
bank's incomes of the *shared* customers are then summarised (count, sum, mean, a histogram
of bands). Every figure says how many distinct individuals it derives from; a figure over fewer
than ``k`` is suppressed: left out of the result, never reported as a small number, so the
output gate's rule (``dcg:individuals`` at least the space's k) holds by construction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

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
    suppressed: int  # figures left out because they covered fewer than k individuals
    missing: int  # labels without a usable value of the attribute


def joint_statistics(
    labels: Sequence[Mapping[str, object]],
    attribute: str,
    *,
    k: int,
    bands: Sequence[float] = (),
    statistics: Sequence[str] = STATISTICS,
) -> Statistics:
    """Figures of ``attribute`` over ``labels`` (one per shared individual), none under ``k``."""
    if k < 1:
        raise ValueError("k, the smallest group, must be at least 1.")
    unknown = sorted(set(statistics) - set(STATISTICS))
    if unknown:
        raise ValueError(f"Unknown statistics {unknown}; expected some of {list(STATISTICS)}.")
    values = [v for v in (_number(label.get(attribute)) for label in labels) if v is not None]
    missing = len(labels) - len(values)
    candidates: list[Figure] = []
    n = len(values)
    if "count" in statistics:
        candidates.append(Figure("count", attribute, n, n))
    if "sum" in statistics and n:
        candidates.append(Figure("sum", attribute, math.fsum(values), n))
    if "mean" in statistics and n:
        candidates.append(Figure("mean", attribute, math.fsum(values) / n, n))
    if "histogram" in statistics:
        candidates += _histogram(values, attribute, sorted(bands))
    kept = [figure for figure in candidates if figure.individuals >= k]
    return Statistics(kept, len(candidates) - len(kept), missing)


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


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
