AUDIT (
  name valid_goal_definitions
);

/* A goal row that the marts could not evaluate unambiguously: returns one row per broken goal. */
SELECT
  goal_id,
  goal_kind
FROM @this_model
WHERE
  window_start_day > window_end_day
  OR goal_id = 'activation' /* the key of all goals together in marts.goal_conversion */
  OR goal_order IS NULL
  OR goal_order < 1
  OR goal_order IN (
    SELECT
      goal_order
    FROM @this_model
    GROUP BY
      goal_order
    HAVING
      COUNT(*) > 1
  ) /* the funnel adds one goal per step, in goal_order */
  OR threshold_floor < 0
  OR (
    goal_kind = 'window_count'
    AND (
      (
        threshold_percentile IS NULL
      ) = (
        fixed_threshold IS NULL
      )
      OR NOT threshold_percentile BETWEEN 0 AND 100
      OR NOT baseline_ratio IS NULL
    )
  )
  OR (
    goal_kind = 'steadiness'
    AND (
      baseline_ratio IS NULL
      OR baseline_ratio < 0
      OR baseline_start_day IS NULL
      OR baseline_end_day IS NULL
      OR baseline_start_day > baseline_end_day
      OR (
        fallback_start_day IS NULL
      ) <> (
        fallback_end_day IS NULL
      )
      OR fallback_start_day > fallback_end_day
      OR NOT threshold_percentile IS NULL
      OR NOT fixed_threshold IS NULL
    )
  )