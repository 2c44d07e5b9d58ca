"""The statistics of the insight marts, in one place: does completing a goal go with converting?

Each goal (or candidate goal) splits organizations into a 2x2 table: completed or not, converted or
not. This module turns such a table into rates with 95% intervals, the difference of the two rates
with its interval, a p-value, and (across many tables) false-discovery-adjusted q-values:

- wilson_interval: the Wilson score interval of a proportion (Wilson 1927), which stays inside
  [0, 1] and behaves at 0 and n events, unlike the normal approximation;
- newcombe_interval: the interval of a difference of two independent proportions built from the two
  Wilson intervals, Newcombe's hybrid score interval (Newcombe 1998, method 10);
- fisher_exact_p: the two-sided Fisher exact test of the 2x2 table (tables as or less likely than the
  observed one under the hypergeometric null, with scipy's relative tolerance for ties);
- benjamini_hochberg: q-values controlling the false discovery rate across many tests (Benjamini and
  Hochberg 1995), as scipy.stats.false_discovery_control computes them.

Plain Python and numpy, so that the models that use it need no statistics library at run time;
tests/python/test_stats.py checks every function against scipy and Newcombe's published examples.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

CONFIDENCE = 0.95
# Two-sided 95%: the 97.5th percentile of the standard normal distribution (1.959963984540054).
Z = NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2)
# Tables whose probability is within this relative distance of the observed one count as "as likely"
# (floating-point ties), the tolerance scipy.stats.fisher_exact uses.
FISHER_RELATIVE_TOLERANCE = 1e-7


def rate(events: int, total: int) -> float | None:
    """events / total, or None when the group is empty."""
    return events / total if total else None


def wilson_interval(events: int, total: int, z: float = Z) -> tuple[float, float] | tuple[None, None]:
    """The Wilson score interval (no continuity correction) of events/total; (None, None) when total is 0."""
    if total <= 0:
        return None, None
    p = events / total
    z2 = z * z
    denominator = 1 + z2 / total
    center = (p + z2 / (2 * total)) / denominator
    half_width = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denominator
    # At 0 or n events one bound is exactly 0 or 1; rounding must not push it outside.
    return max(0.0, center - half_width), min(1.0, center + half_width)


def newcombe_interval(
    events_1: int, total_1: int, events_2: int, total_2: int, z: float = Z
) -> tuple[float, float] | tuple[None, None]:
    """Newcombe's hybrid score interval of p1 - p2 (1998, method 10); (None, None) when a group is empty."""
    if total_1 <= 0 or total_2 <= 0:
        return None, None
    p1, p2 = events_1 / total_1, events_2 / total_2
    low_1, high_1 = wilson_interval(events_1, total_1, z)
    low_2, high_2 = wilson_interval(events_2, total_2, z)
    difference = p1 - p2
    return (
        difference - math.sqrt((p1 - low_1) ** 2 + (high_2 - p2) ** 2),
        difference + math.sqrt((high_1 - p1) ** 2 + (p2 - low_2) ** 2),
    )


def fisher_exact_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact p-value of the 2x2 table [[a, b], [c, d]]. A table with an empty row or
    column has one possible arrangement, so its p-value is 1."""
    row_1, column_1, total = a + b, a + c, a + b + c + d
    if min(a, b, c, d) < 0:
        raise ValueError(f"a 2x2 table holds counts, not negative numbers: {[[a, b], [c, d]]}")
    low, high = max(0, row_1 + column_1 - total), min(row_1, column_1)
    if low == high:
        return 1.0
    # log P(X = k) for every k in the support, with X hypergeometric(total, row_1, column_1): the first
    # from log-gamma, the rest by the ratio P(k + 1) / P(k), summed in log space (no factorial overflow).
    k = np.arange(low, high)
    log_ratios = np.log((row_1 - k) * (column_1 - k)) - np.log((k + 1) * (total - row_1 - column_1 + k + 1))
    log_pmf = _log_hypergeometric(low, total, row_1, column_1) + np.concatenate(([0.0], np.cumsum(log_ratios)))
    observed = log_pmf[a - low]
    as_extreme = log_pmf <= observed + math.log1p(FISHER_RELATIVE_TOLERANCE)
    return float(min(1.0, np.exp(log_pmf[as_extreme]).sum()))


def _log_hypergeometric(k: int, total: int, row_1: int, column_1: int) -> float:
    """log P(X = k): C(row_1, k) C(total - row_1, column_1 - k) / C(total, column_1)."""

    def log_choose(n: int, r: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(r + 1) - math.lgamma(n - r + 1)

    return log_choose(row_1, k) + log_choose(total - row_1, column_1 - k) - log_choose(total, column_1)


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg q-values (adjusted p-values) of p_values, in their order; NaN stays NaN and
    does not count as a test."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    if tested.size == 0:
        return q
    order = tested[np.argsort(p[tested], kind="stable")]
    ranks = np.arange(1, order.size + 1)
    # q of the i-th smallest p is min over j >= i of p_(j) m / j, at most 1.
    q[order] = np.minimum(1.0, np.minimum.accumulate((p[order] * order.size / ranks)[::-1])[::-1])
    return q


def compare_groups(completed: int, completed_converted: int, not_completed: int, not_completed_converted: int) -> dict:
    """Every figure of a goal's 2x2 table: the two conversion rates with their Wilson intervals, the
    lift, the rate difference with Newcombe's interval, Fisher's p-value and whether the difference is
    significant (its interval excludes 0; false when there is no interval). Undefined figures are None."""
    rate_completed = rate(completed_converted, completed)
    rate_not_completed = rate(not_completed_converted, not_completed)
    completed_low, completed_high = wilson_interval(completed_converted, completed)
    not_completed_low, not_completed_high = wilson_interval(not_completed_converted, not_completed)
    difference_low, difference_high = newcombe_interval(
        completed_converted, completed, not_completed_converted, not_completed
    )
    defined = rate_completed is not None and rate_not_completed is not None
    return {
        "conversion_rate_completed": rate_completed,
        "conversion_rate_completed_low": completed_low,
        "conversion_rate_completed_high": completed_high,
        "conversion_rate_not_completed": rate_not_completed,
        "conversion_rate_not_completed_low": not_completed_low,
        "conversion_rate_not_completed_high": not_completed_high,
        "lift": rate_completed / rate_not_completed if defined and rate_not_completed > 0 else None,
        "rate_difference": rate_completed - rate_not_completed if defined else None,
        "rate_difference_low": difference_low,
        "rate_difference_high": difference_high,
        "p_value": fisher_exact_p(
            completed_converted,
            completed - completed_converted,
            not_completed_converted,
            not_completed - not_completed_converted,
        ),
        "is_significant": bool(defined and (difference_low > 0 or difference_high < 0)),
    }
