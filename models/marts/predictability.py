"""marts.predictability: how well early behaviour predicts conversion at all. One row per feature window.

The ceiling any goal over these windows can reach: if a classifier over ~20 features of a window cannot
rank converters above the others better than with shuffled labels, no single goal over that window will.
The engine aggregates the window's in-trial events per organization and activity family in one query
(intermediate.org_days; the population from intermediate.trial_organizations), weekly like the search; the
pivot and the fits are trial_activation/modeling/predictability.py's, in SQLMesh's process, on every engine."""

import typing as t

import pandas as pd
import sqlglot
from sqlglot import exp
from sqlmesh import ExecutionContext, model

from trial_activation.modeling.predictability import predictability, sampled_organization_ids, window_samples

ORG_DAYS = "intermediate.org_days"
ORGANIZATIONS = "intermediate.trial_organizations"
# The feature windows (first and last trial day, inclusive): the goals' weeks 1, 1-2 and 1-4.
WINDOWS = ((0, 6), (0, 13), (0, 27))
WINDOW_ROWS = " UNION ALL ".join(f"SELECT {start} AS window_start_day, {end} AS window_end_day" for start, end in WINDOWS)
# One query for every window: each organization's in-trial events per activity family (the name up to
# its first dot), and its own row (activity_family NULL) with the organization-wide counts.
FEATURES_SQL = f"""
WITH feature_windows AS ({WINDOW_ROWS}),
window_days AS (
  SELECT
    d.organization_id,
    w.window_start_day,
    w.window_end_day,
    d.trial_day,
    d.activity_name,
    CASE WHEN STRPOS(d.activity_name, '.') > 1 THEN LEFT(d.activity_name, STRPOS(d.activity_name, '.') - 1)
      ELSE d.activity_name END AS activity_family,
    d.in_trial_events
  FROM org_days_table AS d
  INNER JOIN feature_windows AS w
    ON d.trial_day BETWEEN w.window_start_day AND w.window_end_day
  WHERE d.in_trial_events > 0
)
SELECT organization_id, window_start_day, window_end_day, activity_family,
  CAST(SUM(in_trial_events) AS BIGINT) AS events,
  CAST(NULL AS BIGINT) AS active_days,
  CAST(NULL AS BIGINT) AS activities,
  CAST(NULL AS BIGINT) AS day_0_events,
  CAST(NULL AS INT) AS first_day,
  CAST(NULL AS INT) AS last_day
FROM window_days
GROUP BY organization_id, window_start_day, window_end_day, activity_family
UNION ALL
SELECT organization_id, window_start_day, window_end_day, CAST(NULL AS TEXT) AS activity_family,
  CAST(SUM(in_trial_events) AS BIGINT) AS events,
  CAST(COUNT(DISTINCT trial_day) AS BIGINT) AS active_days,
  CAST(COUNT(DISTINCT activity_name) AS BIGINT) AS activities,
  CAST(SUM(CASE WHEN trial_day = 0 THEN in_trial_events ELSE 0 END) AS BIGINT) AS day_0_events,
  MIN(trial_day) AS first_day,
  MAX(trial_day) AS last_day
FROM window_days
GROUP BY organization_id, window_start_day, window_end_day
"""
ORGANIZATION_COLUMNS = ["organization_id", "trial_start", "converted", "converted_at", "is_outcome_final"]

COLUMNS = {
    "window_id": "TEXT",
    "window_start_day": "INT",
    "window_end_day": "INT",
    "organizations": "BIGINT",
    "converted": "BIGINT",
    "excluded_converted_before_window_end": "BIGINT",
    "excluded_pending": "BIGINT",
    "is_sampled": "BOOLEAN",
    "sample_organizations": "BIGINT",
    "sample_converted": "BIGINT",
    "features": "INT",
    "auc": "DOUBLE",
    "auc_sd": "DOUBLE",
    "shuffled_auc_p95": "DOUBLE",
    "is_above_chance": "BOOLEAN",
    "folds": "INT",
    "repeats": "INT",
    "permutations": "INT",
}


