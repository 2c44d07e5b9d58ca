/* Trial Goals: whether each trialist completed each trial goal, and when. One row per organization
   and goal, for every organization and every goal in seeds/activation_goals.csv.
   A goal is completed when metric_value >= threshold; completed_at is the time of the event that
   met it, i.e. the CEIL(threshold)-th matching event of the window (the window's start when the
   threshold is 0, since nothing was needed), found by intermediate.goal_completions. */
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

SELECT
  m.organization_id, /* the trialist organization */
  m.goal_id, /* goal key from seeds/activation_goals.csv */
  g.goal_name, /* human-readable goal name */
  g.goal_kind, /* window_count, active_days or steadiness */
  m.metric_value, /* the goal's metric over its window and pattern: matching in-trial events, or active trial days (active_days) */
  m.threshold, /* what the metric must reach: the goal's derived threshold, or for steadiness the organization's own (ratio x baseline, at least the floor) */
  CASE
    WHEN m.threshold <= 0
    THEN 100
    ELSE LEAST(100, 100 * m.metric_value / m.threshold)
  END::DOUBLE AS completion_pct, /* progress toward the goal, 0-100: MIN(100, 100 x metric_value / threshold) */
  m.is_completed, /* metric_value >= threshold */
  CASE
    WHEN NOT m.is_completed
    THEN NULL
    WHEN m.events_needed <= 0
    THEN o.trial_start + g.window_start_day * INTERVAL '1' DAY
    ELSE c.completed_at
  END AS completed_at /* when the event that met the threshold happened; NULL when not completed */
FROM intermediate.org_goal_metrics AS m
INNER JOIN staging.activation_goals AS g
  ON m.goal_id = g.goal_id
INNER JOIN intermediate.trial_organizations AS o
  ON m.organization_id = o.organization_id
LEFT JOIN intermediate.goal_completions AS c
  ON m.organization_id = c.organization_id AND m.goal_id = c.goal_id;

@warn_goals_that_separate_no_one() /* Names the goals that the non-blocking goal_separates_organizations audit finds. */