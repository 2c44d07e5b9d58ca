"""trial_activation/modeling/stats.py against scipy and against Newcombe's published worked examples."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from trial_activation.modeling.stats import (
    Z,
    benjamini_hochberg,
    compare_groups,
    fisher_exact_p,
    newcombe_interval,
    wilson_interval,
)

# Newcombe RG (1998), "Interval estimation for the difference between independent proportions:
# comparison of eleven methods", Statistics in Medicine 17:873-890, Table II, method 10 (the hybrid
# score interval), to the 4 decimals printed there: (m, n, x, y) = m/n versus x/y.
NEWCOMBE_1998_METHOD_10 = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]
TABLES = [(3, 1, 1, 3), (0, 5, 5, 0), (10, 20, 30, 40), (100, 200, 150, 120), (0, 0, 4, 9), (7, 0, 0, 0), (1, 500, 0, 900)]


def test_z_is_the_two_sided_95_percent_normal_quantile():
    assert Z == pytest.approx(scipy.stats.norm.ppf(0.975), abs=1e-12)


@pytest.mark.parametrize("events,total", [(0, 1), (0, 10), (5, 56), (48, 80), (10, 10), (333, 1000), (1, 100_000)])
def test_wilson_interval_equals_scipy(events, total):
    expected = scipy.stats.binomtest(events, total).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(events, total) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_wilson_interval_of_an_empty_group_is_undefined():
    assert wilson_interval(0, 0) == (None, None)


@pytest.mark.parametrize("counts,published", NEWCOMBE_1998_METHOD_10)
def test_newcombe_interval_reproduces_the_published_examples(counts, published):
    assert newcombe_interval(*counts) == pytest.approx(published, abs=5e-5)


def test_newcombe_interval_is_built_from_the_two_wilson_intervals():
    """The definition (Newcombe 1998, eq. 10), with scipy's Wilson bounds: L = d - sqrt((p1-l1)^2 + (u2-p2)^2)."""
    (x1, n1, x2, n2) = (37, 120, 12, 95)
    ci1 = scipy.stats.binomtest(x1, n1).proportion_ci(method="wilson")
    ci2 = scipy.stats.binomtest(x2, n2).proportion_ci(method="wilson")
    p1, p2 = x1 / n1, x2 / n2
    low = p1 - p2 - np.hypot(p1 - ci1.low, ci2.high - p2)
    high = p1 - p2 + np.hypot(ci1.high - p1, p2 - ci2.low)
    assert newcombe_interval(x1, n1, x2, n2) == pytest.approx((low, high), abs=1e-12)
    assert newcombe_interval(1, 2, 0, 0) == (None, None)


@pytest.mark.parametrize("table", TABLES)
def test_fisher_exact_p_equals_scipy(table):
    a, b, c, d = table
    expected = scipy.stats.fisher_exact([[a, b], [c, d]], alternative="two-sided").pvalue
    assert fisher_exact_p(a, b, c, d) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_fisher_exact_p_on_random_tables_equals_scipy():
    rng = np.random.default_rng(11)
    for a, b, c, d in rng.integers(0, 300, size=(200, 4)):
        expected = scipy.stats.fisher_exact([[a, b], [c, d]]).pvalue
        assert fisher_exact_p(int(a), int(b), int(c), int(d)) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_fisher_exact_p_of_a_large_table_does_not_overflow():
    a, b, c, d = 4_000, 60_000, 9_000, 300_000
    assert fisher_exact_p(a, b, c, d) == pytest.approx(scipy.stats.fisher_exact([[a, b], [c, d]]).pvalue, rel=1e-6, abs=1e-300)


def test_benjamini_hochberg_equals_scipy_and_keeps_nan():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=300), rng.uniform(0, 1e-4, size=20), [1.0, 0.0, 0.5, 0.5]])
    np.testing.assert_allclose(benjamini_hochberg(p), scipy.stats.false_discovery_control(p), rtol=0, atol=1e-12)
    with_nan = np.array([0.01, np.nan, 0.04, 0.03])
    q = benjamini_hochberg(with_nan)
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2, 3]], scipy.stats.false_discovery_control([0.01, 0.04, 0.03]), atol=1e-12)
    assert np.isnan(benjamini_hochberg([np.nan])).all()


def test_compare_groups_figures():
    figures = compare_groups(completed=80, completed_converted=56, not_completed=70, not_completed_converted=14)
    assert figures["conversion_rate_completed"] == 56 / 80
    assert figures["conversion_rate_not_completed"] == 14 / 70
    assert figures["lift"] == pytest.approx((56 / 80) / (14 / 70))
    assert figures["rate_difference"] == pytest.approx(56 / 80 - 14 / 70)
    assert figures["is_significant"] is True
    assert figures["p_value"] == pytest.approx(scipy.stats.fisher_exact([[56, 24], [14, 56]]).pvalue, rel=1e-9)

    no_completions = compare_groups(completed=0, completed_converted=0, not_completed=10, not_completed_converted=3)
    assert no_completions["conversion_rate_completed"] is None and no_completions["lift"] is None
    assert no_completions["rate_difference_low"] is None and no_completions["is_significant"] is False
    assert no_completions["p_value"] == 1.0
    nobody_converted_without = compare_groups(completed=5, completed_converted=2, not_completed=5, not_completed_converted=0)
    assert nobody_converted_without["lift"] is None and nobody_converted_without["rate_difference"] == 0.4
