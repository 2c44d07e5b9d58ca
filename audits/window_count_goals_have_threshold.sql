AUDIT (
  name window_count_goals_have_threshold
);

/* A window_count goal whose threshold could not be derived (a percentile goal with no converted
   organization to take it over) would silently fail or pass everyone: stop instead. */
SELECT
  goal_id,
  converted_org_count
FROM @this_model
WHERE
  goal_kind = 'window_count' AND threshold IS NULL