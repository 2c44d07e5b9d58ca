"""The effect of a change between two environments (prod vs dev by default), in a few lines.

Which organizations gain or lose activation comes from SQLMesh's own table diff, restricted to the
activated rows: an organization activated only in the source environment lost activation, one
activated only in the target gained it. The totals, and per goal the threshold rule, threshold and
completion, are rows of each environment's marts.report_headline and marts.report_goals, and what
the goal says about converting comes from marts.goal_conversion, on the honest population (organizations
not converted when the goal's window ended), the lift and the conversion-rate difference with its
95% interval, so a threshold experiment shows whether the definition got more or less predictive.

    context = open_context()
    print(format_comparison(compare_environments(context, "prod", "dev")))
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field

import pandas as pd
from sqlmesh import Context

from trial_activation.project import (
    HONEST_POPULATION,
    MissingInEnvironment,
    environment_table,
    percent,
    require_environment,
    scratch_schema,
    select_rows,
)


@dataclass
class EnvironmentComparison:
    """What changes from `source` to `target`."""

    source: str
    target: str
    organizations: tuple[int, int]  # (source, target)
    activated: tuple[int, int]
    gained_count: int  # activated in target, not in source
    lost_count: int  # activated in source, not in target
    gained_sample: list[str] = field(default_factory=list)  # the first organization ids, sorted
    lost_sample: list[str] = field(default_factory=list)
    # One row per goal of either environment: goal_id, then threshold, rule, completed, organizations and
    # completion_rate, each suffixed _source and _target (NaN where the goal is absent).
    goals: pd.DataFrame = field(default_factory=pd.DataFrame)
    # One row per goal_id of either environment's marts.goal_conversion (each goal and 'activation'), on
    # the honest population: goal_id, goal_order, then organizations, completed, lift, rate_difference,
    # rate_difference_low, rate_difference_high and p_value, each suffixed _source and _target.
    conversion: pd.DataFrame = field(default_factory=pd.DataFrame)
    # The same on population 'holdout' (the latest trials, each goal judged against the threshold derived
    # on the earlier ones): does the definition hold on new trials?
    holdout: pd.DataFrame = field(default_factory=pd.DataFrame)
    # When each environment's data describes (marts.report_status.as_of); None for an environment built
    # before that mart.
    as_of: tuple = (None, None)


def compare_environments(
    context: Context, source: str = "prod", target: str = "dev", *, sample: int = 5
) -> EnvironmentComparison:
    """Compare the marts of two environments; `sample` organization ids are listed per direction."""
    for environment in (source, target):
        require_environment(context, environment)
    activation = {env: environment_table(context, "marts.trial_activation", env) for env in (source, target)}
    # Only the activated rows of each side: rows only in the source lost activation, rows only in
    # the target gained it. The diff runs in the engine; only the counts and samples come back.
    with _quiet_sql_log():
        diff = context.table_diff(
            activation[source],
            activation[target],
            on=["organization_id"],
            where="is_activated",
            limit=max(sample, 1),
            show=False,
        )[0].row_diff(temp_schema=scratch_schema(context))  # read-only warehouse: the diff's table goes to memory
    totals = {
        env: select_rows(context, "marts.report_headline", env, ("organizations", "activated")).iloc[0]
        for env in (source, target)
    }
    return EnvironmentComparison(
        source=source,
        target=target,
        organizations=(int(totals[source].organizations), int(totals[target].organizations)),
        activated=(int(totals[source].activated), int(totals[target].activated)),
        gained_count=diff.t_only_count,
        lost_count=diff.s_only_count,
        gained_sample=sorted(diff.t_sample["organization_id"].astype(str))[:sample] if sample else [],
        lost_sample=sorted(diff.s_sample["organization_id"].astype(str))[:sample] if sample else [],
        goals=_goal_comparison(context, source, target),
        conversion=_conversion_comparison(context, source, target),
        holdout=_conversion_comparison(context, source, target, population="holdout"),
        as_of=tuple(_as_of(context, env) for env in (source, target)),
    )


def _as_of(context: Context, environment: str):
    try:
        return select_rows(context, "marts.report_status", environment, ("as_of",)).as_of.iloc[0]
    except MissingInEnvironment:  # an environment built before the model existed
        return None


@contextmanager
def _quiet_sql_log():
    """Context.table_diff logs its SQL at the level of SQLMesh's own logger (WARNING outside the sqlmesh
    CLI, ERROR under trial-activation without --debug), which Python then prints to stderr: keep the
    engine adapter quiet while it runs, whatever that level is."""
    adapter_logger = logging.getLogger("sqlmesh.core.engine_adapter")
    level = adapter_logger.level
    adapter_logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        adapter_logger.setLevel(level)


GOAL_FIGURES = (
    "threshold", "percentile_value", "threshold_floor", "is_floor_the_threshold", "threshold_rule", "completed", "organizations",
    "completion_rate",
)
CONVERSION_FIGURES = ("organizations", "completed", "lift", "rate_difference", "rate_difference_low", "rate_difference_high", "p_value")


def _goal_comparison(context: Context, source: str, target: str) -> pd.DataFrame:
    frames = []
    for env in (source, target):
        frame = select_rows(context, "marts.report_goals", env, ("goal_id", *GOAL_FIGURES)).rename(
            columns={"threshold_rule": "rule"}
        )
        frames.append(frame.set_index("goal_id").add_suffix("_source" if env == source else "_target"))
    return frames[0].join(frames[1], how="outer").sort_index().reset_index()


def _conversion_comparison(context: Context, source: str, target: str, population: str = HONEST_POPULATION) -> pd.DataFrame:
    frames = []
    for env in (source, target):
        try:
            frame = select_rows(
                context, "marts.goal_conversion", env, ("goal_id", "goal_order", *CONVERSION_FIGURES),
                where={"population": population},
            )
        except MissingInEnvironment:  # an environment built before the model existed
            frame = pd.DataFrame(columns=["goal_id", "goal_order", *CONVERSION_FIGURES])
        frames.append(frame.set_index("goal_id").add_suffix("_source" if env == source else "_target"))
    joined = frames[0].join(frames[1], how="outer")
    joined["goal_order"] = joined.goal_order_target.fillna(joined.goal_order_source)
    return joined.drop(columns=["goal_order_source", "goal_order_target"]).sort_values("goal_order").reset_index()


def format_comparison(comparison: EnvironmentComparison) -> str:
    """The comparison as the short text the CLI prints."""
    c = comparison
    arrow = f"{c.source} -> {c.target}"
    lines = [f"Trial activation: {arrow}"]
    lines.append(f"  data as of               {_as_of_text(c.as_of[0])} -> {_as_of_text(c.as_of[1])}")
    lines.append(f"  organizations            {c.organizations[0]:,} -> {c.organizations[1]:,}")
    lines.append(
        f"  activated (all goals)    {c.activated[0]:,} ({percent(c.activated[0], c.organizations[0])}) -> "
        f"{c.activated[1]:,} ({percent(c.activated[1], c.organizations[1])})"
    )
    directions = (("gain", c.gained_count, c.gained_sample), ("lose", c.lost_count, c.lost_sample))
    for verb, count, ids in directions:
        more = f", ... ({count - len(ids):,} more)" if count > len(ids) else ""
        listed = f": {', '.join(ids)}{more}" if ids else ""
        lines.append(f"  organizations that {verb} activation: {count:,}{listed}")
    lines.append(f"  {'goal':<24} {'threshold (' + arrow + ')':<36} completed by ({arrow})")
    for row in c.goals.itertuples():
        threshold = _sides(row, _threshold, "rule", "threshold", "percentile_value", "threshold_floor", "is_floor_the_threshold")
        completed = _sides(row, _completed, "completed", "completion_rate")
        lines.append(f"  {row.goal_id:<24} {threshold:<36} {completed}")
    # Each goal's conversion difference, on the honest population and on the held-out trials: a first
    # column of its own, then the difference with its interval.
    difference_columns = ("rate_difference", "rate_difference_low", "rate_difference_high", "organizations")
    sections = (
        (
            c.conversion,
            "does completing the goal go with converting? (organizations not converted before its window ended;"
            " completers' conversion rate minus the others', 95% interval)",
            "lift",
            36,
            lambda row: _sides(row, _lift, "lift", "organizations"),
        ),
        (
            c.holdout,
            "held-out check (the latest trials, each goal's threshold derived on the earlier ones;"
            " completers' conversion rate minus the others', 95% interval)",
            "organizations",
            40,
            lambda row: _sides(row, _organizations, "organizations", "completed"),
        ),
    )
    for rows, heading, first_column, width, first_value in sections:
        if rows.empty:
            continue
        lines.append(f"  {heading}")
        lines.append(f"  {'goal':<24} {first_column + ' (' + arrow + ')':<{width}} difference ({arrow})")
        for row in rows.itertuples():
            lines.append(f"  {row.goal_id:<24} {first_value(row):<{width}} {_sides(row, _difference, *difference_columns)}")
    return "\n".join(lines)


def _sides(row, formatter, *columns: str) -> str:
    """'source -> target': formatter applied to a row's columns of each side (column + _source, + _target)."""
    return " -> ".join(formatter(*(getattr(row, column + side) for column in columns)) for side in ("_source", "_target"))


