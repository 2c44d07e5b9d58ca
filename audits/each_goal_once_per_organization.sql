AUDIT (
  name each_goal_once_per_organization
);

/* Each organization has exactly one row per goal of the seed: no goal missing, none repeated.
   Returns the organizations whose goal rows do not match the seed. */
SELECT
  organization_id,
  COUNT(*) AS goal_rows,
  COUNT(DISTINCT goal_id) AS distinct_goals
FROM @this_model
GROUP BY
  organization_id
HAVING
  COUNT(*) <> (
    SELECT
      COUNT(*)
    FROM staging.activation_goals
  )
  OR COUNT(DISTINCT goal_id) <> COUNT(*)