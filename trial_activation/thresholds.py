"""The percentile behind data-derived goal thresholds, as one Ibis expression for every model that needs it.

intermediate.goal_thresholds (the goals of the seed) and intermediate.candidate_goal_counts (the
candidate goals of the search grid) both call continuous_percentile, so a candidate that equals a
goal gets exactly that goal's threshold.

The percentile is continuous with linear interpolation over the values of each group (the same
definition as DuckDB's quantile_cont, PostgreSQL's percentile_cont and numpy's default): with the n
values sorted v[0..n-1] and h = p/100 * (n - 1), it is v[floor(h)] + (h - floor(h)) * (v[ceil(h)] -
v[floor(h)]). It is computed with window functions rather than an engine's percentile aggregate
because the percentile is data (a column, one per group), and quantile_cont, Spark's percentile and
PostgreSQL's percentile_cont all demand a constant fraction.
"""

from __future__ import annotations

import ibis


def continuous_percentile(values: ibis.Table, group: str, value: str, percentile: str) -> ibis.Table:
    """One row per `group` of `values`: the `percentile`-th (0-100, a column constant within the group)
    continuous percentile of the `value` column, as percentile_value, over value_count values."""
    by_group = ibis.window(group_by=group)
    ranked = values.mutate(
        position=ibis.row_number().over(group_by=group, order_by=value),  # 0-based
        value_count=values[value].count().over(by_group),
    )
    ranked = ranked.mutate(h=(ranked.value_count - 1) * ranked[percentile] / 100)
    ranked = ranked.mutate(lower_position=ranked.h.floor(), upper_position=ranked.h.ceil())
    percentiles = ranked.group_by(group).aggregate(
        value_count=ranked.value_count.max(),
        lower_value=ranked[value].max(where=ranked.position == ranked.lower_position),
        upper_value=ranked[value].max(where=ranked.position == ranked.upper_position),
        fraction=(ranked.h - ranked.lower_position).max(),
    )
    return percentiles.select(
        group,
        "value_count",
        percentile_value=percentiles.lower_value + percentiles.fraction * (percentiles.upper_value - percentiles.lower_value),
    )