@model(
    "marts.predictability",
    kind="FULL",
    cron="@weekly",
    grain=["window_id"],
    depends_on=[ORG_DAYS, ORGANIZATIONS],
    columns=COLUMNS,
    description=(
        "The predictability ceiling: one row per feature window (trial days 0-6, 0-13, 0-27). The"
        " cross-validated ROC AUC of a standardised logistic regression (trial_activation/modeling/validation.py)"
        " over per-organization features of the window (log1p of in-trial events per activity family, of all"
        " events and of day-0 events; active days; distinct activities; span of active days), against the 95th"
        " percentile of the same figure with the conversion labels shuffled. Population: organizations with a"
        " final outcome (is_outcome_final: the conversion window closed) not converted before the window ended. An AUC not above"
        " the shuffled p95 means the window's behaviour carries no detectable signal about buying, so no goal"
        " over it can. Above predictability_max_organizations (5,000) organizations both figures use a stratified sample (is_sampled)."
    ),
    column_descriptions={
        "window_id": "The feature window as first-last trial day, e.g. 0-6",
        "window_start_day": "First trial day of the window (0-based)",
        "window_end_day": "Last trial day of the window (inclusive)",
        "organizations": "Organizations in the population: outcome final, not converted before trial day window_end_day + 1",
        "converted": "Of which converted",
        "excluded_converted_before_window_end": "Organizations left out because they converted before the window ended",
        "excluded_pending": "Organizations left out because their outcome is not final yet (conversion window still open)",
        "is_sampled": "The figures are computed on a stratified sample of the population (it has more than predictability_max_organizations)",
        "sample_organizations": "Organizations the figures are computed on (the population, or the sample)",
        "sample_converted": "Of which converted",
        "features": "Features per organization",
        "auc": "Mean held-out ROC AUC over repeats x folds stratified cross-validation; 0.5 is chance. NULL when a class has fewer organizations than folds",
        "auc_sd": "Standard deviation of the held-out AUC across the repeats x folds",
        "shuffled_auc_p95": "95th percentile of the mean AUC over permutations runs with shuffled labels: what chance alone reaches",
        "is_above_chance": "auc > shuffled_auc_p95 (p < 0.05 that the features carry no signal)",
        "folds": "Cross-validation folds",
        "repeats": "Cross-validation repeats",
        "permutations": "Label shuffles behind shuffled_auc_p95",
    },
    audits=[
        ("not_null", {"columns": [exp.column(c) for c in ("window_id", "organizations", "converted", "is_sampled", "is_above_chance")]}),
        ("unique_values", {"columns": [exp.column("window_id")]}),
        ("accepted_range", {"column": exp.column("auc"), "min_v": exp.Literal.number(0), "max_v": exp.Literal.number(1)}),
    ],
)
def execute(context: ExecutionContext, **kwargs: t.Any) -> pd.DataFrame:
    # Expressions, not SQL text: the engine adapter writes them in its own dialect.
    organizations_table = exp.to_table(context.resolve_table(ORGANIZATIONS), dialect=context.default_dialect)
    organizations = context.fetchdf(exp.select(*ORGANIZATION_COLUMNS).from_(organizations_table))
    organizations.columns = [c.lower() for c in organizations.columns]
    query = sqlglot.parse_one(FEATURES_SQL, dialect="duckdb")
    placeholder = next(table for table in query.find_all(exp.Table) if table.name == "org_days_table")
    org_days = exp.to_table(context.resolve_table(ORG_DAYS), dialect=context.default_dialect)
    org_days.set("alias", placeholder.args.get("alias"))
    placeholder.replace(org_days)
    # On a large log the figures are computed on a sample: aggregate the sampled organizations only.
    samples = window_samples(organizations, WINDOWS, int(context.var("predictability_max_organizations")))
    sampled = sampled_organization_ids(samples)
    if sampled is not None:
        window_days = next(cte.this for cte in query.find_all(exp.CTE) if cte.alias == "window_days")
        window_days.where(exp.column("organization_id", table="d").isin(*map(exp.Literal.string, sampled)), copy=False)
    rows = context.fetchdf(query)
    rows.columns = [c.lower() for c in rows.columns]
    return predictability(rows, samples)[list(COLUMNS)]
