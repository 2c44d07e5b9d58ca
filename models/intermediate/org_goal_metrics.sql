/* What each organization did toward each goal: one row per organization and goal, every
   organization and every goal (an organization with no matching events counts 0, so percentiles
   over converted organizations include the inactive ones). Each goal kind's metric is defined here
   (see docs/goals.md for adding a kind).
   Incremental by organization: a run recomputes the rows of the organizations with staged events in
   the interval it processes (recomputed_organizations), from all their daily activity, and merges
   them in; every other organization's rows depend only on its own events, so they stand. A first
   build, or a restatement (SQLMesh restates unique-key models from the project's start), takes every
   organization. */
MODEL (
  name intermediate.org_goal_metrics,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (organization_id, goal_id)
  ),
  grain (organization_id, goal_id),
  audits (
    not_null(columns := (organization_id, goal_id, converted, metric_value)),
    unique_combination_of_columns(columns := (organization_id, goal_id)),
    accepted_range("column" := metric_value, min_v := 0)
  )
);

WITH recomputed_organizations AS (
  SELECT
    organization_id,
    converted
  FROM intermediate.trial_organizations
  WHERE
    @start_ds <= @trial_events_start
    OR organization_id IN (
      SELECT
        organization_id
      FROM staging.trial_events
      WHERE
        event_at BETWEEN @start_ts AND @end_ts
    )
), goal_activity AS (
  SELECT
    a.organization_id,
    g.goal_id,
    SUM(a.event_count) FILTER(WHERE
      a.trial_day BETWEEN g.window_start_day AND g.window_end_day) AS window_events,
    COUNT(DISTINCT a.trial_day) FILTER(WHERE
      g.goal_kind = 'active_days'
      AND a.trial_day BETWEEN g.window_start_day AND g.window_end_day) AS window_active_days,
    SUM(a.event_count) FILTER(WHERE
      a.trial_day BETWEEN g.baseline_start_day AND g.baseline_end_day) AS baseline_events,
    SUM(a.event_count) FILTER(WHERE
      a.trial_day BETWEEN g.fallback_start_day AND g.fallback_end_day) AS fallback_events
  FROM intermediate.org_daily_activity AS a
  INNER JOIN staging.activation_goals AS g
    ON a.activity_name LIKE g.activity_pattern ESCAPE '\'
  WHERE
    @start_ds <= @trial_events_start
    OR a.organization_id IN (
      SELECT
        organization_id
      FROM recomputed_organizations
    )
  GROUP BY
    a.organization_id,
    g.goal_id
), org_goals AS (
  SELECT
    o.organization_id,
    o.converted,
    g.goal_id,
    g.goal_kind,
    CASE
      WHEN g.goal_kind = 'active_days'
      THEN COALESCE(a.window_active_days, 0)
      ELSE COALESCE(a.window_events, 0)
    END::BIGINT AS metric_value, /* BIGINT: a SUM is HUGEINT in DuckDB, several times slower to scan */
    CASE
      WHEN g.goal_kind = 'steadiness'
      THEN COALESCE(a.baseline_events, 0)::BIGINT
    END AS baseline_events,
    CASE
      WHEN g.goal_kind = 'steadiness' AND NOT g.fallback_start_day IS NULL
      THEN COALESCE(a.fallback_events, 0)::BIGINT
    END AS fallback_events
  FROM recomputed_organizations AS o
  CROSS JOIN staging.activation_goals AS g
  LEFT JOIN goal_activity AS a
    ON o.organization_id = a.organization_id AND g.goal_id = a.goal_id
)
SELECT
  organization_id, /* the trialist organization */
  goal_id, /* goal key from seeds/activation_goals.csv */
  converted, /* whether the organization converted (percentile thresholds use converted ones only) */
  metric_value, /* the goal's metric over its window and activity pattern: matching in-trial events (window_count, steadiness), or trial days with at least one (active_days) */
  CASE
    WHEN baseline_events > 0 OR fallback_events IS NULL
    THEN baseline_events
    ELSE fallback_events
  END AS baseline_value, /* steadiness: events in the baseline window, or the fallback window when the baseline has none; NULL for other kinds */
  baseline_events = 0 AND NOT fallback_events IS NULL AS used_fallback_baseline /* steadiness: the fallback window was used */
FROM org_goals