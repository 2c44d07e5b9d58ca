/* What the goal engine measures: every (activity pattern, trial-day window) that a goal (its window,
   steadiness baseline and fallback) or a candidate of the search grid needs, with each activity name
   the pattern matches. One row per pattern, window and matched activity name. Matching is done here,
   once, on the few distinct names (LIKE with a backslash escape), so intermediate.window_metrics joins
   on equality. */
MODEL (
  name intermediate.goal_windows,
  kind FULL,
  grain (activity_pattern, window_start_day, window_end_day, activity_name),
  audits (
    not_null(columns := (activity_pattern, window_start_day, window_end_day, activity_name)),
    unique_combination_of_columns(columns := (activity_pattern, window_start_day, window_end_day, activity_name))
  )
);

WITH activity_names AS (
  SELECT DISTINCT
    activity_name
  FROM intermediate.org_days
  WHERE
    in_trial_events > 0
), expanded_names AS (
  /* each_activity: a name as a pattern that matches only itself; each_family: its prefix up to the first dot */
  SELECT
    @like_literal(activity_name) AS activity_pattern,
    'each_activity' AS grid_value
  FROM activity_names
  UNION
  SELECT
    @like_literal(LEFT(activity_name, STRPOS(activity_name, '.'))) || '%',
    'each_family'
  FROM activity_names
  WHERE
    STRPOS(activity_name, '.') > 1
), candidate_patterns AS (
  SELECT
    COALESCE(e.activity_pattern, g.value) AS activity_pattern
  FROM staging.candidate_goal_grid AS g
  LEFT JOIN expanded_names AS e
    ON g.value = e.grid_value
  WHERE
    g.dimension = 'activity_pattern'
    AND (
      NOT e.activity_pattern IS NULL OR NOT g.value IN ('each_activity', 'each_family')
    )
), windows AS (
  SELECT
    activity_pattern,
    window_start_day,
    window_end_day,
    goal_kind = 'active_days' AS needs_active_days,
    FALSE AS is_candidate
  FROM staging.activation_goals
  UNION ALL
  SELECT
    activity_pattern,
    baseline_start_day,
    baseline_end_day,
    FALSE,
    FALSE
  FROM staging.activation_goals
  WHERE
    NOT baseline_start_day IS NULL
  UNION ALL
  SELECT
    activity_pattern,
    fallback_start_day,
    fallback_end_day,
    FALSE,
    FALSE
  FROM staging.activation_goals
  WHERE
    NOT fallback_start_day IS NULL
  UNION ALL
  SELECT
    p.activity_pattern,
    g.window_start_day,
    g.window_end_day,
    FALSE,
    TRUE
  FROM candidate_patterns AS p
  CROSS JOIN staging.candidate_goal_grid AS g
  WHERE
    g.dimension = 'window'
)
SELECT
  w.activity_pattern::TEXT AS activity_pattern, /* SQL LIKE pattern on activity_name (a backslash escapes %, _ and itself) */
  w.window_start_day, /* first trial day (0-based) of the window */
  w.window_end_day, /* last trial day (inclusive) of the window */
  n.activity_name, /* an activity name of the in-trial events that the pattern matches */
  BOOL_OR(w.needs_active_days::BOOLEAN) AS needs_active_days, /* an active_days goal measures it: count active trial days too */
  BOOL_OR(w.is_candidate::BOOLEAN) AS is_candidate /* a candidate goal of the search grid measures it */
FROM windows AS w
INNER JOIN activity_names AS n
  ON n.activity_name LIKE w.activity_pattern ESCAPE '\'
GROUP BY
  w.activity_pattern,
  w.window_start_day,
  w.window_end_day,
  n.activity_name