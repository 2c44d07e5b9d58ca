/* What each organization did toward each goal, against what the goal asks: one row per organization
   and goal, every organization and every goal (no matching event counts 0). Each goal kind's metric
   is chosen here, from the goal engine (intermediate.window_metrics): matching in-trial events of the
   window (window_count, steadiness) or active trial days (active_days), and steadiness's baseline;
   then its threshold (@organization_threshold) and whether it is met (see docs/goals.md for adding a
   kind). */
MODEL (
  name intermediate.org_goal_metrics,
  kind FULL,
  grain (organization_id, goal_id),
  audits (
    not_null(columns := (organization_id, goal_id, converted, metric_value)),
    unique_combination_of_columns(columns := (organization_id, goal_id)),
    accepted_range("column" := metric_value, min_v := 0)
  )
);

WITH window_values AS (
  /* each organization's events (or active days) in each goal's window, baseline and fallback */
  SELECT
    m.organization_id,
    g.goal_id,
    MAX(CASE WHEN g.goal_kind = 'active_days' THEN m.active_days ELSE m.events END) FILTER(WHERE
      m.window_start_day = g.window_start_day AND m.window_end_day = g.window_end_day) AS window_value,
    MAX(m.events) FILTER(WHERE
      m.window_start_day = g.baseline_start_day
      AND m.window_end_day = g.baseline_end_day) AS baseline_events,
    MAX(m.events) FILTER(WHERE
      m.window_start_day = g.fallback_start_day
      AND m.window_end_day = g.fallback_end_day) AS fallback_events
  FROM intermediate.window_metrics AS m
  INNER JOIN staging.activation_goals AS g
    ON m.activity_pattern = g.activity_pattern
  GROUP BY
    m.organization_id,
    g.goal_id
), org_goals AS (
  SELECT
    o.organization_id,
    o.converted,
    g.goal_id,
    COALESCE(w.window_value, 0) AS metric_value,
    CASE WHEN g.goal_kind = 'steadiness' THEN COALESCE(w.baseline_events, 0) END AS baseline_events,
    CASE
      WHEN g.goal_kind = 'steadiness' AND NOT g.fallback_start_day IS NULL
      THEN COALESCE(w.fallback_events, 0)
    END AS fallback_events
  FROM intermediate.trial_organizations AS o
  CROSS JOIN staging.activation_goals AS g
  LEFT JOIN window_values AS w
    ON o.organization_id = w.organization_id AND g.goal_id = w.goal_id
), measured AS (
  SELECT
    organization_id,
    converted,
    goal_id,
    metric_value::BIGINT AS metric_value,
    CASE
      WHEN baseline_events > 0 OR fallback_events IS NULL
      THEN baseline_events
      ELSE fallback_events
    END::BIGINT AS baseline_value,
    baseline_events = 0 AND NOT fallback_events IS NULL AS used_fallback_baseline
  FROM org_goals
), evaluated AS (
  SELECT
    m.*,
    @organization_threshold(t, m) AS threshold,
    @organization_threshold(t, m, search_threshold) AS search_threshold
  FROM measured AS m
  INNER JOIN intermediate.goal_thresholds AS t
    ON m.goal_id = t.goal_id
)
SELECT
  organization_id, /* the trialist organization */
  goal_id, /* goal key from seeds/activation_goals.csv */
  converted, /* whether the organization converted */
  metric_value, /* the goal's metric over its window and activity pattern: matching in-trial events (window_count, steadiness), or trial days with at least one (active_days) */
  baseline_value, /* steadiness: events in the baseline window, or the fallback window when the baseline has none; NULL for other kinds */
  used_fallback_baseline, /* steadiness: the fallback window was used */
  threshold, /* what the metric must reach: the goal's threshold, or for steadiness the organization's own (ratio x baseline, at least the floor) */
  COALESCE(metric_value >= threshold, FALSE) AS is_completed, /* the goal is met (never while it has no threshold yet) */
  @events_needed(threshold) AS events_needed, /* what meeting it takes in whole units: the completing event is the events_needed-th */
  COALESCE(metric_value >= search_threshold, FALSE) AS is_completed_on_search_threshold /* met against the threshold derived on the search part (held-out validation: marts.goal_conversion_counts' holdout) */
FROM evaluated