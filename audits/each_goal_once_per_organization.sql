AUDIT (
  name each_goal_once_per_organization
);

/* Each organization has one row per goal of the seed: no goal missing. Returns the organizations
   with another number of goal rows. (A goal repeated in place of a missing one is caught by the
   model's unique_combination_of_columns audit on (organization_id, goal_id), so this audit does not
   count distinct goals again: that was most of its cost over 1.6M rows.) */
SELECT
  organization_id,
  COUNT(*) AS goal_rows
FROM @this_model
GROUP BY
  organization_id
HAVING
  COUNT(*) <> (
    SELECT
      COUNT(*)
    FROM staging.activation_goals
  )