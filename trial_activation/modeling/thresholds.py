"""The percentile behind data-derived goal thresholds, as one Ibis expression for every model that needs it.

intermediate.goal_thresholds (the goals of the seed) and intermediate.candidate_goal_counts (the
candidate goals of the search grid) both call continuous_percentile, so a candidate that equals a
goal gets exactly that goal's threshold.

The percentile is continuous with linear interpolation over the values of each group (the same
definition as DuckDB's quantile_cont, PostgreSQL's percentile_cont and numpy's default): with the n
values sorted v[0..n-1] and h = p/100 * (n - 1), it is v[floor(h)] + (h - floor(h)) * (v[ceil(h)] -
v[floor(h)]). It is computed with a window function and joins rather than an engine's percentile
aggregate because the percentile is data (a column, one per request), and quantile_cont, Spark's
percentile and PostgreSQL's percentile_cont all demand a constant fraction.

Two things keep it cheap when many percentiles are asked of the same values (the candidate search
asks three of each pattern and window): each group's values are sorted once, whatever the number of
percentiles asked of it, and the zeros (the converted organizations without a matching event) need
not be rows at all: a group's value count is given, and the values missing from it are zeros.
"""

from __future__ import annotations

import ibis


def continuous_percentile(
    requests: ibis.Table, values: ibis.Table, group: list[str], value: str, percentile: str, value_count: str
) -> ibis.Table:
    """`requests` with a column percentile_value added: the `percentile`-th (0-100) continuous
    percentile of the `value_count` values of the request's `group` (columns of both tables), namely
    that group's rows of `values` (never negative: metrics are counts) and, for the rest, zeros.
    NULL when the group has no value."""
    # Numbered from the largest down, so that the missing zeros take the last positions: the value at
    # a position past the group's rows of `values` is 0.
    ranked = values.select(
        *group,
        ranked_value=values[value],
        position_from_top=ibis.row_number().over(group_by=group, order_by=ibis.desc(values[value])),  # 0-based
    )
    h = (requests[value_count] - 1) * requests[percentile] / 100
    positioned = requests.mutate(
        percentile_h=h,
        lower_from_top=requests[value_count] - 1 - h.floor(),
        upper_from_top=requests[value_count] - 1 - h.ceil(),
    )

    def value_at(table: ibis.Table, position: str, name: str) -> ibis.Table:
        at = ranked.select(*group, position_from_top=ranked.position_from_top, **{name: ranked.ranked_value})
        joined = table.left_join(at, [*group, table[position] == at.position_from_top])
        return joined.select(*table.columns, **{name: joined[name].fill_null(0)})

    positioned = value_at(positioned, "lower_from_top", "lower_value")
    positioned = value_at(positioned, "upper_from_top", "upper_value")
    fraction = positioned.percentile_h - positioned.percentile_h.floor()
    percentile_value = positioned.lower_value + fraction * (positioned.upper_value - positioned.lower_value)
    return positioned.select(
        *requests.columns,
        percentile_value=ibis.cases((positioned[value_count] > 0, percentile_value), else_=ibis.null("float64")),
    )
