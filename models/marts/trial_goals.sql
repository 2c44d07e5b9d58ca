/* Trial Goals: whether each trialist completed each trial goal, and when. One row per organization
   and goal, for every organization and every goal in seeds/activation_goals.csv.
   A goal is completed when metric_value >= threshold; completed_at is the time of the event that
   met it, i.e. the CEIL(threshold)-th matching event of the window (the window's start when the
   threshold is 0, since nothing was needed). The completing events, the expensive part, are found
   by intermediate.goal_completions; this table joins them to the metrics and thresholds. */
MODEL (
  name marts.trial_goals,
  kind FULL,
  grain (organization_id, goal_id),
  audits (
    not_null(
      columns := (
        organization_id,
        goal_id,
        goal_name,
        metric_value,
        threshold,
        completion_pct,
        is_completed
      )
    ),
    unique_combination_of_columns(columns := (organization_id, goal_id)),
    accepted_range("column" := completion_pct, min_v := 0, max_v := 100),
    accepted_range("column" := metric_value, min_v := 0),
    completed_at_iff_completed,
    each_goal_once_per_organization,
    goal_separates_organizations
  )
);

WITH org_goals AS (
  SELECT
    m.organization_id,
    m.goal_id,
    g.goal_name,
    g.goal_kind,
    g.activity_pattern,
    g.window_start_day,
    g.window_end_day,
    o.trial_start,
    m.metric_value,
    m.baseline_value,
    @organization_threshold(t, m) AS threshold
  FROM intermediate.org_goal_metrics AS m
  INNER JOIN intermediate.goal_thresholds AS t
    ON m.goal_id = t.goal_id
  INNER JOIN staging.activation_goals AS g
    ON m.goal_id = g.goal_id
  INNER JOIN intermediate.trial_organizations AS o
    ON m.organization_id = o.organization_id
), evaluated AS (
  SELECT
    *,
    metric_value >= threshold AS is_completed,
    @events_needed(threshold) AS events_needed
  FROM org_goals
)
SELECT
  e.organization_id, /* the trialist organization */
  e.goal_id, /* goal key from seeds/activation_goals.csv */
  e.goal_name, /* human-readable goal name */
  e.goal_kind, /* window_count, active_days or steadiness */
  e.metric_value, /* in-trial events in the goal's window matching its activity pattern */
  e.threshold, /* events needed: the derived goal threshold, or for steadiness the organization's own (ratio x baseline, at least the floor) */
  CASE
    WHEN e.threshold <= 0
    THEN 100
    ELSE LEAST(100, 100 * e.metric_value / e.threshold)
  END::DOUBLE AS completion_pct, /* progress toward the goal, 0-100: MIN(100, 100 x metric_value / threshold) */
  e.is_completed, /* metric_value >= threshold */
  CASE
    WHEN NOT e.is_completed
    THEN NULL
    WHEN e.events_needed <= 0
    THEN e.trial_start + e.window_start_day * INTERVAL '1' DAY
    ELSE c.completed_at
  END AS completed_at /* when the event that met the threshold happened; NULL when not completed */
FROM evaluated AS e
LEFT JOIN intermediate.goal_completions AS c
  ON e.organization_id = c.organization_id
  AND e.goal_id = c.goal_id
  AND e.events_needed = c.events_needed /* evaluated for this threshold: otherwise NULL, which the completed_at_iff_completed audit stops */;

@warn_goals_that_separate_no_one() /* Names the goals that the non-blocking goal_separates_organizations audit finds. */