AUDIT (
  name goals_have_threshold
);

/* A goal with a goal-level threshold (every kind but steadiness) whose threshold could not be derived
   (a percentile goal with no converted organization to take it over) would silently fail or pass
   everyone: stop instead. */
SELECT
  goal_id,
  converted_org_count
FROM @this_model
WHERE
  goal_kind <> 'steadiness' AND threshold IS NULL