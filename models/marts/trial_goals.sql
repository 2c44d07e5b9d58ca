/* Trial Goals: whether each trialist completed each trial goal, and when. One row per organization
   and goal, for every organization and every goal in seeds/activation_goals.csv.
   A goal is completed when metric_value >= threshold; completed_at is the time of the event that
   met it, i.e. the CEIL(threshold)-th matching event of the window (the window's start when the
   threshold is 0, since nothing was needed), found by intermediate.goal_completions.
   Judged at as_of (the moment the data describes): goal_status is completed; missed once the window has
   closed (trial_start + window_end_day + 1 days <= as_of) without it; awaiting_threshold while a
   percentile goal has no threshold yet (no converted organization's window has closed); else open.
   For an open goal: days left in the window, what it still needs, and whether it is on pace (the
   metric so far at least the threshold's share of the window elapsed, see docs/goals.md). */
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
        is_completed,
        goal_status,
        window_closes_at,
        as_of
      )
    ),
    unique_combination_of_columns(columns := (organization_id, goal_id)),
    accepted_range("column" := completion_pct, min_v := 0, max_v := 100),
    accepted_range("column" := metric_value, min_v := 0),
    accepted_values(
      "column" := goal_status,
      is_in := ('completed', 'missed', 'open', 'awaiting_threshold')
    ),
    completed_at_iff_completed,
    each_goal_once_per_organization,
    goal_separates_organizations
  )
);

WITH goals AS (
  SELECT
    m.organization_id,
    m.goal_id,
    g.goal_name,
    g.goal_kind,
    m.metric_value,
    m.threshold,
    m.is_completed,
    m.events_needed,
    c.completed_at,
    o.trial_start + g.window_start_day * INTERVAL '1' DAY AS window_opens_at,
    o.trial_start + (
      g.window_end_day + 1
    ) * INTERVAL '1' DAY AS window_closes_at,
    g.window_end_day - g.window_start_day + 1 AS window_days,
    o.as_of
  FROM intermediate.org_goal_metrics AS m
  INNER JOIN staging.activation_goals AS g
    ON m.goal_id = g.goal_id
  INNER JOIN intermediate.trial_organizations AS o
    ON m.organization_id = o.organization_id
  LEFT JOIN intermediate.goal_completions AS c
    ON m.organization_id = c.organization_id AND m.goal_id = c.goal_id
), judged AS (
  SELECT
    *,
    CASE
      WHEN is_completed
      THEN 'completed'
      WHEN threshold IS NULL
      THEN 'awaiting_threshold'
      WHEN window_closes_at <= as_of
      THEN 'missed'
      ELSE 'open'
    END AS goal_status,
    LEAST(window_days, GREATEST(0, @trial_day(window_opens_at, as_of))) AS window_days_elapsed
  FROM goals
)
SELECT
  organization_id, /* the trialist organization */
  goal_id, /* goal key from seeds/activation_goals.csv */
  goal_name, /* human-readable goal name */
  goal_kind, /* window_count, active_days or steadiness */
  metric_value, /* the goal's metric so far (as of as_of) over its window and pattern: matching in-trial events, or active trial days (active_days) */
  threshold, /* what the metric must reach: the goal's derived threshold, or for steadiness the organization's own (ratio x baseline, at least the floor); NULL while awaiting_threshold */
  CASE
    WHEN threshold IS NULL
    THEN NULL
    WHEN threshold <= 0
    THEN 100
    ELSE LEAST(100, 100 * metric_value / threshold)
  END::DOUBLE AS completion_pct, /* progress toward the goal, 0-100: MIN(100, 100 x metric_value / threshold); NULL while awaiting_threshold */
  is_completed, /* metric_value >= threshold */
  CASE
    WHEN NOT is_completed
    THEN NULL
    WHEN events_needed <= 0
    THEN window_opens_at
    ELSE completed_at
  END AS completed_at, /* when the event that met the threshold happened; NULL when not completed */
  goal_status, /* completed; awaiting_threshold while no threshold is derivable yet; missed once the window closed without it; else open */
  window_closes_at, /* trial_start + window_end_day + 1 days: the goal is missed if not completed by then */
  as_of, /* the moment the data describes (intermediate.as_of) */
  CASE
    WHEN goal_status IN ('open', 'awaiting_threshold')
    THEN window_days - window_days_elapsed
  END AS days_left_in_window, /* open goals: whole days of the window not yet begun or under way at as_of */
  CASE WHEN goal_status = 'open' THEN events_needed - metric_value END AS still_needed, /* open goals: how much more of the metric (events, or active days) completes it */
  CASE
    WHEN goal_status = 'open'
    THEN metric_value >= events_needed * window_days_elapsed::DOUBLE / window_days
  END AS is_on_pace /* open goals: the metric so far is at least the threshold's share of the window's elapsed days */
FROM judged;

@warn_goals_that_separate_no_one() /* Names the goals that the non-blocking goal_separates_organizations audit finds. */