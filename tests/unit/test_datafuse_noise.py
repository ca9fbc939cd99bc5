"""Differential privacy on joint statistics: scales from epsilon, noise that matches them."""

from __future__ import annotations

import math
import statistics

import pytest

from datafuse import joint_statistics
from datafuse.noise import (
    DifferentialPrivacy,
    OpenDPSampler,
    PrivacyTermError,
    Release,
    calibrate,
    term_problems,
)
from tests.support.seeded_noise import SeededLaplace

TERM = DifferentialPrivacy(epsilon=1.5, lower=0, upper=100_000)
DRAWS = 4000


def test_scales_are_calibrated_by_opendp_to_each_familys_share_of_epsilon():
    scales = calibrate(TERM, families=3)
    assert scales.share == pytest.approx(0.5)
    # Laplace: scale = sensitivity / epsilon; OpenDP may round a hair up, never down.
    assert 2.0 <= scales.count <= 2.0 * 1.001
    assert 2.0 <= scales.histogram <= 2.0 * 1.001
    assert 200_000 <= scales.sum <= 200_000 * 1.001
    assert calibrate(TERM, families=1).count == pytest.approx(1 / 1.5, rel=1e-3)


def test_opendp_real_noise_has_the_calibrated_scale():
    # For Laplace(b), E|X| = b and sd(|X|) = b: 4000 draws put the mean within 6% with
    # overwhelming probability (more than six standard errors).
    scale = 250.0
    sampler = OpenDPSampler()
    deviations = [abs(d - 1000.0) for d in sampler.reals([1000.0] * DRAWS, scale)]
    assert sampler.real(1000.0, scale) != 1000.0
    assert statistics.fmean(deviations) == pytest.approx(scale, rel=0.1)


def test_opendp_count_noise_is_discrete_laplace_of_the_calibrated_scale():
    scale = 8.0
    q = math.exp(-1 / scale)
    expected = 2 * q / (1 - q * q)  # E|X| of a discrete Laplace of that scale
    draws = OpenDPSampler().integers([50] * DRAWS, scale)
    assert all(isinstance(d, int) for d in draws)
    assert statistics.fmean(abs(d - 50) for d in draws) == pytest.approx(expected, rel=0.1)
    assert statistics.fmean(draws) == pytest.approx(50, abs=1.5)  # unbiased


def test_a_smaller_epsilon_means_more_noise():
    loose = Release(DifferentialPrivacy(epsilon=8, lower=0, upper=10), ["count"])
    tight = Release(DifferentialPrivacy(epsilon=0.1, lower=0, upper=10), ["count"])
    assert tight.scales.count == pytest.approx(80 * loose.scales.count, rel=0.01)


INCOMES = [20_000] * 8 + [45_000] * 9 + [70_000] * 7 + [250_000]


def noisy(seed: int, term: DifferentialPrivacy = TERM):
    return joint_statistics(
        [{"income": v} for v in INCOMES],
        "income",
        k=5,
        bands=[30_000, 60_000, 90_000],
        privacy=term,
        sampler=SeededLaplace(seed),
    )


def test_figures_are_noised_and_individuals_are_never_the_true_counts():
    plain = joint_statistics(
        [{"income": v} for v in INCOMES], "income", k=5, bands=[30_000, 60_000, 90_000]
    )
    result = noisy(7)
    assert result.privacy == TERM
    assert [(f.statistic, f.lower) for f in result.figures] == [
        (f.statistic, f.lower) for f in plain.figures
    ]  # the same figures are kept: suppression is decided first
    assert result.figures != plain.figures
    assert all(f.individuals >= 5 for f in result.figures)
    by_kind = {f.statistic: f for f in result.figures}
    assert by_kind["count"].individuals == by_kind["sum"].individuals
    assert by_kind["count"].individuals == max(5, by_kind["count"].value)
    assert 0 <= by_kind["mean"].value <= 100_000  # clamped to the term's bounds


def test_a_seeded_sampler_repeats_itself_and_another_seed_does_not():
    assert noisy(7).figures == noisy(7).figures
    assert noisy(7).figures != noisy(8).figures


def test_values_are_clamped_before_they_are_summed():
    term = DifferentialPrivacy(epsilon=10, lower=0, upper=50_000)
    sums = [
        f.value for seed in range(200) for f in noisy(seed, term).figures if f.statistic == "sum"
    ]
    clamped = sum(min(v, 50_000) for v in INCOMES)
    # The 250 000 outlier counts as 50 000: the noisy sums centre on the clamped total.
    assert statistics.fmean(sums) == pytest.approx(clamped, rel=0.05)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"epsilon": 0}, "dp_epsilon", "more than 0"),
        ({"epsilon": -1}, "dp_epsilon", "more than 0"),
        ({"epsilon": 11}, "dp_epsilon", "at most 10"),
        ({"epsilon": "one"}, "dp_epsilon", "number"),
        ({"epsilon": math.nan}, "dp_epsilon", "number"),
        ({"lower": 10, "upper": 10}, "dp_upper", "more than the lower bound"),
        ({"lower": 10, "upper": 5}, "dp_upper", "more than the lower bound"),
        ({"upper": math.inf}, "dp_upper", "number"),
        ({"lower": -1e13}, "dp_lower", "within"),
        ({"mechanism": "gaussian"}, "dp_mechanism", "laplace"),
    ],
)
def test_a_term_that_cannot_be_honoured_is_refused_in_plain_words(fields, field, words):
    given = {"epsilon": 1.0, "lower": 0, "upper": 100, "mechanism": "laplace", **fields}
    problems = term_problems(**given)
    assert set(problems) == {field}
    assert words in problems[field][0]
    with pytest.raises(PrivacyTermError, match=words):
        DifferentialPrivacy.from_json(given)


def test_a_term_travels_as_json():
    assert DifferentialPrivacy.from_json(TERM.as_json()) == TERM
    with pytest.raises(PrivacyTermError, match="number epsilon"):
        DifferentialPrivacy.from_json({"lower": 0, "upper": 1})


def test_noisy_individuals_never_exceed_the_people_of_the_run():
    # The gate refuses a figure claiming more people than the run read; noise must not cause it.
    for seed in range(20):
        result = joint_statistics(
            [{"income": v} for v in INCOMES],
            "income",
            k=5,
            privacy=TERM,
            sampler=SeededLaplace(seed),
            population=len(INCOMES),
        )
        assert all(5 <= f.individuals <= len(INCOMES) for f in result.figures)
