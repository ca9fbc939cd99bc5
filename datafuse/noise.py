"""Differential privacy for joint statistics: calibrated Laplace noise through OpenDP.

A space may carry a differential-privacy term (``DifferentialPrivacy``): a privacy budget
``epsilon`` for each run, and the bounds every value is clamped to before it is summed. The
budget is split evenly between the families of figures released (the count, the sum, the
histogram); a mean is the noisy sum over the noisy count, which costs nothing more
(post-processing). Sensitivities, for one person added or removed: a count 1, a whole
histogram 1 (a person is in one band), a clamped sum ``max(|lower|, |upper|)``.

OpenDP (PyPI ``opendp``) calibrates each scale from its own privacy map (a binary search for
the smallest scale whose map stays within the share of epsilon, floating-point care
included) and draws the noise: discrete Laplace for counts, Laplace for the sum, from a
cryptographically secure generator that cannot be seeded. Tests that need repeatable draws
pass a ``Sampler`` of their own; nothing here offers one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

LAPLACE = "laplace"
MECHANISMS = (LAPLACE,)


class PrivacyTermError(ValueError):
    """A differential-privacy term that cannot be honoured, in words its author understands."""


@dataclass(frozen=True)
class DifferentialPrivacy:
    """A space's differential-privacy term, as approved by its participants."""

    epsilon: float  # the budget of one run, > 0
    lower: float  # every value is clamped to [lower, upper] before it is summed
    upper: float
    mechanism: str = LAPLACE

    def check(self) -> DifferentialPrivacy:
        problems = term_problems(self.epsilon, self.lower, self.upper, self.mechanism)
        if problems:
            raise PrivacyTermError(
                " ".join(message for messages in problems.values() for message in messages)
            )
        return self

    def as_json(self) -> dict[str, object]:
        return {
            "mechanism": self.mechanism,
            "epsilon": self.epsilon,
            "lower": self.lower,
            "upper": self.upper,
        }

    @classmethod
    def from_json(cls, body: object) -> DifferentialPrivacy:
        if not isinstance(body, dict):
            raise PrivacyTermError("The differential-privacy term must be an object.")
        numbers = {}
        for name in ("epsilon", "lower", "upper"):
            value = body.get(name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise PrivacyTermError(f"The differential-privacy term needs a number {name}.")
            numbers[name] = float(value)
        return cls(mechanism=str(body.get("mechanism", LAPLACE)), **numbers).check()


# The largest epsilon offered: beyond it, the noise no longer protects anyone meaningfully.
MOST_EPSILON = 10.0
# Clamping bounds beyond this magnitude make the sum's noise (scaled to them) useless.
MOST_BOUND = 1e12


def term_problems(
    epsilon: object, lower: object, upper: object, mechanism: object = LAPLACE
) -> dict[str, list[str]]:
    """Problems with a term, by field; empty when it can be honoured."""
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    if mechanism not in MECHANISMS:
        add("dp_mechanism", f"The noise must be one of {', '.join(MECHANISMS)}.")
    if not _number(epsilon):
        add("dp_epsilon", "Give epsilon as a number, such as 1.0.")
    elif not 0 < float(epsilon) <= MOST_EPSILON:  # type: ignore[arg-type]
        add(
            "dp_epsilon",
            f"Epsilon must be more than 0 and at most {MOST_EPSILON:g}: the smaller it is, "
            "the more noise and the better each person is hidden.",
        )
    for field, value in (("dp_lower", lower), ("dp_upper", upper)):
        if not _number(value):
            add(field, "Give the bound as a number, in the unit of the values summed.")
        elif abs(float(value)) > MOST_BOUND:  # type: ignore[arg-type]
            add(field, f"Keep the bound within ±{MOST_BOUND:.0e}.")
    bounds_read = "dp_lower" not in problems and "dp_upper" not in problems
    if bounds_read and not float(lower) < float(upper):  # type: ignore[arg-type]
        add("dp_upper", "The upper bound must be more than the lower bound.")
    return problems


def _number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


class Sampler(Protocol):
    """Draws noise at a given scale: OpenDP's in production, a seeded one in some tests."""

    def integers(self, values: Sequence[int], scale: float) -> list[int]: ...
    def real(self, value: float, scale: float) -> float: ...


@dataclass(frozen=True)
class Scales:
    count: float  # discrete Laplace scale for the count
    histogram: float  # for each cell of the histogram (L1 sensitivity 1 across cells)
    sum: float  # Laplace scale for the clamped sum
    share: float  # the epsilon of each family


class Release:
    """Noisy figures for one run under ``term``; ``families`` are the ones released."""

    def __init__(
        self, term: DifferentialPrivacy, families: Sequence[str], sampler: Sampler | None = None
    ) -> None:
        self.term = term.check()
        self.families = tuple(families)
        if not self.families:
            raise PrivacyTermError("Nothing to release under the differential-privacy term.")
        self.sampler = sampler or OpenDPSampler()
        self.scales = calibrate(term, len(self.families))

    def clamp(self, value: float) -> float:
        return min(self.term.upper, max(self.term.lower, value))

    def count(self, value: int) -> int:
        return self.sampler.integers([value], self.scales.count)[0]

    def histogram(self, values: Sequence[int]) -> list[int]:
        return self.sampler.integers(values, self.scales.histogram)

    def sum(self, clamped_sum: float) -> float:
        return self.sampler.real(clamped_sum, self.scales.sum)


def sum_sensitivity(term: DifferentialPrivacy) -> float:
    return max(abs(term.lower), abs(term.upper))


@lru_cache(maxsize=32)
def calibrate(term: DifferentialPrivacy, families: int) -> Scales:
    """The smallest scales OpenDP proves private for each family's share of epsilon."""
    share = term.epsilon / families
    count = _search(_integer_laplace(vector=False), 1, share)
    histogram = _search(_integer_laplace(vector=True), 1, share)
    sensitivity = sum_sensitivity(term)
    total = _search(_real_laplace(), sensitivity, share) if sensitivity > 0 else 0.0
    return Scales(count=count, histogram=histogram, sum=total, share=share)


def _search(make: Callable[[float], object], d_in: float, d_out: float) -> float:
    dp = _opendp()
    return float(dp.binary_search_param(make, d_in=d_in, d_out=d_out))


@lru_cache(maxsize=8)
def _integer_laplace(*, vector: bool) -> Callable[[float], object]:
    dp = _opendp()
    if vector:
        domain, metric = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")
    else:
        domain, metric = dp.atom_domain(T="i64"), dp.absolute_distance(T="i64")
    return lambda scale: dp.m.make_laplace(domain, metric, scale)


@lru_cache(maxsize=8)
def _real_laplace(*, vector: bool = False) -> Callable[[float], object]:
    dp = _opendp()
    atom = dp.atom_domain(T=float, nan=False)
    if vector:
        domain, metric = dp.vector_domain(atom), dp.l1_distance(T=float)
    else:
        domain, metric = atom, dp.absolute_distance(T=float)
    return lambda scale: dp.m.make_laplace(domain, metric, scale)


class OpenDPSampler:
    """OpenDP's own samplers: exact discrete Laplace for integers, Laplace for reals."""

    def integers(self, values: Sequence[int], scale: float) -> list[int]:
        if scale == 0:
            return list(values)
        return list(_integer_laplace(vector=True)(scale)([int(v) for v in values]))

    def real(self, value: float, scale: float) -> float:
        return self.reals([value], scale)[0]

    def reals(self, values: Sequence[float], scale: float) -> list[float]:
        if scale == 0:
            return list(values)
        return [float(v) for v in _real_laplace(vector=True)(scale)([float(v) for v in values])]


def _opendp():
    # Imported on first use: the library is large, and runs without the term never need it.
    try:
        import opendp.prelude as dp
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise PrivacyTermError(
            "This installation cannot add differential-privacy noise: OpenDP is not installed."
        ) from error
    dp.enable_features("contrib")
    return dp