def _as_of_text(as_of) -> str:
    return "n/a" if as_of is None or pd.isna(as_of) else pd.Timestamp(as_of).strftime("%Y-%m-%d %H:%M UTC")


def _organizations(organizations, completed) -> str:
    """'78 (4 completed)'."""
    if pd.isna(organizations):
        return "(no goal)"
    return f"{int(organizations):,} ({int(completed):,} completed)"


def _lift(lift, organizations) -> str:
    if pd.isna(organizations):
        return "(no goal)"
    return "n/a" if pd.isna(lift) else f"{lift:.2f}x"


def _difference(difference, low, high, organizations) -> str:
    """'+10.4 pts [-1.6, +24.3]': percentage points, with the 95% interval."""
    if pd.isna(organizations):
        return "(no goal)"
    if pd.isna(difference):
        return "n/a"
    return f"{100 * difference:+.1f} pts [{100 * low:+.1f}, {100 * high:+.1f}]"


def _threshold(rule, threshold, percentile=None, floor=None, is_floor_the_threshold=False) -> str:
    """`p75: 9.25`; `p75 = 0, floor 1` when the floor, not the percentile, is the threshold."""
    if not isinstance(rule, str):
        return "(no goal)"
    if pd.isna(threshold):
        return rule
    if not pd.isna(is_floor_the_threshold) and bool(is_floor_the_threshold):  # marts.report_goals says so
        return f"{rule} = {percentile:g}, floor {floor:g}"
    return f"{rule}: {threshold:g}"


def _completed(completed, rate) -> str:
    return "(no goal)" if pd.isna(completed) else f"{int(completed):,} ({100 * rate:.1f}%)"
