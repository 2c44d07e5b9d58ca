AUDIT (
  name valid_goal_definitions
);

/* A goal row that the marts could not evaluate unambiguously: returns one row per broken goal, with
   the first rule it breaks in words (broken_rule), which the trial-activation CLI prints; and one row
   when the seed has no goal at all. */
WITH repeated AS (
  SELECT
    'goal_id' AS "column",
    goal_id AS value
  FROM @this_model
  GROUP BY
    goal_id
  HAVING
    COUNT(*) > 1
  UNION ALL
  SELECT
    'goal_order' AS "column",
    goal_order::TEXT AS value
  FROM @this_model
  GROUP BY
    goal_order
  HAVING
    COUNT(*) > 1
  UNION ALL
  SELECT
    'goal_name' AS "column",
    goal_name AS value
  FROM @this_model
  GROUP BY
    goal_name
  HAVING
    COUNT(*) > 1
), checked AS (
  SELECT
    goal_id,
    goal_kind,
    CASE
      WHEN goal_id IN (
        SELECT
          value
        FROM repeated
        WHERE
          "column" = 'goal_id'
      )
      THEN 'goal_id is repeated: each goal once (edit or remove the other row)'
      WHEN goal_id = 'activation'
      THEN 'goal_id activation is reserved for all goals together (marts.goal_conversion)'
      WHEN goal_name IN (
        SELECT
          value
        FROM repeated
        WHERE
          "column" = 'goal_name'
      )
      THEN 'goal_name is repeated: the marts, the report and compare tell goals apart by name'
      WHEN goal_order IS NULL OR goal_order < 1
      THEN 'goal_order must be a whole number from 1'
      WHEN goal_order::TEXT IN (
        SELECT
          value
        FROM repeated
        WHERE
          "column" = 'goal_order'
      )
      THEN 'goal_order is repeated: the funnel adds one goal per step, in goal_order'
      WHEN window_start_day < 0
      THEN 'window_start_day is negative: trial days count from 0, the day of trial_start'
      WHEN window_start_day > window_end_day
      THEN 'window_start_day is after window_end_day'
      WHEN RIGHT(REPLACE(activity_pattern, '\\', ''), 1) = '\'
      THEN 'activity_pattern ends with a lone backslash, which escapes the character after it: write \\ for a backslash'
      WHEN threshold_floor < 0
      THEN 'threshold_floor is negative'
      WHEN goal_kind IN ('window_count', 'active_days')
      AND (
        threshold_percentile IS NULL
      ) = (
        fixed_threshold IS NULL
      )
      THEN 'a window_count or active_days goal needs exactly one of threshold_percentile and fixed_threshold'
      WHEN goal_kind IN ('window_count', 'active_days')
      AND NOT threshold_percentile BETWEEN 0 AND 100
      THEN 'threshold_percentile is not between 0 and 100'
      WHEN goal_kind IN ('window_count', 'active_days') AND NOT baseline_ratio IS NULL
      THEN 'a window_count or active_days goal takes no baseline_ratio'
      WHEN goal_kind = 'steadiness' AND baseline_ratio IS NULL
      THEN 'a steadiness goal needs a baseline_ratio'
      WHEN goal_kind = 'steadiness' AND baseline_ratio < 0
      THEN 'baseline_ratio is negative'
      WHEN goal_kind = 'steadiness'
      AND (
        baseline_start_day IS NULL OR baseline_end_day IS NULL
      )
      THEN 'a steadiness goal needs baseline_start_day and baseline_end_day'
      WHEN goal_kind = 'steadiness' AND baseline_start_day > baseline_end_day
      THEN 'baseline_start_day is after baseline_end_day'
      WHEN goal_kind = 'steadiness'
      AND (
        fallback_start_day IS NULL
      ) <> (
        fallback_end_day IS NULL
      )
      THEN 'fallback_start_day and fallback_end_day go together'
      WHEN goal_kind = 'steadiness' AND fallback_start_day > fallback_end_day
      THEN 'fallback_start_day is after fallback_end_day'
      WHEN goal_kind = 'steadiness'
      AND (
        NOT threshold_percentile IS NULL OR NOT fixed_threshold IS NULL
      )
      THEN 'a steadiness goal takes no threshold_percentile or fixed_threshold'
    END AS broken_rule
  FROM @this_model
)
SELECT
  goal_id,
  goal_kind,
  broken_rule
FROM checked
WHERE
  NOT broken_rule IS NULL
UNION ALL
SELECT
  NULL AS goal_id,
  NULL AS goal_kind,
  'the seed has no goals: add a row per goal to seeds/activation_goals.csv (docs/goals.md)' AS broken_rule
WHERE
  NOT EXISTS(
    SELECT
      1
    FROM @this_model
  )